"""Every id reference in the portal's HTML points at an element of the same page (WCAG 1.3.1, 4.1.2).

``aria-describedby`` that names a missing id means the help text or error is never read out (issue 17:
the e-mail and kenmerk fields pointed at ``id_email_helptext`` while the text had ``email-help``). The
pages are rendered as users get them — with and without errors — and every ``aria-describedby``,
``aria-labelledby``, ``aria-controls``, ``<label for>`` and in-page link is checked, and no id is used twice.
"""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from tests.factories import AccountFactory, KenmerkFactory, KoppelingFactory, beheerder_create, grant_rol
from tests.koppeling.conftest import identity_for, identity_put, walk_to_koppel

pytestmark = pytest.mark.django_db

REFERENCE_ATTRIBUTES = ("aria-describedby", "aria-labelledby", "aria-controls", "aria-owns", "for")


class References(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.references: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.append(attributes["id"])
        for name in REFERENCE_ATTRIBUTES:
            for target in (attributes.get(name) or "").split():
                self.references.append((tag, name, target))
        href = attributes.get("href") or ""
        if tag == "a" and href.startswith("#") and len(href) > 1:
            self.references.append((tag, "href", href[1:]))


def broken_references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    ids = set(parser.ids)
    problems = [
        f"<{tag} {name}> → #{target} does not exist"
        for tag, name, target in parser.references
        if target not in ids
    ]
    problems += [f"id {value!r} is used twice" for value in sorted(ids) if parser.ids.count(value) > 1]
    return problems


def check(response, name: str, problems: dict) -> None:
    assert response.status_code < 500, name
    found = broken_references(response.content.decode())
    if found:
        problems[name] = found


def test_the_checker_finds_a_dangling_aria_describedby():
    html = '<label for="id_email">E-mail</label><input id="id_email" aria-describedby="id_email_helptext"><span id="email-help">x</span>'
    assert broken_references(html) == ["<input aria-describedby> → #id_email_helptext does not exist"]


def test_every_id_reference_on_the_portal_pages_exists(client):
    problems: dict[str, list[str]] = {}

    for path in ("/", "/toegankelijkheid/", "/gebruiksvoorwaarden/", "/uitgelogd/", "/token/"):
        check(client.get(path), path, problems)
    check(client.post("/token/", {}), "token login with errors", problems)
    check(client.get("/bestaat-niet/"), "not found", problems)
    check(client.get("/saml2/acs/"), "ACS without a message", problems)

    # The koppel wizard, each step with its errors.
    wizard = client.__class__()
    identity_put(wizard, identity_for(pseudonym="pseudonym-references"))
    check(wizard.get(reverse("koppeling:start")), "wizard start", problems)
    check(wizard.post(reverse("koppeling:start"), {}), "wizard start with errors", problems)
    walk_to_koppel(wizard)
    check(wizard.post(reverse("koppeling:disclaimer"), {}), "disclaimer with errors", problems)
    check(wizard.post(reverse("koppeling:voorwaarden"), {}), "voorwaarden with errors", problems)
    check(wizard.get(reverse("koppeling:koppel")), "koppel", problems)
    check(wizard.post(reverse("koppeling:koppel"), {}), "koppel with errors", problems)
    check(
        wizard.post(
            reverse("koppeling:koppel"), {"username": "QQQQQQQQ", "activation_code": "AAAA-BBBB-CCCC"}
        ),
        "koppel failed",
        problems,
    )

    # A user's pages.
    beheerder = beheerder_create("vo", name="Bea Beheer")
    kenmerk = KenmerkFactory(organisatie=beheerder.organisatie, waarde=beheerder.organisatie.instellingscode)
    grant_rol(beheerder, "osr", kenmerk)
    client.force_login(beheerder)
    for path in ("/overzicht/", "/onderwerpen/osr/", "/mijn-gegevens/"):
        check(client.get(path), path, problems)
    check(
        client.post("/mijn-gegevens/", {"name": "", "email": "geen-adres"}),
        "mijn gegevens with errors",
        problems,
    )

    # Autorisatiebeheer.
    gebruiker = AccountFactory(organisatie=beheerder.organisatie, name="Gijs Gebruiker")
    grant_rol(gebruiker, "osr", kenmerk)
    KoppelingFactory(account=gebruiker)
    pages = {
        "beheer list": reverse("beheer:gebruikers"),
        "beheer list filtered": reverse("beheer:gebruikers") + "?q=Gijs&status=onbekend",
        "beheer user": reverse("beheer:gebruiker", args=[gebruiker.pk]),
        "beheer register": reverse("beheer:gebruiker_aanmelden"),
        "beheer change": reverse("beheer:gebruiker_wijzigen", args=[gebruiker.pk]),
        "beheer unlink": reverse("beheer:koppeling_ongedaan_maken", args=[gebruiker.pk]),
        "beheer remove": reverse("beheer:gebruiker_verwijderen", args=[gebruiker.pk]),
    }
    for name, path in pages.items():
        check(client.get(path), name, problems)
    check(
        client.post(pages["beheer register"], {"name": "", "email": "x"}),
        "beheer register with errors",
        problems,
    )
    check(
        client.post(pages["beheer change"], {"name": "", "email": "x"}), "beheer change with errors", problems
    )
    check(
        client.post(reverse("beheer:rol_toekennen", args=[gebruiker.pk]), {"rol": "", "kenmerk": ""}),
        "beheer role with errors",
        problems,
    )
    check(client.post(pages["beheer unlink"], {}), "beheer unlink with errors", problems)

    assert not problems, "\n".join(f"{name}:\n  " + "\n  ".join(found) for name, found in problems.items())
