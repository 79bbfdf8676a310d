"""Usernames, number formats and organisation rules (design.md §2)."""

import pytest
from django.core.exceptions import ValidationError

from accounts import validators
from accounts.models import USERNAME_ALPHABET, Account, Organisatie, generate_username
from tests.factories import AccountFactory

AMBIGUOUS = set("0O1IL5S2Z8B")


def test_generated_usernames_use_only_unambiguous_characters():
    names = {generate_username() for _ in range(2000)}
    assert len(names) == 2000  # 25**8 possibilities: no collisions in a small sample
    assert all(len(name) == 8 and set(name) <= set(USERNAME_ALPHABET) for name in names)
    assert not AMBIGUOUS & set(USERNAME_ALPHABET)


@pytest.mark.django_db
def test_username_is_generated_not_derived_from_the_name():
    account = Account.objects.create_user(name="Annemarie Jansen", email="a@example.nl")
    assert not any(part.upper()[:3] in account.username for part in ["Annemarie", "Jansen"])
    assert not account.has_usable_password()


@pytest.mark.django_db
def test_username_lookup_is_case_insensitive():
    account = AccountFactory()
    assert Account.objects.get_by_natural_key(account.username.lower()) == account


@pytest.mark.parametrize(
    ("validator", "good", "bad"),
    [
        (validators.validate_instellingscode, ["12AB", "99XX"], ["12ab", "123A", "12ABC", "AB12"]),
        (validators.validate_vestigingscode, ["12AB00"], ["12AB0", "12AB000", "12ab00"]),
        (validators.validate_bestuursnummer, ["12345"], ["1234", "123456", "1234a"]),
        (validators.validate_gemeentecode, ["0363", "0014"], ["363", "03630"]),
        (validators.validate_crediteurnummer, ["12345", "1234567890"], ["1234", "12345678901"]),
        (validators.validate_kvk_nummer, ["12345678"], ["1234567", "123456789"]),
        (validators.validate_rsin, ["123456782", "111222333"], ["123456789", "12345678", "abcdefghi"]),
        (validators.validate_legal_subject_id, ["12345678", "111222333"], ["1234567", "123456789"]),
    ],
)
def test_number_formats(validator, good, bad):
    for value in good:
        validator(value)
    for value in bad:
        with pytest.raises(ValidationError):
            validator(value)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"type": "onderwijsinstelling", "bestuursnummer": "12345"}, "instellingscode"),
        ({"type": "bestuur"}, "bestuursnummer"),
        ({"type": "gemeente"}, "gemeentecode"),
        ({"type": "deurwaarder"}, "crediteurnummer"),
        ({"type": "anders"}, "type_anders"),
    ],
)
@pytest.mark.django_db
def test_each_organisation_type_needs_its_number(fields, field):
    with pytest.raises(ValidationError) as error:
        Organisatie(naam="X", **fields).full_clean()
    assert field in error.value.message_dict
