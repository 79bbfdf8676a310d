"""The token users' import takes only real password hashes of enough work, and only usernames the audit search
finds as they are (security review)."""

import pytest
from django.contrib.auth.hashers import make_password

from accounts.admin_audit import username_normalise
from accounts.models import Account
from accounts.token_users import TokenOutcome, TokenUsersImport, password_hash_check
from tests.accounts.test_token_users import base32_secret, organisatie, planning  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def values(org, **overrides):
    secret, _hex = base32_secret()
    row = {
        "gebruikersnaam": "JKOK01",
        "naam": "Jan Kok",
        "email": "jan@noorderlicht.example",
        "organisatie": org.instellingscode,
        "wachtwoord_hash": make_password("oud-token-wachtwoord-42"),
        "totp_secret": secret,
    }
    row.update(overrides)
    return row


@pytest.mark.parametrize(
    "hasher", ["pbkdf2_sha256_code", "pbkdf2_sha256_client_secret"], ids=["activation", "client_secret"]
)
def test_the_portals_own_hashers_are_refused_per_row_in_dutch(organisatie, hasher):  # noqa: F811
    encoded = make_password("oud-token-wachtwoord-42", hasher=hasher)
    result = TokenUsersImport().row_import(2, values(organisatie, wachtwoord_hash=encoded))
    assert result.outcome == TokenOutcome.ERROR
    assert any("geen wachtwoordhash in een formaat" in error for error in result.errors)
    assert not Account.objects.filter(username="JKOK01").exists()


def test_pbkdf2_with_few_iterations_is_refused_per_row_in_dutch(organisatie):  # noqa: F811
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    encoded = PBKDF2PasswordHasher().encode("oud-token-wachtwoord-42", "somesalt1234", iterations=10_000)
    result = TokenUsersImport().row_import(2, values(organisatie, wachtwoord_hash=encoded))
    assert result.outcome == TokenOutcome.ERROR
    assert any("minder dan 260000 iteraties is te zwak" in error for error in result.errors)


def test_strong_pbkdf2_and_scrypt_hashes_are_accepted():
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    password_hash_check(PBKDF2PasswordHasher().encode("w", "somesalt1234", iterations=260_000))
    password_hash_check(make_password("w", hasher="scrypt"))


@pytest.mark.parametrize("username", ["J-KOK", "JAN-KOK01"])
def test_a_username_the_audit_search_would_change_is_refused(organisatie, username):  # noqa: F811
    assert username_normalise(username) != username
    result = TokenUsersImport().row_import(2, values(organisatie, gebruikersnaam=username))
    assert result.outcome == TokenOutcome.ERROR
    assert any("is geen geldige gebruikersnaam" in error for error in result.errors)


def test_a_username_of_letters_digits_dot_and_underscore_is_imported(organisatie):  # noqa: F811
    result = TokenUsersImport().row_import(2, values(organisatie, gebruikersnaam="j.kok_01"))
    assert result.outcome != TokenOutcome.ERROR, result.errors
    assert username_normalise("J.KOK_01") == "J.KOK_01"
