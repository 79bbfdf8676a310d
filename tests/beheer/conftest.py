import pytest

from tests.factories import (
    AccountFactory,
    KenmerkFactory,
    OrganisatieFactory,
    beheerder_create,
    kenmerk_type,
)


@pytest.fixture
def organisatie(db):
    return OrganisatieFactory(naam="Het Noorderlicht College")


@pytest.fixture
def beheerder(organisatie):
    """A Beheerder VO: may hand out BRON-VO, OSR, Mijn Diploma's, examensecretaris, verzuimmelder."""
    return beheerder_create("vo", organisatie=organisatie, name="Bea Beheer")


@pytest.fixture
def kenmerk(organisatie):
    return KenmerkFactory(organisatie=organisatie, waarde=organisatie.instellingscode)


@pytest.fixture
def gebruiker(organisatie):
    return AccountFactory(organisatie=organisatie, name="Gijs Gebruiker", email="gijs@school.example")


@pytest.fixture
def other_organisatie(db):
    return OrganisatieFactory(naam="De Andere School")


@pytest.fixture
def other_gebruiker(other_organisatie):
    return AccountFactory(organisatie=other_organisatie, name="Olga Ander")


@pytest.fixture
def other_kenmerk(other_organisatie):
    return KenmerkFactory(organisatie=other_organisatie, waarde=other_organisatie.instellingscode)


@pytest.fixture
def beheer_client(client, beheerder):
    client.force_login(beheerder)
    return client


def gemeentecode_type():
    return kenmerk_type("gemeentecode")
