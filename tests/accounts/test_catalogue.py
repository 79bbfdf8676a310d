"""The shipped catalogue, checked item by item against the text of seed 003."""

import re
import unicodedata
from pathlib import Path

import pytest

from accounts.catalogue import BEHEERAUTORISATIES_V1, ROLLEN_V1
from accounts.models import Beheerautorisatie, Rol

SEED = Path(__file__).resolve().parents[3] / "shared" / "seeds" / "003_ae9138f59f598d32.txt"
if not SEED.exists():  # the repository checked out somewhere else, with ../shared beside it
    SEED = Path(__file__).resolve().parents[2].parent / "shared" / "seeds" / "003_ae9138f59f598d32.txt"


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\ufffd", "")
    text = re.sub(r"[\u00ad\u2010-\u2015]", "-", text)
    text = re.sub(r"-\s+(?=[a-z])", "-", text)  # words hyphenated across a line break
    return re.sub(r"\s+", " ", text).strip().lower()


@pytest.fixture(scope="module")
def explanation() -> str:
    text = SEED.read_text(encoding="utf-8")
    start = text.index("Bij 3 Beheerautorisaties")
    end = text.index("Bij 5 Ondertekening")
    return normalise(text[start:end])


def paragraph(explanation: str, name: str) -> str:
    """The seed's bullet for one beheerautorisatie: from its name up to the next bullet."""
    start = explanation.index(normalise(name) + ":")
    following = explanation.find("• ", start)
    return explanation[start : following if following != -1 else None]


def test_seed_is_present():
    assert SEED.exists(), f"seed 003 not found at {SEED}"


def test_the_14_beheerautorisaties_of_the_form_ship_in_order(db):
    names = list(Beheerautorisatie.objects.order_by("volgorde").values_list("naam", flat=True))
    assert len(names) == 14
    assert names == [item[0] for item in BEHEERAUTORISATIES_V1.values()]


@pytest.mark.parametrize("code", list(BEHEERAUTORISATIES_V1))
def test_beheerautorisatie_name_is_explained_in_the_seed(code, explanation):
    naam = BEHEERAUTORISATIES_V1[code][0]
    assert normalise(naam) + ":" in explanation


@pytest.mark.parametrize(
    ("code", "rol_code"),
    [(code, rol) for code, item in BEHEERAUTORISATIES_V1.items() for rol in item[1]],
)
def test_each_rol_is_named_in_its_beheerautorisaties_seed_paragraph(code, rol_code, explanation, db):
    seed_words = ROLLEN_V1[rol_code][3]
    text = paragraph(explanation, BEHEERAUTORISATIES_V1[code][0])
    assert normalise(seed_words) in text, f"{rol_code!r} not in the seed paragraph of {code!r}"
    item = Beheerautorisatie.objects.get(code=code)
    assert item.rollen.filter(code=rol_code).exists()


def test_every_shipped_rol_can_be_handed_out_by_some_beheerautorisatie(db):
    assert not Rol.objects.filter(beheerautorisaties__isnull=True).exists()
    assert Rol.objects.count() == len(ROLLEN_V1)


@pytest.mark.parametrize(
    ("code", "requires", "phrase"),
    [
        (
            "rio_algemeen",
            {"po", "vo", "bve", "ho"},
            "beheerder po/vo/mbo/ho rol ook nodig, inclusief een bestuursnummer",
        ),
        (
            "rio_selfservice",
            {"po", "vo", "bve", "ho"},
            "beheerder po/vo/mbo/ho rol ook nodig, inclusief een bestuursnummer",
        ),
        (
            "rio_opleidingseenheid",
            {"bve", "ho"},
            "beheerder mbo/ho rol ook nodig, inclusief een bestuursnummer",
        ),
    ],
)
def test_rio_prerequisites_follow_the_seed(code, requires, phrase, explanation, db):
    item = Beheerautorisatie.objects.get(code=code)
    assert phrase in paragraph(explanation, item.naam)
    assert set(item.requires_one_of.values_list("code", flat=True)) == requires
    assert item.requires_bestuursnummer


def test_other_beheerautorisaties_have_no_prerequisites(db):
    free = Beheerautorisatie.objects.exclude(code__startswith="rio_")
    assert all(not item.requires_bestuursnummer and not item.requires_one_of.exists() for item in free)
