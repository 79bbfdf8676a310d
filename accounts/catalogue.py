"""The catalogue of beheerautorisaties, rollen and kenmerk types, as it ships (seed 003).

Version 1 is loaded by migration ``0002_catalogue``; the helpdesk edits the catalogue in the admin
afterwards. A later change to what ships goes in a new constant and a new data migration, so that
this one keeps meaning what it meant. ``tests/accounts/test_catalogue.py`` checks every item against
the text of seed 003: each beheerautorisatie's name, and for each rol the words of the seed's
explanation ("Bij 3 Beheerautorisaties") that name it (``seed``).
"""

KENMERK_TYPES_V1 = [
    # code, name, format example
    ("instellingscode", "Instellingscode", "12AB"),
    ("vestigingscode", "Vestigingscode", "12AB00"),
    ("bestuursnummer", "Bestuursnummer", "12345"),
    ("gemeentecode", "Gemeentecode", "0363"),
    ("rmc_regio", "RMC-regiocode", "22"),
    ("crediteurnummer", "Crediteurnummer", "123456"),
    ("kvk_nummer", "KvK-nummer", "12345678"),
]

_SCHOOL = ["instellingscode", "vestigingscode"]
_BESTUUR = ["bestuursnummer", "instellingscode"]

# code: (name, Onderwerp (the DUO service it opens), kenmerk types, seed words)
ROLLEN_V1 = {
    "osr": (
        "Onderwijs Service Register (OSR)",
        "Onderwijs Service Register",
        _SCHOOL + ["bestuursnummer"],
        "Onderwijs Service Register (OSR)",
    ),
    "po_informatiediensten": (
        "PO-informatiediensten",
        "Prestaties schoolverlaters",
        _SCHOOL,
        "PO-informatiediensten",
    ),
    "bron_vo": ("BRON-VO gebruiker", "BRON VO", _SCHOOL, "BRON-VO rollen"),
    "mijn_diplomas": ("Mijn Diploma's", "Mijn Diploma's", _SCHOOL, "Mijn Diploma's"),
    "examensecretaris": ("Examensecretaris", "Examens en diploma's", _SCHOOL, "examensecretaris"),
    "verzuimmelder": ("Verzuimmelder", "Verzuimregister", _SCHOOL, "verzuimmelder"),
    "bron_bve": ("BRON BVE gebruiker", "BRON MBO", _SCHOOL, "BRON BVE"),
    "vavo": ("VAVO gebruiker", "BRON VAVO", _SCHOOL, "VAVO"),
    "tmb_gebruiker": ("TMB gebruiker", "Terugmeldingen BRON (TMB)", _SCHOOL, "TMB en TMO gebruiker"),
    "tmo_gebruiker": ("TMO gebruiker", "Terugmeldingen onderwijs (TMO)", _SCHOOL, "TMO gebruiker"),
    "gebruiker_studentdossier": (
        "Gebruiker studentdossier",
        "Studentdossier",
        _SCHOOL,
        "gebruiker studentdossier",
    ),
    "behandelaar_inschrijvingen": (
        "Behandelaar inschrijvingen",
        "Inschrijvingen",
        _SCHOOL,
        "behandelaar inschrijvingen",
    ),
    "gebruiker_registercontrole": (
        "Gebruiker registercontrole",
        "Registercontrole",
        _SCHOOL,
        "gebruiker registercontrole",
    ),
    "aanvrager_handmatige_mutatie": (
        "Aanvrager handmatige mutatie",
        "Handmatige mutaties",
        _SCHOOL,
        "aanvrager handmatige mutatie",
    ),
    "ho_behandelaar": ("HO behandelaar", "BRON HO", _SCHOOL, "HO behandelaar rollen"),
    "croho": ("CROHO", "Centraal Register Opleidingen Hoger Onderwijs", _SCHOOL, "CROHO"),
    "tmb_aanleveren_gebruiker": (
        "TMB aanleveren gebruiker",
        "Terugmeldingen BRON (TMB)",
        _SCHOOL,
        "TMB aanleveren gebruiker",
    ),
    "ho_verzoek_handmatige_mutatie": (
        "HO verzoek handmatige mutatie",
        "Handmatige mutaties HO",
        _SCHOOL,
        "HO verzoek handmatige mutatie",
    ),
    "raadplegen_studentdossier_nbi": (
        "Raadplegen studentdossier NBI",
        "Studentdossier NBI",
        _SCHOOL,
        "raadplegen studentdossier NBI",
    ),
    "ho_behandelaar_registratie_overzicht": (
        "HO behandelaar registratie overzicht",
        "Registratieoverzicht HO",
        _SCHOOL,
        "HO behandelaar registratie overzicht",
    ),
    "medewerker_bekostiging": ("Medewerker bekostiging", "Bekostiging", _BESTUUR, "medewerker bekostiging"),
    "medewerker_opleidingen": ("Medewerker opleidingen", "Opleidingen", _BESTUUR, "medewerker opleidingen"),
    "raadpleger_zaakdossier": (
        "Raadpleger zaakdossier",
        "Zaakdossier bijzondere bekostiging",
        _BESTUUR,
        "raadpleger zaakdossier",
    ),
    "rio_algemeen": (
        "RIO algemeen",
        "Registratie Instellingen en Opleidingen (RIO)",
        _BESTUUR,
        "Registratie Instellingen Opleidingen (RIO)",
    ),
    "rio_selfservice": ("RIO selfservice", "RIO portaal", _BESTUUR, "RIO portaal"),
    "rio_opleidingseenheid": (
        "RIO opleidingseenheid",
        "RIO opleidingseenheden",
        _BESTUUR,
        "opleidingsonderdelen of particuliere opleidingen",
    ),
    "bop_aanleveraar": ("BOP aanleveraar", "Lerarenportfolio", _BESTUUR, "Lerarenportfolio"),
    "owp_aanleveraar": ("OWP aanleveraar", "Personeelsgegevens", _BESTUUR, "levering personeelsgegevens"),
    "rmc": ("RMC", "RMC (voortijdig schoolverlaten)", ["rmc_regio", "gemeentecode"], "RMC"),
    "gba": ("GBA", "GBA-gegevens", ["gemeentecode"], "GBA"),
    "lrk_portaal": ("LRK Portaal", "Landelijk Register Kinderopvang", ["gemeentecode"], "LRK Portaal"),
    "verzuimloket": ("Verzuimloket", "Verzuimloket", ["gemeentecode"], "verzuimloket"),
    "inburgering": ("Inburgering", "Portal Inburgering", ["gemeentecode"], "inburgering"),
    "bow_uitwisselaar": (
        "BOW bestandsuitwisseling",
        "Blik-op-werk bestandsuitwisseling",
        ["kvk_nummer"],
        "bestandsuitwisseling voor Blik-op-werk",
    ),
}

