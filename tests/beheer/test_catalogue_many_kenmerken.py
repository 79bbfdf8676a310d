"""A file naming more than a thousand kenmerken that are not hers: one IN query finds the other organisations'
ones (an OR of a thousand iexact lookups made SQLite refuse the query: "Expression tree is too large")."""

import pytest

from beheer.bulk import RoleCatalogue
from tests.factories import KenmerkFactory

pytestmark = pytest.mark.django_db


def test_more_than_a_thousand_unknown_kenmerken_load_and_a_foreign_one_is_recognised(
    beheerder, other_kenmerk
):
    values = [f"ZZ{n:05d}" for n in range(1200)] + [other_kenmerk.waarde.lower()]
    catalogue = RoleCatalogue.load(beheerder=beheerder, kenmerk_values=values)
    assert catalogue.foreign_kenmerken == {other_kenmerk.waarde.upper()}
    _pair, _message, refusal = catalogue.resolve("osr", other_kenmerk.waarde.lower())
    assert refusal.error_code == "kenmerk_other_organisation"
    _pair, _message, refusal = catalogue.resolve("osr", "ZZ00001")
    assert refusal.error_code == "kenmerk_not_own"


def test_her_own_kenmerk_is_not_foreign(beheerder, kenmerk):
    KenmerkFactory()  # another organisation's, not in the file
    catalogue = RoleCatalogue.load(beheerder=beheerder, kenmerk_values=[kenmerk.waarde.lower()])
    assert catalogue.foreign_kenmerken == set()
