"""Demo organisations, accounts and eHerkenning personas for the development profile.

The dev broker lists ``PERSONAS`` on its login page, so a newcomer can log in as each of them.
A persona is what an eHerkenning broker would assert: a pseudonym (ActingSubjectID), the KvK-nummer
of the organisation the person acts for (LegalSubjectID) and, for some, the KvK-nummer of the
intermediary they act through (ketenmachtiging) or a restriction of their machtiging to one vestiging.
Every demo state of the README has a persona, so each can be tried in the browser.
"""

import shlex
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Persona:
    key: str
    label: str
    acting_subject_id: str
    legal_subject_id: str
    # urn:etoegang:1.9:IntermediateEntityID:KvKnr: the KvK-nummer of the intermediary organisation
    # through which the person acts (ketenmachtiging); empty when they act for the organisation itself.
    intermediate_entity_id: str = ""
    # urn:etoegang:1.9:ServiceRestriction:Vestigingsnr: the machtiging is restricted to this vestiging
    # (12 digits). The portal refuses it unless EHERKENNING_ACCEPT_VESTIGING is on.
    vestigingsnr: str = ""


ORGANISATIES = [
    # key, fields
    (
        "noorderlicht",
        dict(
            type="bestuur",
            naam="Stichting Openbaar Onderwijs Noorderlicht",
            bestuursnummer="41234",
            kvk_nummer="41012345",
            straat="Kanaalweg",
            huisnummer="12",
            postcode="9711 AB",
            woonplaats="Groningen",
        ),
    ),
    (
        "regenboog",
        dict(
            type="onderwijsinstelling",
            naam="OBS De Regenboog",
            instellingscode="12AB",
            bestuursnummer="41234",
            kvk_nummer="41012345",
            straat="Schoolstraat",
            huisnummer="3",
            postcode="9712 CD",
            woonplaats="Groningen",
        ),
    ),
    (
        "noordercollege",
        dict(
            type="onderwijsinstelling",
            naam="Het Noorder College",
            instellingscode="23CD",
            bestuursnummer="42345",
            kvk_nummer="52012345",
            straat="Collegelaan",
            huisnummer="1",
            postcode="8911 EF",
            woonplaats="Leeuwarden",
        ),
    ),
    (
        "gemeente",
        dict(
            type="gemeente",
            naam="Gemeente Wadwerd",
            gemeentecode="0014",
            kvk_nummer="01012345",
            straat="Raadhuisplein",
            huisnummer="1",
            postcode="9741 GH",
            woonplaats="Wadwerd",
        ),
    ),
    (
        "deurwaarder",
        dict(
            type="deurwaarder",
            naam="Gerechtsdeurwaarders Van Dijk",
            crediteurnummer="123456",
            kvk_nummer="70012345",
            straat="Herestraat",
            huisnummer="99",
            postcode="9711 LM",
            woonplaats="Groningen",
        ),
    ),
]

KENMERKEN = [
    # organisation key, kenmerk type, value, description
    ("noorderlicht", "bestuursnummer", "41234", "Stichting Noorderlicht"),
    ("regenboog", "instellingscode", "12AB", "OBS De Regenboog"),
    ("regenboog", "vestigingscode", "12AB00", "Hoofdvestiging"),
    ("regenboog", "vestigingscode", "12AB01", "Dependance Oosterpark"),
    ("regenboog", "bestuursnummer", "41234", "Stichting Noorderlicht"),
    ("noordercollege", "instellingscode", "23CD", "Het Noorder College"),
    ("noordercollege", "vestigingscode", "23CD00", "Hoofdvestiging"),
    ("noordercollege", "bestuursnummer", "42345", "Stichting VO Noord"),
    ("gemeente", "gemeentecode", "0014", "Gemeente Wadwerd"),
    ("gemeente", "rmc_regio", "22", "RMC-regio Noord"),
    ("deurwaarder", "crediteurnummer", "123456", "Van Dijk"),
]

# key, organisation, name, job title, e-mail, beheerautorisaties, roles (rol code, kenmerk value), state
ACCOUNTS = [
    (
        "anna",
        "regenboog",
        "Anna de Vries",
        "Directeur",
        "anna@regenboog.example",
        ["po"],
        [("osr", "12AB")],
        "linked",
    ),
    (
        "bram",
        "noordercollege",
        "Bram Jansen",
        "Teamleider administratie",
        "bram@noordercollege.example",
        ["vo", "bekostiging", "rio_algemeen"],
        [],
        "code_sent",
    ),
    (
        "carla",
        "gemeente",
        "Carla Smit",
        "Leerplichtambtenaar",
        "carla@wadwerd.example",
        ["gemeente"],
        [("rmc", "22")],
        "linked",
    ),
    (
        "dirk",
        "regenboog",
        "Dirk Visser",
        "Administrateur",
        "dirk@regenboog.example",
        [],
        [("osr", "12AB"), ("po_informatiediensten", "12AB00")],
        "linked",
    ),
    (
        "eva",
        "regenboog",
        "Eva Bakker",
        "Intern begeleider",
        "eva@regenboog.example",
        [],
        [("osr", "12AB01")],
        "registered",
    ),
    (
        "fatima",
        "noordercollege",
        "Fatima el Amrani",
        "Examensecretaris",
        "fatima@noordercollege.example",
        [],
        [("examensecretaris", "23CD")],
        "code_sent",
    ),
    (
        "gert",
        "noordercollege",
        "Gert Mulder",
        "Verzuimcoördinator",
        "gert@noordercollege.example",
        [],
        [("verzuimmelder", "23CD00")],
        "blocked",
    ),
    ("hanna", "gemeente", "Hanna Vos", "Consulent", "hanna@wadwerd.example", [], [], "removed"),
    (
        "ivo",
        "gemeente",
        "Ivo de Boer",
        "RMC-coördinator",
        "ivo@wadwerd.example",
        [],
        [("rmc", "22")],
        "unlinked",
    ),
    (
        "jan",
        "noorderlicht",
        "Jan Kok",
        "Controller",
        "jan@noorderlicht.example",
        [],
        [("medewerker_bekostiging", "41234")],
        "token",
    ),
    (
        "karin",
        "gemeente",
        "Karin Mol",
        "Medewerker leerplicht (Regionaal Bureau Leerplicht Noord)",
        "karin@rblnoord.example",
        [],
        [("verzuimloket", "0014")],
        "linked",
    ),
    (
        "lotte",
        "noordercollege",
        "Lotte Dekker",
        "Conciërge-administratie",
        "lotte@noordercollege.example",
        [],
        [("verzuimmelder", "23CD00")],
        "linked",
    ),
]