_SECTOR_COMMON = ["osr", "mijn_diplomas", "examensecretaris", "verzuimmelder"]

# code: (name as in the seed, rollen it may hand out, requires one of these, requires a bestuursnummer)
BEHEERAUTORISATIES_V1 = {
    "po": ("Beheerder PO (Primair Onderwijs)", ["osr", "po_informatiediensten"], [], False),
    "vo": ("Beheerder VO (Voortgezet Onderwijs)", ["bron_vo", *_SECTOR_COMMON], [], False),
    "bve": ("Beheerder BVE (Middelbaar Beroepsonderwijs)", ["bron_bve", "vavo", *_SECTOR_COMMON], [], False),
    "mbo_nbo": (
        "Beheerder MBO NBO (voor niet bekostigd onderwijs)",
        [
            "tmb_gebruiker",
            "tmo_gebruiker",
            "gebruiker_studentdossier",
            "behandelaar_inschrijvingen",
            "gebruiker_registercontrole",
            "aanvrager_handmatige_mutatie",
            *_SECTOR_COMMON,
        ],
        [],
        False,
    ),
    "ho": ("Beheerder HO (Hoger Onderwijs)", ["ho_behandelaar", "osr", "croho", "mijn_diplomas"], [], False),
    "ho_nbo": (
        "Beheerder HO NBO (voor niet bekostigd onderwijs)",
        [
            "tmb_aanleveren_gebruiker",
            "tmo_gebruiker",
            "gebruiker_studentdossier",
            "ho_verzoek_handmatige_mutatie",
            "raadplegen_studentdossier_nbi",
            "ho_behandelaar_registratie_overzicht",
            "osr",
            "mijn_diplomas",
        ],
        [],
        False,
    ),
    "bekostiging": (
        "Beheerder Bekostiging en Opleidingen (Alle Onderwijssectoren)",
        ["medewerker_bekostiging", "medewerker_opleidingen", "raadpleger_zaakdossier"],
        [],
        False,
    ),
    "rio_algemeen": ("Beheerder RIO Algemeen", ["rio_algemeen"], ["po", "vo", "bve", "ho"], True),
    "rio_selfservice": ("Beheerder RIO Selfservice", ["rio_selfservice"], ["po", "vo", "bve", "ho"], True),
    "rio_opleidingseenheid": (
        "Beheerder RIO Opleidingseenheid",
        ["rio_opleidingseenheid"],
        ["bve", "ho"],
        True,
    ),
    "bop": ("Beheerder BOP", ["bop_aanleveraar"], [], False),
    "owp": ("Beheerder OWP", ["owp_aanleveraar"], [], False),
    "gemeente": (
        "Beheerder Gemeente",
        ["rmc", "gba", "lrk_portaal", "verzuimloket", "inburgering"],
        [],
        False,
    ),
    "bow": ("Beheerder BOW (Blik-op-werk)", ["bow_uitwisselaar"], [], False),
}
