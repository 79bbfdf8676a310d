# Production image for web (gunicorn), worker and beat. Stateless: all state is in PostgreSQL/Redis.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DJANGO_ENV=production

RUN apt-get update \
    && apt-get install -y --no-install-recommends xmlsec1 gettext libpq5 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml ./
RUN pip install --upgrade pip && pip install .
COPY . .
RUN scripts/messages.sh \
    && DJANGO_SECRET_KEY=build-only-build-only-build-only-build-only-build-only \
       SITE_URL=https://build.invalid DJANGO_ENV=test STATIC_MANIFEST=1 python manage.py collectstatic --noinput -v 0 \
    && useradd --system --uid 10001 --home /app mijnduo

USER mijnduo
EXPOSE 8000
CMD ["gunicorn", "mijnduo.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
