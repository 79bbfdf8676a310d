"""Helpers for the koppel tests: an eHerkenning identity in the session, the wizard walked to a step."""

from dataclasses import asdict

import pytest
from django.urls import reverse

from koppeling.identity import SESSION_KEY, EHerkenningIdentity
from koppeling.services import activation_code_issue
from tests.factories import AccountFactory

LOA3 = "urn:etoegang:core:assurance-class:loa3"
# The OAuth2 client secrets' hasher stays in both: demo_data registers the demo Dienst's client.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", "diensten.hashers.ClientSecretHasher"]
REAL_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "koppeling.hashers.ActivationCodeHasher",
    "diensten.hashers.ClientSecretHasher",
]


@pytest.fixture(autouse=True)
def fast_hashers(settings):
    """Salted MD5 keeps the many code checks fast; ``real_hashers`` restores production hashing."""
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def real_hashers(settings, fast_hashers):
    settings.PASSWORD_HASHERS = REAL_HASHERS


def identity_for(account=None, *, pseudonym: str = "pseudonym-test", legal_subject_id: str | None = None):
    legal = legal_subject_id or (account.organisatie.kvk_nummer if account is not None else "99999999")
    return EHerkenningIdentity(acting_subject_id=pseudonym, legal_subject_id=legal, level=LOA3)


def identity_put(client, identity: EHerkenningIdentity) -> None:
    """Store ``identity`` in the test client's session, as the SAML ACS does after a verified login."""
    session = client.session
    session[SESSION_KEY] = asdict(identity)
    session.save()


def walk_to_koppel(client) -> None:
    """Pass Voordat u begint, Disclaimer and Gebruikersvoorwaarden."""
    assert client.post(reverse("koppeling:start"), {"situation": "yes"}).status_code == 302
    assert client.post(reverse("koppeling:disclaimer"), {"accept": "on"}).status_code == 302
    assert client.post(reverse("koppeling:voorwaarden"), {"accept": "on"}).status_code == 302


def koppel_post(client, username: str, code: str):
    return client.post(reverse("koppeling:koppel"), {"username": username, "activation_code": code})


@pytest.fixture
def account(db):
    return AccountFactory()


@pytest.fixture
def code(account):
    return activation_code_issue(account=account)


@pytest.fixture
def identity(account):
    return identity_for(account)


@pytest.fixture
def at_koppel(client, identity):
    """A client with the identity in its session and the wizard at the koppel step."""
    identity_put(client, identity)
    walk_to_koppel(client)
    return client
