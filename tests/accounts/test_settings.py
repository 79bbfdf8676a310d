"""Production settings refuse unsafe configurations and pass `check --deploy` (design.md §5, §6)."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

IDP_METADATA = """<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://broker.example.nl/idp">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>
      <ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
      Location="https://broker.example.nl/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"""


@pytest.fixture(scope="module")
def production_env(tmp_path_factory):
    directory = tmp_path_factory.mktemp("prod")
    key, cert = directory / "sp.key", directory / "sp.crt"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "365",  # more than EHERKENNING_CERT_WARN_DAYS: a certificate near expiry is a check warning
            "-subj",
            "/CN=sp.example.nl",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    body = "".join(line for line in cert.read_text().splitlines() if "CERTIFICATE" not in line)
    metadata = directory / "idp.xml"
    metadata.write_text(IDP_METADATA.format(cert=body))
    env = {
        key_: value
        for key_, value in os.environ.items()
        if not key_.startswith(("DJANGO_", "EHERKENNING_", "DEV_", "CELERY_")) and key_ != "SITE_URL"
    }
    env.update(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        SITE_URL="https://zakelijk.example.nl",
        DJANGO_ALLOWED_HOSTS="zakelijk.example.nl",
        EHERKENNING_IDP_METADATA=str(metadata),
        EHERKENNING_SP_KEY_FILE=str(key),
        EHERKENNING_SP_CERT_FILE=str(cert),
        EHERKENNING_DEV_BROKER="0",
        # The OpenID Connect signing key (diensten): any RSA key will do for these checks.
        OIDC_RSA_PRIVATE_KEY_FILE=str(key),
    )
    return env


def run_manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_with_production_settings_gives_no_warnings(production_env):
    result = run_manage(production_env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "insecure-development-key-never-use-in-production"}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_DEBUG": "1"}, "DJANGO_DEBUG is on"),
        ({"EHERKENNING_DEV_BROKER": "1"}, "EHERKENNING_DEV_BROKER is on"),
        ({"DEV_MAILBOX": "1"}, "DEV_MAILBOX is on"),
        ({"SITE_URL": "http://zakelijk.example.nl"}, "https://"),
    ],
)
def test_production_refuses_to_start_with_unsafe_settings(production_env, override, problem):
    env = {**production_env, **override}
    if override.get("DJANGO_SECRET_KEY") == "":
        env.pop("DJANGO_SECRET_KEY")
    result = run_manage(env, "check")
    assert result.returncode != 0
    assert "Refusing to start with production settings" in result.stderr
    assert problem in result.stderr


def test_production_has_no_dev_mailbox_or_dev_broker_urls(production_env):
    code = (
        "import django; django.setup(); from django.urls import resolve, Resolver404\n"
        "for path in ('/dev/mail/', '/dev/broker/'):\n"
        "    try:\n        resolve(path); print('FOUND', path)\n"
        "    except Resolver404:\n        print('absent', path)\n"
    )
    env = {**production_env, "DJANGO_SETTINGS_MODULE": "mijnduo.settings"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "FOUND" not in result.stdout
    assert result.stdout.count("absent") == 2


def test_production_login_cookie_is_lax_and_only_the_saml_cookie_is_cross_site(production_env):
    code = (
        "import django; django.setup(); from django.conf import settings as s\n"
        "print(s.SESSION_COOKIE_SAMESITE, s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_NAME)\n"
        "print(s.SAML_SESSION_COOKIE_SAMESITE, s.SAML_SESSION_COOKIE_NAME)\n"
    )
    env = {**production_env, "DJANGO_SETTINGS_MODULE": "mijnduo.settings"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    login_cookie, saml_cookie = result.stdout.split("\n")[:2]
    assert login_cookie == "Lax True __Host-sessionid"
    assert saml_cookie == "None __Host-saml_session"  # __Host- cookies are always Secure
