"""The demo data the run command loads: several organisation types, beheerders, users in states."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.core.management import call_command
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import demo
from accounts.models import Account, EmailOutbox, Organisatie
from beheer.selectors import accounts_for_beheerder, accounts_with_status
from koppeling.dev_broker.testing import saml_login
from koppeling.identity import EHerkenningIdentity
from koppeling.lockout import identity_key, lockout, username_key
from koppeling.models import KoppelAttemptCounter, Koppeling
from koppeling.services import ACTIVATION_CODE_TEMPLATE
from tests.factories import AccountFactory

LOA3 = "urn:etoegang:core:assurance-class:loa3"

pytestmark = pytest.mark.django_db


def test_demo_data_loads_organisations_beheerders_and_users_and_is_idempotent(capsys):
    call_command("demo_data")
    counts = (Organisatie.objects.count(), Account.objects.count(), Koppeling.objects.count())
    assert set(Organisatie.objects.values_list("type", flat=True)) >= {
        "onderwijsinstelling",
        "bestuur",
        "gemeente",
        "deurwaarder",
    }
    assert Account.objects.filter(beheerautorisatie_toekenningen__isnull=False).distinct().count() >= 3
    assert (
        Koppeling.objects.filter(ended_at__isnull=True).exists()
        and Koppeling.objects.filter(ended_at__isnull=False).exists()
    )
    assert Account.objects.filter(removed_at__isnull=False).exists()
    for organisatie in Organisatie.objects.all():
        organisatie.full_clean()
    call_command("demo_data")
    assert (Organisatie.objects.count(), Account.objects.count(), Koppeling.objects.count()) == counts
    output = capsys.readouterr().out
    anna = Account.objects.get(email="anna@regenboog.example")
    assert anna.username in output


# --- Issue 13 §4: a persona for every demo state, consistent last logins ---------------------------

PERSONAS = {persona.key: persona for persona in demo.PERSONAS}


def demo_account(key: str) -> Account:
    email = next(row[4] for row in demo.ACCOUNTS if row[0] == key)
    return Account.objects.get(email=email)


def persona_identity(key: str) -> EHerkenningIdentity:
    persona = PERSONAS[key]
    return EHerkenningIdentity(
        acting_subject_id=persona.acting_subject_id,
        legal_subject_id=persona.legal_subject_id,
        level=LOA3,
        intermediate_entity_id=persona.intermediate_entity_id,
        vestigingsnr=persona.vestigingsnr,
    )


def active_link(key: str) -> Koppeling:
    identity = persona_identity(key)
    return Koppeling.objects.get(
        acting_subject_id=identity.acting_subject_id,
        legal_subject_id=identity.legal_subject_id,
        ended_at__isnull=True,
    )


def test_every_demo_state_has_a_persona_to_try_it_in_the_browser():
    states = {row[0]: row[-1] for row in demo.ACCOUNTS}
    for state in ["linked", "code_sent", "registered", "unlinked", "blocked", "removed", "token"]:
        assert any(states.get(persona.key) == state for persona in demo.PERSONAS), state
    intermediated = [persona for persona in demo.PERSONAS if persona.intermediate_entity_id]
    restricted = [persona for persona in demo.PERSONAS if persona.vestigingsnr]
    assert intermediated and restricted
    for persona in intermediated:
        assert re.fullmatch(r"[0-9]{8}", persona.intermediate_entity_id)
        assert persona.intermediate_entity_id != persona.legal_subject_id
        assert "ketenmachtiging" in persona.label
    for persona in restricted:
        assert re.fullmatch(r"[0-9]{12}", persona.vestigingsnr)
        assert "Vestigingsnr" in persona.label
    assert len({persona.key for persona in demo.PERSONAS}) == len(demo.PERSONAS)
    identities = [(persona.acting_subject_id, persona.legal_subject_id) for persona in demo.PERSONAS]
    assert len(set(identities)) == len(identities)


def test_demo_data_puts_each_persona_in_its_state():
    call_command("demo_data")

    gert = demo_account("gert")
    blocked = lockout.blocked_keys([username_key(gert.username), identity_key(persona_identity("gert").key)])
    assert len(blocked) == 2  # his username and his eHerkenning identity
    assert not Koppeling.objects.filter(account=gert).exists()

    hanna = demo_account("hanna")
    assert not hanna.is_active and hanna.removed_at is not None
    assert active_link("hanna").account == hanna  # the link is still there: the login must be refused

    jan = demo_account("jan")
    assert jan.check_password(demo.TOKEN_DEMO_PASSWORD)
    assert TOTPDevice.objects.filter(user=jan, confirmed=True).exists()
    # His activation code is on its way (the outbox sends it after the commit): he may switch.
    assert EmailOutbox.objects.filter(account=jan, template=ACTIVATION_CODE_TEMPLATE).exists()
    assert not Koppeling.objects.filter(account=jan).exists()

    karin = active_link("karin")
    assert karin.account == demo_account("karin")
    assert karin.intermediate_entity_id == PERSONAS["karin"].intermediate_entity_id

    assert active_link("lotte").account == demo_account("lotte")


def test_demo_last_logins_agree_between_autorisatiebeheer_and_the_admin():
    """The admin shows Account.last_login, its link page Koppeling.last_login_at, Autorisatiebeheer the
    later of the account's and its active link's: one moment for each demo user."""
    call_command("demo_data")
    demo_accounts = Account.objects.filter(email__in=[row[4] for row in demo.ACCOUNTS])
    for account in accounts_with_status(accounts=accounts_for_beheerder_rows(demo_accounts)):
        links = list(Koppeling.objects.filter(account=account))
        for link in links:
            assert account.last_login == link.last_login_at, account.name
            assert account.date_joined <= link.created_at <= link.last_login_at, account.name
        assert account.last_seen_at == account.last_login, account.name
        assert (account.last_login is not None) == bool(links), account.name


def accounts_for_beheerder_rows(accounts):
    """The demo accounts as Autorisatiebeheer reads them (the annotations of its list)."""
    rows = []
    for organisatie in Organisatie.objects.filter(accounts__in=accounts).distinct():
        beheerder = AccountFactory(organisatie=organisatie)
        rows += list(accounts_for_beheerder(beheerder=beheerder).filter(pk__in=accounts))
    return rows


def test_the_koppel_block_is_renewed_by_a_later_run_once_it_has_worn_off():
    call_command("demo_data")
    key = username_key(demo_account("gert").username)
    blocked_until = KoppelAttemptCounter.objects.get(key=key).blocked_until
    call_command("demo_data")  # still blocked: left alone, not extended
    assert KoppelAttemptCounter.objects.get(key=key).blocked_until == blocked_until
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert not lockout.blocked_keys([key])
        call_command("demo_data")
        assert lockout.blocked_keys([key]) == {key}


def test_an_older_demo_database_gains_the_accounts_added_since():
    call_command("demo_data")
    counts = (Organisatie.objects.count(), Account.objects.count(), Koppeling.objects.count())
    karin = demo_account("karin")
    Koppeling.objects.filter(account=karin).delete()
    karin.delete()
    call_command("demo_data")
    assert (Organisatie.objects.count(), Account.objects.count(), Koppeling.objects.count()) == counts
    assert active_link("karin").account.name == "Karin Mol"


def test_personas_log_in_as_the_readme_says(client):
    """Through the real SAML path (dev broker → ACS); the ketenmachtiging and Vestigingsnr attributes
    are the dev broker's to send and are tested with it."""
    call_command("demo_data")

    def login(key):
        client.logout()
        persona = PERSONAS[key]
        return saml_login(client, persona.acting_subject_id, persona.legal_subject_id)

    assert login("dirk")["Location"] == "/overzicht/"
    assert login("karin")["Location"] == "/overzicht/"
    assert int(client.session[AUTH_SESSION_KEY]) == demo_account("karin").pk
    for key in ["gert", "jan", "fatima"]:  # not linked: the koppel wizard
        assert login(key)["Location"] == "/koppelen/", key
    refused = login("hanna")  # removed, link still there
    assert refused.status_code == 403
    assert "niet gelukt" in refused.content.decode()
    assert AUTH_SESSION_KEY not in client.session
