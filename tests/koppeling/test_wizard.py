"""The koppel wizard screens (seed 002 §1.2): order, texts, no skipping, refusals, identical failures."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEvent
from koppeling.lockout import LIMIT
from koppeling.models import ActivationCode, Koppeling
from koppeling.services import activation_code_issue
from tests.factories import AccountFactory, KoppelingFactory, OrganisatieFactory

from .conftest import identity_for, identity_put, koppel_post, walk_to_koppel

pytestmark = pytest.mark.django_db

START = reverse("koppeling:start")
DISCLAIMER = reverse("koppeling:disclaimer")
TERMS = reverse("koppeling:voorwaarden")
KOPPEL = reverse("koppeling:koppel")
DONE = reverse("koppeling:gelukt")
NO_CODE = reverse("koppeling:geen_code")
WRONG = "AAAA-AAAA-AAAA"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def text(response) -> str:
    return response.content.decode()


def normalised_body(response) -> str:
    return CSRF.sub('name="csrfmiddlewaretoken" value=""', text(response))


# --- access --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [START, DISCLAIMER, TERMS, KOPPEL, DONE, NO_CODE])
def test_without_eherkenning_identity_every_step_sends_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == "/saml2/login/?next=%2Fkoppelen%2F"


@pytest.mark.parametrize("url", [DISCLAIMER, TERMS, KOPPEL, DONE])
def test_no_step_can_be_reached_by_url_before_the_previous_ones(client, identity, url):
    identity_put(client, identity)
    assert client.get(url)["Location"] == START
    posted = client.post(url, {"accept": "on", "username": "X", "activation_code": WRONG})
    assert posted.status_code == 405 if url == DONE else posted["Location"] == START


def test_skipping_the_terms_by_url_after_the_disclaimer_is_refused(client, identity):
    identity_put(client, identity)
    client.post(START, {"situation": "yes"})
    client.post(DISCLAIMER, {"accept": "on"})
    assert client.get(KOPPEL)["Location"] == TERMS
    assert client.get(DONE)["Location"] == TERMS


def test_wizard_state_is_bound_to_the_identity(client, account, identity):
    identity_put(client, identity)
    walk_to_koppel(client)
    identity_put(client, identity_for(account, pseudonym="someone-else"))
    assert client.get(KOPPEL)["Location"] == START


def test_linked_and_logged_in_identity_goes_to_the_overview(client, account, identity):
    KoppelingFactory(
        account=account,
        acting_subject_id=identity.acting_subject_id,
        legal_subject_id=identity.legal_subject_id,
    )
    client.force_login(account)
    identity_put(client, identity)
    for url in (START, DISCLAIMER, KOPPEL):
        assert client.get(url)["Location"] == "/overzicht/"


def test_wizard_views_are_never_cached(client, identity):
    identity_put(client, identity)
    response = client.get(START)
    assert "no-cache" in response["Cache-Control"] and "no-store" in response["Cache-Control"]


# --- the screens, in order --------------------------------------------------------------------


def test_screens_in_order_with_the_seed_texts_and_a_successful_link(client, account, code, identity):
    identity_put(client, identity)

    page = client.get(START)
    body = text(page)
    assert page.status_code == 200
    for phrase in (
        "Voordat u begint",
        "eHerkenning koppelen met Mijn DUO-account",
        "Welkom bij het koppelproces.",
        "Na het koppelen kunt u alleen nog inloggen met eHerkenning.",
        "Mijn situatie",
        "Ik heb een gebruikersnaam en een geldige activatiecode",
        "Ik heb geen gebruikersnaam en/of geen (geldige) activatiecode",
        "Verder",
        "annuleer en log uit",
    ):
        assert phrase in body, phrase
    assert "<fieldset" in body and "<legend>Mijn situatie</legend>" in body
    assert re.search(r'<form class="logout-form" action="/uitloggen/" method="post">', body)
    assert client.post(START, {"situation": "yes"})["Location"] == DISCLAIMER

    body = text(client.get(DISCLAIMER))
    for phrase in (
        "Disclaimer",
        "Fraude",
        "identiteitsfraude en is conform het Nederlands recht strafbaar",
        # the seed's slips corrected (issue 17)
        "de identiteit van een andere persoon wordt gezien",
        "of de gebruikersnaam en activatiecode bij u horen",
        "Privacy",
        "herleidbaar kunnen zijn naar uw persoonlijke gegevens",
        "Ik heb bovenstaande informatie gelezen en ga hiermee akkoord",
        "terug naar vorige scherm",
    ):
        assert phrase in body, phrase
    assert "een ander persoon" not in body and "het gebruikersnaam" not in body
    assert f'href="{START}"' in body
    assert client.post(DISCLAIMER, {"accept": "on"})["Location"] == TERMS

    body = text(client.get(TERMS))
    for phrase in (
        "Gebruiksvoorwaarden",
        "Met de komst van eHerkenning zijn er nieuwe gebruiksvoorwaarden opgesteld.",
        "Ga naar de gebruiksvoorwaarden",
        "Ik heb bovenstaande informatie gelezen en ga hiermee akkoord",
        "terug naar vorige scherm",
    ):
        assert phrase in body, phrase
    assert 'href="/gebruiksvoorwaarden/"' in body and f'href="{DISCLAIMER}"' in body
    # One word for the terms in what the user reads (issue 17); the step's URL keeps its name.
    assert "ebruikersvoorwaarden" not in body.replace("/koppelen/gebruikersvoorwaarden/", "")
    assert client.get("/gebruiksvoorwaarden/").status_code == 200
    assert client.post(TERMS, {"accept": "on"})["Location"] == KOPPEL

    body = text(client.get(KOPPEL))
    for phrase in (
        "Koppelen met gebruikersnaam en activatiecode",
        '<label class="utrecht-form-label" for="id_username">Gebruikersnaam</label>',
        "U vindt uw gebruikersnaam in de brief",
        '<label class="utrecht-form-label" for="id_activation_code">Activatiecode</label>',
        "U vindt uw activatiecode in de e-mail",
        ">Koppel</button>",
        "terug naar vorige scherm",
    ):
        assert phrase in body, phrase
    assert f'href="{TERMS}"' in body

    response = koppel_post(client, account.username, code)
    assert response.status_code == 302 and response["Location"] == DONE
    body = text(client.get(DONE))
    for phrase in (
        "Koppeling gelukt",
        "GELUKT",
        "Uw account is succesvol gekoppeld",
        "U kunt voortaan inloggen met eHerkenning",
        'href="/overzicht/"',
        "Verder",
    ):
        assert phrase in body, phrase


def test_without_a_code_the_user_is_told_to_ask_the_beheerder_and_can_log_out(client, identity):
    identity_put(client, identity)
    response = client.post(START, {"situation": "no"})
    assert response["Location"] == NO_CODE
    body = text(client.get(NO_CODE))
    assert "beheerder" in body and "annuleer en log uit" in body
    assert client.get(DISCLAIMER)["Location"] == START  # choosing "no" does not open the next step


def test_choice_and_acceptance_are_required_with_a_linked_error_summary(client, identity):
    identity_put(client, identity)
    response = client.post(START, {})
    body = text(response)
    assert response.status_code == 400
    assert (
        'class="error-summary"' in body and 'href="#id_situation_0"' in body and "Kies uw situatie." in body
    )
    client.post(START, {"situation": "yes"})
    response = client.post(DISCLAIMER, {})
    assert response.status_code == 400 and 'href="#id_accept"' in text(response)
    assert client.get(TERMS)["Location"] == DISCLAIMER
    client.post(DISCLAIMER, {"accept": "on"})
    response = client.post(TERMS, {})
    assert response.status_code == 400 and client.get(KOPPEL)["Location"] == TERMS


def test_malformed_input_gets_a_dutch_message_and_a_4xx(at_koppel, account):
    response = koppel_post(at_koppel, "", "")
    body = text(response)
    assert response.status_code == 400
    assert "Vul uw gebruikersnaam in." in body and 'href="#id_username"' in body
    assert "Vul uw activatiecode in." in body and 'href="#id_activation_code"' in body
    response = koppel_post(at_koppel, account.username, "x" * 5000)
    assert response.status_code == 400 and "Een activatiecode bestaat uit 12 letters en cijfers" in text(
        response
    )
    response = koppel_post(at_koppel, "Ü" * 500, "ABCD-EFGH-JKMN")
    assert response.status_code == 400


def test_terms_version_and_time_are_stored_with_the_link(client, account, code, identity, settings):
    settings.TERMS_VERSION = "2025-3"
    moment = timezone.now().replace(microsecond=0)
    identity_put(client, identity)
    client.post(START, {"situation": "yes"})
    client.post(DISCLAIMER, {"accept": "on"})
    with time_machine.travel(moment, tick=False):
        client.post(TERMS, {"accept": "on"})
    koppel_post(client, account.username, code)
    koppeling = Koppeling.objects.get(account=account)
    assert koppeling.terms_version == "2025-3"
    assert koppeling.terms_accepted_at == moment


# --- success ---------------------------------------------------------------------------------


def test_successful_link_stores_the_identity_and_logs_in_with_a_new_session_key(
    client, account, code, identity, django_capture_on_commit_callbacks
):
    identity = identity.__class__(**{**identity.__dict__, "intermediate_entity_id": "12345678"})
    identity_put(client, identity)
    walk_to_koppel(client)
    before = client.session.session_key
    with django_capture_on_commit_callbacks(execute=True):
        response = koppel_post(client, account.username.lower(), code.lower().replace("-", " "))
    assert response["Location"] == DONE
    koppeling = Koppeling.objects.get(account=account, ended_at__isnull=True)
    assert (koppeling.acting_subject_id, koppeling.legal_subject_id) == (
        identity.acting_subject_id,
        identity.legal_subject_id,
    )
    assert koppeling.intermediate_entity_id == "12345678" and koppeling.level == identity.level
    assert koppeling.created_ip == "127.0.0.1"
    assert client.session.session_key != before
    assert int(client.session[AUTH_SESSION_KEY]) == account.pk
    assert client.session["eherkenning_identity"]["acting_subject_id"] == identity.acting_subject_id
    assert ActivationCode.objects.get(account=account).used_at is not None
    notice = [m for m in mail.outbox if m.to == [account.email]]
    assert len(notice) == 1 and "gekoppeld" in notice[0].subject
    assert AuditEvent.objects.filter(action="link.create", object_id=str(koppeling.pk)).exists()
    assert AuditEvent.objects.filter(action="koppel.attempt", result="success").exists()


def test_linking_removes_the_legacy_token_and_the_password(at_koppel, account, code):
    account.set_password("an old token password")
    account.save()
    TOTPDevice.objects.create(user=account, name="token", confirmed=True)
    StaticDevice.objects.create(user=account, name="backup")
    koppel_post(at_koppel, account.username, code)
    account.refresh_from_db()
    assert not account.has_usable_password()
    assert not TOTPDevice.objects.filter(user=account).exists()
    assert not StaticDevice.objects.filter(user=account).exists()


def test_a_used_code_cannot_be_used_again(client, account, code, identity):
    identity_put(client, identity)
    walk_to_koppel(client)
    assert koppel_post(client, account.username, code).status_code == 302
    Koppeling.objects.filter(account=account).update(ended_at=timezone.now())  # e.g. undone at once
    other = client.__class__()
    identity_put(other, identity_for(account, pseudonym="second"))
    walk_to_koppel(other)
    response = koppel_post(other, account.username, code)
    assert response.status_code == 400
    assert Koppeling.objects.filter(account=account, ended_at__isnull=True).count() == 0


def test_code_expires_after_24_hours(client, account, identity):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        code = activation_code_issue(account=account)
    with time_machine.travel(start + timedelta(hours=24, minutes=1), tick=False):
        identity_put(client, identity)
        walk_to_koppel(client)
        assert koppel_post(client, account.username, code).status_code == 400
    with time_machine.travel(start + timedelta(hours=23, minutes=59), tick=False):
        client.logout()
        identity_put(client, identity)
        walk_to_koppel(client)
        assert koppel_post(client, account.username, code)["Location"] == DONE


# --- identical failures ----------------------------------------------------------------------


def test_unknown_username_wrong_expired_used_code_and_block_give_the_same_response(client, identity):
    organisatie = OrganisatieFactory()
    known = AccountFactory(organisatie=organisatie)
    activation_code_issue(account=known)
    expired = AccountFactory(organisatie=organisatie)
    start = timezone.now()
    with time_machine.travel(start - timedelta(hours=25), tick=False):
        expired_code = activation_code_issue(account=expired)
    used = AccountFactory(organisatie=organisatie)
    used_code = activation_code_issue(account=used)
    ActivationCode.objects.filter(account=used).update(used_at=timezone.now())
    no_code = AccountFactory(organisatie=organisatie)
    blocked = AccountFactory(organisatie=organisatie)
    blocked_code = activation_code_issue(account=blocked)
    from koppeling.lockout import lockout

    for _ in range(LIMIT):
        lockout.reserve(f"u:{blocked.username}")

    cases = {
        "unknown username": ("QQQQQQQQ", WRONG),
        "wrong code": (known.username, WRONG),
        "expired code": (expired.username, expired_code),
        "used code": (used.username, used_code),
        "no code": (no_code.username, WRONG),
        "blocked": (blocked.username, blocked_code),
    }
    responses = {}
    for n, (name, (username, code)) in enumerate(cases.items()):
        browser = client.__class__()
        identity_put(browser, identity_for(pseudonym=f"visitor-{n}", legal_subject_id=organisatie.kvk_nummer))
        walk_to_koppel(browser)
        responses[name] = koppel_post(browser, username, code)
    statuses = {name: response.status_code for name, response in responses.items()}
    assert set(statuses.values()) == {400}, statuses
    # Each page gives back the username its visitor typed (issue 17: only the code is emptied);
    # apart from that own input, the pages are the same.
    for name, response in responses.items():
        assert f'name="username" id="id_username" value="{cases[name][0]}"' in text(response)
    bodies = {
        normalised_body(response).replace(f'value="{cases[name][0]}"', 'value="TYPED"')
        for name, response in responses.items()
    }
    assert len(bodies) == 1
    body = bodies.pop()
    assert "na 5" in body or "5 keer" in body
    assert "15 minuten geblokkeerd" in body
    assert 'name="activation_code" id="id_activation_code" value=""' in body  # the code is emptied


def test_unknown_usernames_lock_the_same_way_through_the_screens(client):
    for n in range(LIMIT + 1):
        browser = client.__class__()
        identity_put(browser, identity_for(pseudonym=f"guesser-{n}"))
        walk_to_koppel(browser)
        assert koppel_post(browser, "WWWWWWWW", WRONG).status_code == 400
    from koppeling.selectors import blocked_usernames

    assert blocked_usernames(usernames=["WWWWWWWW"]) == {"WWWWWWWW"}


# --- refusals (only after the right username and code) -----------------------------------------


def test_identity_already_linked_is_refused_after_the_right_code(at_koppel, account, code, identity):
    KoppelingFactory(
        account=AccountFactory(organisatie=account.organisatie),
        acting_subject_id=identity.acting_subject_id,
        legal_subject_id=identity.legal_subject_id,
    )
    response = koppel_post(at_koppel, account.username, code)
    assert response.status_code == 403
    assert "Uw eHerkenningmiddel is al gekoppeld aan een Mijn DUO-account" in text(response)
    assert ActivationCode.objects.get(account=account).used_at is None
    # the same identity with a wrong code learns nothing: the generic answer
    response = koppel_post(at_koppel, account.username, WRONG)
    assert response.status_code == 400 and "al gekoppeld" not in text(response)


def test_inactive_account_is_refused(at_koppel, account, code):
    account.is_active = False
    account.save()
    response = koppel_post(at_koppel, account.username, code)
    assert response.status_code == 403 and "Dit Mijn DUO-account is niet actief" in text(response)


def test_removed_account_is_refused(at_koppel, account, code):
    account.removed_at = timezone.now()
    account.save()
    response = koppel_post(at_koppel, account.username, code)
    assert response.status_code == 403 and "niet actief" in text(response)
    assert not Koppeling.objects.filter(account=account).exists()


def test_account_already_linked_is_refused(at_koppel, account, code):
    KoppelingFactory(account=account, acting_subject_id="someone-else")
    response = koppel_post(at_koppel, account.username, code)
    assert response.status_code == 403
    assert "Dit Mijn DUO-account is al gekoppeld aan een eHerkenningmiddel" in text(response)


def test_other_organisations_kvk_nummer_is_refused(client, account, code):
    identity_put(client, identity_for(account, legal_subject_id="87654321"))
    walk_to_koppel(client)
    response = koppel_post(client, account.username, code)
    assert response.status_code == 403
    assert "andere organisatie (KvK-nummer of RSIN)" in text(response)
    assert not Koppeling.objects.exists()
    assert AuditEvent.objects.filter(action="koppel.attempt", result="refused").exists()


def test_rsin_of_the_organisation_is_accepted(client, account, code):
    account.organisatie.rsin = "123456782"
    account.organisatie.save()
    identity_put(client, identity_for(account, legal_subject_id="123456782"))
    walk_to_koppel(client)
    assert koppel_post(client, account.username, code)["Location"] == DONE


def test_organisation_without_kvk_nummer_or_rsin_accepts_any_legal_subject(client, code, account):
    account.organisatie.kvk_nummer = ""
    account.organisatie.save()
    identity_put(client, identity_for(account, legal_subject_id="11111111"))
    walk_to_koppel(client)
    assert koppel_post(client, account.username, code)["Location"] == DONE


def test_after_success_the_wizard_cannot_be_walked_again(client, account, code, identity):
    identity_put(client, identity)
    walk_to_koppel(client)
    koppel_post(client, account.username, code)
    assert client.get(START)["Location"] == "/overzicht/"
    assert client.get(DONE).status_code == 200


def test_english_translation_is_available(client, identity):
    identity_put(client, identity)
    response = client.get(START, HTTP_ACCEPT_LANGUAGE="en")
    assert "Before you begin" in text(response)


def test_the_activation_code_is_a_sensitive_post_parameter(at_koppel, account):
    response = koppel_post(at_koppel, account.username, WRONG)
    assert response.wsgi_request.sensitive_post_parameters == ("activation_code",)
