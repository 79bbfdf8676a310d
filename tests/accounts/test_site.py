"""Base pages: Dutch first with an English switch, accessibility basics, health check, dev mailbox."""

import email
from email import policy

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.test import RequestFactory, override_settings

from accounts import views
from accounts.devmail import DevMailboxBackend

pytestmark = pytest.mark.django_db


def test_home_is_dutch_with_lang_skip_link_and_eherkenning_login(client):
    response = client.get("/")
    content = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="nl">' in content
    assert 'href="#main"' in content and 'id="main"' in content
    assert "Inloggen met eHerkenning" in content
    assert 'href="/saml2/login/"' in content
    assert "Rijksoverheid" not in content


def test_language_switch_gives_english(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"}, follow=True)
    content = response.content.decode()
    assert '<html lang="en">' in content
    assert "Log in with eHerkenning" in content


def test_accessibility_statement_exists(client):
    response = client.get("/toegankelijkheid/")
    assert response.status_code == 200
    assert "Toegankelijkheidsverklaring" in response.content.decode()


def test_security_headers_are_set(client):
    response = client.get("/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert len(response["X-Request-ID"]) >= 16


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok", "warnings": []}


def test_healthz_is_503_when_redis_is_unreachable(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"].startswith("error")
    assert response.json()["database"] == "ok"


def test_dev_mailbox_is_absent_in_the_test_and_production_profiles(client):
    assert client.get("/dev/mail/").status_code == 404


def test_dev_mailbox_shows_sent_mail(tmp_path):
    with override_settings(DEV_MAIL_DIR=tmp_path, DEV_MAILBOX_ENABLED=True):
        DevMailboxBackend().send_messages(
            [EmailMessage("Uw activatiecode", "Hallo", "a@x.example", ["b@y.example"])]
        )
        [path] = tmp_path.glob("*.eml")
        assert (
            email.message_from_bytes(path.read_bytes(), policy=policy.default)["Subject"]
            == "Uw activatiecode"
        )
        request = RequestFactory().get("/dev/mail/")
        request.user = None
        listing = views.dev_mail_list(request).content.decode()
        assert "Uw activatiecode" in listing and "b@y.example" in listing
        detail = views.dev_mail_detail(RequestFactory().get("/"), path.stem).content.decode()
        assert "Hallo" in detail


def test_dev_mailbox_refuses_path_traversal(tmp_path):
    from django.http import Http404

    with override_settings(DEV_MAIL_DIR=tmp_path, DEV_MAILBOX_ENABLED=True), pytest.raises(Http404):
        views.dev_mail_detail(RequestFactory().get("/"), "../../etc/passwd")


def test_locmem_backend_is_used_in_tests():
    assert mail.outbox == []
