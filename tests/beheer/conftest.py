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


@pytest.fixture
def after_each_chunk(monkeypatch):
    """Run a file of users in chunks of ``size`` rows and call ``then(number)`` after each chunk's rows
    were written, inside the chunk's transaction (``number`` counts the chunks from 1): what a helpdesk
    change or another worker does between two chunks."""
    from beheer import bulk

    def install(then, *, size: int) -> None:
        monkeypatch.setattr(bulk, "RUN_CHUNK", size)
        original = bulk._register_chunk
        calls = 0

        def register_then(**kwargs):
            nonlocal calls
            results = original(**kwargs)
            calls += 1
            then(calls)
            return results

        monkeypatch.setattr(bulk, "_register_chunk", register_then)

    return install
