"""factory-boy factories shared by all tests."""

import factory
from django.contrib.auth.hashers import make_password

from accounts.constants import OrganisatieType
from accounts.models import (
    Account,
    Beheerautorisatie,
    BeheerautorisatieToekenning,
    Kenmerk,
    KenmerkType,
    Organisatie,
    Rol,
    RolToekenning,
)


class OrganisatieFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisatie

    type = OrganisatieType.ONDERWIJSINSTELLING
    naam = factory.Sequence(lambda n: f"Testschool {n}")
    instellingscode = factory.Sequence(
        lambda n: f"{n % 100:02d}{chr(65 + (n // 100) % 26)}{chr(65 + (n // 2600) % 26)}"
    )
    bestuursnummer = factory.Sequence(lambda n: f"{10000 + n % 90000:05d}")
    kvk_nummer = factory.Sequence(lambda n: f"{30000000 + n:08d}")
    straat = "Schoolstraat"
    huisnummer = "1"
    postcode = "9700 AB"
    woonplaats = "Groningen"


class GemeenteFactory(OrganisatieFactory):
    type = OrganisatieType.GEMEENTE
    naam = factory.Sequence(lambda n: f"Gemeente {n}")
    instellingscode = ""
    bestuursnummer = ""
    gemeentecode = factory.Sequence(lambda n: f"{n % 10000:04d}")


def kenmerk_type(code: str) -> KenmerkType:
    return KenmerkType.objects.get(code=code)


class KenmerkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Kenmerk

    organisatie = factory.SubFactory(OrganisatieFactory)
    type = factory.LazyFunction(lambda: kenmerk_type("instellingscode"))
    waarde = factory.LazyAttribute(lambda o: o.organisatie.instellingscode or "12AB")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    username = factory.LazyFunction(lambda: Account.objects.unused_username())
    organisatie = factory.SubFactory(OrganisatieFactory)
    name = factory.Sequence(lambda n: f"Gebruiker {n}")
    job_title = "Administrateur"
    phone = "050 123 4567"
    email = factory.Sequence(lambda n: f"gebruiker{n}@school.example")
    password = factory.LazyFunction(lambda: make_password(None))


class StaffFactory(AccountFactory):
    organisatie = None
    is_staff = True
    name = factory.Sequence(lambda n: f"Helpdesk {n}")
    email = factory.Sequence(lambda n: f"helpdesk{n}@duo.example")


def grant_beheerautorisatie(account: Account, *codes: str) -> None:
    for code in codes:
        BeheerautorisatieToekenning.objects.create(
            account=account, beheerautorisatie=Beheerautorisatie.objects.get(code=code)
        )


def grant_rol(account: Account, rol_code: str, kenmerk: Kenmerk) -> RolToekenning:
    return RolToekenning.objects.create(account=account, rol=Rol.objects.get(code=rol_code), kenmerk=kenmerk)


# --- Autorisatiebeheer (beheer app) -------------------------------------------------------------


def beheerder_create(*codes: str, organisatie: Organisatie | None = None, **fields) -> Account:
    """An account of ``organisatie`` holding the given beheerautorisaties (default: Beheerder VO)."""
    account = AccountFactory(organisatie=organisatie or OrganisatieFactory(), **fields)
    grant_beheerautorisatie(account, *(codes or ("vo",)))
    return account


def rol_holders_create(
    rol_code: str, holders: int | list[str], *, beheerautorisatie: str = "po", **organisatie_fields
) -> Account:
    """A new organisation with a beheerder holding ``beheerautorisatie`` and users (a number, or their
    names) who each hold ``rol_code`` on one kenmerk of it; returns the beheerder."""
    organisatie = OrganisatieFactory(**organisatie_fields)
    beheerder = beheerder_create(beheerautorisatie, organisatie=organisatie)
    kenmerk = KenmerkFactory(organisatie=organisatie)
    names = holders if isinstance(holders, list) else [None] * holders
    for name in names:
        account = AccountFactory(organisatie=organisatie, **({"name": name} if name else {}))
        grant_rol(account, rol_code, kenmerk)
    return beheerder


class KoppelingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "koppeling.Koppeling"

    account = factory.SubFactory(AccountFactory)
    acting_subject_id = factory.Sequence(lambda n: f"pseudonym-{n}")
    legal_subject_id = factory.LazyAttribute(lambda o: o.account.organisatie.kvk_nummer or "12345678")
    level = "urn:etoegang:core:assurance-class:loa3"


# --- User portal (issue 6) ---------------------------------------------------------------------


class MededelingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "accounts.Mededeling"

    title = factory.Sequence(lambda n: f"Mededeling {n}")
    text = "Op zaterdag is Mijn DUO van 8.00 tot 12.00 uur niet bereikbaar."
    organisatie_types = factory.LazyFunction(list)


def token_user_create(*, password: str = "geheim-token-wachtwoord-1", **fields) -> tuple[Account, object]:
    """An account with a password and a confirmed TOTP device: a legacy token user (seed 001)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    account = AccountFactory(**fields)
    account.set_password(password)
    account.save(update_fields=["password"])
    device = TOTPDevice.objects.create(user=account, name="token", confirmed=True)
    return account, device


def totp_code(device) -> str:
    """The code the device's token generator shows now (at the possibly travelled time)."""
    from django_otp.oath import totp

    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"