# The intermediary of the ketenmachtiging persona: an organisation that handles leerplicht for the
# gemeente. It has no account in the portal; the link records it (Koppeling.intermediate_entity_id).
INTERMEDIARY_KVK = "69012345"
INTERMEDIARY_NAME = "Regionaal Bureau Leerplicht Noord"

PERSONAS = [
    Persona(
        "anna",
        "Anna de Vries — beheerder PO, OBS De Regenboog (gekoppeld)",
        "demo-pseudonym-anna",
        "41012345",
    ),
    Persona(
        "carla",
        "Carla Smit — beheerder Gemeente, Gemeente Wadwerd (gekoppeld)",
        "demo-pseudonym-carla",
        "01012345",
    ),
    Persona(
        "dirk", "Dirk Visser — gebruiker, OBS De Regenboog (gekoppeld)", "demo-pseudonym-dirk", "41012345"
    ),
    Persona(
        "bram",
        "Bram Jansen — beheerder VO, Het Noorder College (nog niet gekoppeld)",
        "demo-pseudonym-bram",
        "52012345",
    ),
    Persona(
        "fatima",
        "Fatima el Amrani — gebruiker, Het Noorder College (nog niet gekoppeld)",
        "demo-pseudonym-fatima",
        "52012345",
    ),
    Persona(
        "eva", "Eva Bakker — gebruiker, OBS De Regenboog (nog geen code)", "demo-pseudonym-eva", "41012345"
    ),
    Persona(
        "ivo",
        "Ivo de Boer — gebruiker, Gemeente Wadwerd (koppeling ongedaan gemaakt)",
        "demo-pseudonym-ivo-new",
        "01012345",
    ),
    Persona(
        "gert",
        "Gert Mulder — gebruiker, Het Noorder College (koppelen geblokkeerd: te vaak een verkeerde code)",
        "demo-pseudonym-gert",
        "52012345",
    ),
    Persona(
        "hanna",
        "Hanna Vos — Gemeente Wadwerd (account verwijderd, koppeling bestaat nog: geweigerd)",
        "demo-pseudonym-hanna",
        "01012345",
    ),
    Persona(
        "jan",
        "Jan Kok — tokengebruiker, Stichting Noorderlicht (token op /token/; nog niet gekoppeld)",
        "demo-pseudonym-jan",
        "41012345",
    ),
    Persona(
        "karin",
        "Karin Mol — Gemeente Wadwerd via Regionaal Bureau Leerplicht Noord (ketenmachtiging, gekoppeld)",
        "demo-pseudonym-karin",
        "01012345",
        intermediate_entity_id=INTERMEDIARY_KVK,
    ),
    Persona(
        "lotte",
        "Lotte Dekker — Het Noorder College, machtiging voor één vestiging (Vestigingsnr: geweigerd)",
        "demo-pseudonym-lotte",
        "52012345",
        vestigingsnr="000012345678",
    ),
    Persona("stranger", "Onbekende medewerker — andere organisatie", "demo-pseudonym-stranger", "99012345"),
]

TOKEN_DEMO_PASSWORD = "demo-token-wachtwoord"  # noqa: S105  (development profile only)

HELPDESK_USERNAME = "HELPDESK"
HELPDESK_PASSWORD = "demo-helpdesk-wachtwoord"  # noqa: S105  (development profile only)
HELPDESK_TOTP_KEY = "3132333435363738393031323334353637383930"  # RFC 6238 test key, demo only


def manage_command(*args: str) -> str:
    """The line to type for a development command, as demo_data prints it: with the MIJNDUO_DEV_DIR of
    this run when it is not the default, because every command must get the one `make run` used."""
    from django.conf import settings

    line = "DJANGO_ENV=development .venv/bin/python manage.py " + shlex.join(args)
    if settings.DEV_DATA_DIR != Path.home() / ".local/share/mijnduo":
        line = f"MIJNDUO_DEV_DIR={shlex.quote(str(settings.DEV_DATA_DIR))} {line}"
    return line
