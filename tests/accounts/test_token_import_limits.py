"""The token users' import takes only real password hashes of enough work, and only usernames the audit search
finds as they are (security review)."""

import pytest
from django.contrib.auth.hashers import make_password

from accounts.admin_audit import username_normalise
from accounts.models import Account
from accounts.token_users import TokenOutcome, TokenUsersImport, password_hash_check
from tests.accounts.test_token_users import organisatie, planning, row  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "hasher", ["pbkdf2_sha256_code", "pbkdf2_sha256_client_secret"], ids=["activation", "client_secret"]
)
def test_the_portals_own_hashers_are_refused_per_row_in_dutch(organisatie, hasher):  # noqa: F811
    encoded = make_password("oud-token-wachtwoord-42", hasher=hasher)
    result = TokenUsersImport().row_import(2, row(organisatie, wachtwoord_hash=encoded))
    assert result.outcome == TokenOutcome.ERROR
    assert any("geen wachtwoordhash in een formaat" in error for error in result.errors)
    assert not Account.objects.filter(username="JKOK01").exists()


def test_pbkdf2_with_few_iterations_is_refused_per_row_in_dutch(organisatie):  # noqa: F811
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    encoded = PBKDF2PasswordHasher().encode("oud-token-wachtwoord-42", "somesalt1234", iterations=10_000)
    result = TokenUsersImport().row_import(2, row(organisatie, wachtwoord_hash=encoded))
    assert result.outcome == TokenOutcome.ERROR
    assert any("minder dan 260000 iteraties is te zwak" in error for error in result.errors)


def test_strong_pbkdf2_and_scrypt_hashes_are_accepted():
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    password_hash_check(PBKDF2PasswordHasher().encode("w", "somesalt1234", iterations=260_000))
    password_hash_check(make_password("w", hasher="scrypt"))


# Made by argon2-cffi's own PasswordHasher (its defaults, and a weak setting), not by this portal.
ARGON2ID_DEFAULT = (
    "argon2$argon2id$v=19$m=65536,t=3,p=4$bm9vcmRlcmxpY2h0LXNhbHQ$K618fgExfkVICkZhEGRs85oXLcNcB4XiMnvfuZy3s3s"
)
ARGON2ID_WEAK = (
    "argon2$argon2id$v=19$m=8,t=1,p=1$bm9vcmRlcmxpY2h0LXNhbHQ$0lfTfRL1ZnxaiZtwW16f8P1tMMEhV3cWfJvSvWzmWUo"
)


def test_an_argon2_hash_of_the_old_system_is_imported_and_its_password_works(organisatie):  # noqa: F811
    result = TokenUsersImport().row_import(2, row(organisatie, wachtwoord_hash=ARGON2ID_DEFAULT))
    assert result.outcome == TokenOutcome.NEW, result.errors
    account = Account.objects.get(username="JKOK01")
    assert account.check_password("oud-token-wachtwoord-42")
    assert not account.check_password("een-ander-wachtwoord")


@pytest.mark.parametrize(
    "encoded",
    [ARGON2ID_WEAK, "scrypt$16384$salt1234$1$1$" + "A" * 88],
    ids=["argon2-8KiB-1-pass", "scrypt-r1"],
)
def test_argon2_and_scrypt_hashes_of_too_little_work_are_refused_in_dutch(organisatie, encoded):  # noqa: F811
    result = TokenUsersImport().row_import(2, row(organisatie, wachtwoord_hash=encoded))
    assert result.outcome == TokenOutcome.ERROR
    assert any("deze hash is te zwak" in error for error in result.errors), result.errors
    assert not Account.objects.filter(username="JKOK01").exists()


@pytest.mark.parametrize("username", ["J-KOK", "JAN-KOK01"])
def test_a_username_the_audit_search_would_change_is_refused(organisatie, username):  # noqa: F811
    assert username_normalise(username) != username
    result = TokenUsersImport().row_import(2, row(organisatie, gebruikersnaam=username))
    assert result.outcome == TokenOutcome.ERROR
    assert any("is geen geldige gebruikersnaam" in error for error in result.errors)


def test_a_username_of_letters_digits_dot_and_underscore_is_imported(organisatie):  # noqa: F811
    result = TokenUsersImport().row_import(2, row(organisatie, gebruikersnaam="j.kok_01"))
    assert result.outcome != TokenOutcome.ERROR, result.errors
    assert username_normalise("J.KOK_01") == "J.KOK_01"
