"""The Diensten's client secrets (diensten/hashers.py): stored as a salted one-iteration PBKDF2, which
is sound for 128 random characters and costs the token request next to nothing; secrets stored
before with 1,000 iterations keep authenticating."""

import base64

import pytest
from django.contrib.auth.hashers import check_password, make_password
from oauthlib.common import Request

from accounts.models import Rol
from diensten.hashers import ClientSecretHasher
from diensten.models import Dienst
from diensten.services import dienst_client_save, dienst_secret_renew
from diensten.validators import DienstValidator

pytestmark = pytest.mark.django_db


@pytest.fixture
def registered():
    dienst, secret = dienst_client_save(
        dienst=Dienst(
            code="osr", naam_nl="OSR", naam_en="OSR", launch_url="https://osr.dienst.example/", enabled=True
        ),
        redirect_uris="https://osr.dienst.example/oidc/callback",
        post_logout_redirect_uris="",
    )
    dienst.rollen.set(Rol.objects.order_by("code")[:1])
    return dienst, secret


def _authenticates(client_id: str, secret: str) -> bool:
    """django-oauth-toolkit's client authentication (HTTP Basic) with the portal's validator."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    request = Request(
        "https://portal.example/o/token/",
        http_method="POST",
        body="grant_type=authorization_code",
        headers={"HTTP_AUTHORIZATION": f"Basic {basic}"},
    )
    return DienstValidator().authenticate_client(request)


def test_a_new_secret_is_stored_salted_with_one_iteration_and_authenticates(registered):
    dienst, secret = registered
    stored = dienst.application.client_secret
    algorithm, iterations, salt, digest = stored.split("$")
    assert (algorithm, iterations) == ("pbkdf2_sha256_client_secret", "1")
    assert secret not in stored and salt and digest
    assert check_password(secret, stored)
    assert _authenticates(dienst.application.client_id, secret)
    assert not _authenticates(dienst.application.client_id, secret[:-1] + ("x" if secret[-1] != "x" else "y"))


def test_a_renewed_secret_gets_one_iteration_and_the_old_one_stops_working(registered):
    dienst, old = registered
    new = dienst_secret_renew(dienst=dienst)
    dienst.application.refresh_from_db()
    assert dienst.application.client_secret.split("$")[1] == "1"
    assert _authenticates(dienst.application.client_id, new)
    assert not _authenticates(dienst.application.client_id, old)


def test_a_secret_stored_with_the_former_1000_iterations_keeps_authenticating(registered):
    dienst, secret = registered
    former = ClientSecretHasher()
    former.iterations = 1000
    application = dienst.application
    # Stored as the hash itself (the field hashes a plain value on save): what the database holds.
    type(application).objects.filter(pk=application.pk).update(
        client_secret=make_password(secret, hasher=former)
    )
    application.refresh_from_db()
    assert application.client_secret.startswith("pbkdf2_sha256_client_secret$1000$")
    assert _authenticates(application.client_id, secret)
    assert not _authenticates(
        application.client_id, secret.upper() if secret != secret.upper() else secret + "x"
    )
