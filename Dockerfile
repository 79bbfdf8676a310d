# Production image for web (gunicorn), worker and beat. Stateless: all state is in PostgreSQL/Redis.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 DJANGO_ENV=production

RUN apt-get update \
    && apt-get install -y --no-install-recommends xmlsec1 gettext libpq5 fonts-dejavu-core \
       libxml2 libxslt1.1 libxmlsec1 libxmlsec1-openssl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml ./
# lxml and xmlsec are built from source against Debian's libxml2/libxmlsec1 (as scripts/setup.sh does):
# their binary wheels bundle different libxml2 versions, which the xmlsec bindings refuse to mix.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc pkg-config libxml2-dev libxslt1-dev libxmlsec1-dev \
    && pip install --upgrade pip \
    && pip install --no-binary lxml,xmlsec . \
    && apt-get purge -y --auto-remove gcc pkg-config libxml2-dev libxslt1-dev libxmlsec1-dev \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN scripts/messages.sh \
    && DJANGO_SECRET_KEY=build-only-build-only-build-only-build-only-build-only \
       SITE_URL=https://build.invalid DJANGO_ENV=test STATIC_MANIFEST=1 python manage.py collectstatic --noinput -v 0 \
    && useradd --system --uid 10001 --home /app mijnduo

USER mijnduo
EXPOSE 8000
CMD ["gunicorn", "mijnduo.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
