"""Lifting one username's koppel block lifts the identities that tried only that username; an identity that
also tried other usernames (possibly someone guessing many) stays blocked, and the helpdesk is told so
(security review)."""

import pytest
from django.contrib.messages import get_messages

from accounts.models import AuditEvent
from koppeling.lockout import LIMIT
from koppeling.models import KoppelAttemptCounter
from koppeling.services import activation_code_issue, koppel_attempt
from tests.accounts.test_admin import helpdesk  # noqa: F401 (fixture)
from tests.beheer.test_helpdesk_account import WRONG, admin_client, fast_hashers, url  # noqa: F401
from tests.factories import AccountFactory
from tests.koppeling.conftest import identity_for

pytestmark = pytest.mark.django_db


def test_an_identity_that_tried_only_this_username_is_lifted(admin_client, gebruiker):  # noqa: F811
    code = activation_code_issue(account=gebruiker)
    identity = identity_for(gebruiker, pseudonym="eigen-beller")
    for _attempt in range(LIMIT):
        koppel_attempt(identity=identity, username=gebruiker.username, code=WRONG, ip="192.0.2.1")
    response = admin_client.post(url("lift", gebruiker))
    texts = [str(message) for message in get_messages(response.wsgi_request)]
    assert not any("Niet opgeheven" in text for text in texts)
    assert koppel_attempt(identity=identity, username=gebruiker.username, code=code, ip="192.0.2.1").koppeling


def test_an_identity_that_also_tried_other_usernames_stays_blocked_and_the_helpdesk_is_told(
    admin_client,  # noqa: F811
    gebruiker,
):
    activation_code_issue(account=gebruiker)
    other = AccountFactory(organisatie=gebruiker.organisatie)
    guesser = identity_for(gebruiker, pseudonym="raadt-veel-namen")
    koppel_attempt(identity=guesser, username=other.username, code=WRONG, ip="192.0.2.9")
    for _attempt in range(LIMIT):
        koppel_attempt(identity=guesser, username=gebruiker.username, code=WRONG, ip="192.0.2.9")
    assert KoppelAttemptCounter.objects.get(key=f"i:{guesser.key}").blocked_until is not None

    response = admin_client.post(url("lift", gebruiker))
    texts = " ".join(str(message) for message in get_messages(response.wsgi_request))
    assert "Niet opgeheven:" in texts and "probeerde ook andere gebruikersnamen" in texts
    assert KoppelAttemptCounter.objects.get(key=f"i:{guesser.key}").blocked_until is not None
    event = AuditEvent.objects.filter(action="koppel.unblock").latest("id")
    assert guesser.key in event.detail["identities_kept"]
    assert guesser.key not in event.detail["identities_blocked"]


def test_the_bulk_lift_says_on_its_page_and_in_its_result_which_identity_stays_blocked(
    admin_client,  # noqa: F811
    gebruiker,
):
    from django.urls import reverse

    other = AccountFactory(organisatie=gebruiker.organisatie)
    guesser = identity_for(gebruiker, pseudonym="raadt-ook-in-bulk")
    koppel_attempt(identity=guesser, username=other.username, code=WRONG, ip="192.0.2.9")
    for _attempt in range(LIMIT):
        koppel_attempt(identity=guesser, username=gebruiker.username, code=WRONG, ip="192.0.2.9")
    changelist = reverse("admin:accounts_account_changelist")
    data = {"action": "lift_block", "_selected_action": [gebruiker.pk]}
    page = admin_client.post(changelist, data).content.decode()
    assert "ook andere gebruikersnamen probeerde, blijft geblokkeerd" in page
    response = admin_client.post(
        changelist, {**data, "confirmed": "yes", "reason": "Beller, ticket 12"}, follow=True
    )
    html = response.content.decode()
    assert "Niet opgeheven:" in html and "probeerde ook andere gebruikersnamen" in html
    assert KoppelAttemptCounter.objects.get(key=f"i:{guesser.key}").blocked_until is not None


def test_the_counters_list_lift_says_which_identity_stays_blocked(admin_client, gebruiker):  # noqa: F811
    from django.urls import reverse

    other = AccountFactory(organisatie=gebruiker.organisatie)
    guesser = identity_for(gebruiker, pseudonym="raadt-via-tellers")
    koppel_attempt(identity=guesser, username=other.username, code=WRONG, ip="192.0.2.9")
    for _attempt in range(LIMIT):
        koppel_attempt(identity=guesser, username=gebruiker.username, code=WRONG, ip="192.0.2.9")
    caller = identity_for(gebruiker, pseudonym="de-echte-beller")
    for _attempt in range(LIMIT):
        koppel_attempt(identity=caller, username=gebruiker.username, code=WRONG, ip="192.0.2.1")
    counter = KoppelAttemptCounter.objects.get(key=f"u:{gebruiker.username}")
    changelist = reverse("admin:koppeling_koppelattemptcounter_changelist")
    data = {"action": "lift_blocks", "_selected_action": [counter.pk]}
    response = admin_client.post(
        changelist, {**data, "confirmed": "yes", "reason": "Beller, ticket 13"}, follow=True
    )
    html = response.content.decode()
    assert "1 blokkade opgeheven" in html
    assert "Niet opgeheven:" in html and "probeerde ook andere gebruikersnamen" in html
    assert KoppelAttemptCounter.objects.get(key=f"u:{gebruiker.username}").blocked_until is None
    assert KoppelAttemptCounter.objects.get(key=f"i:{guesser.key}").blocked_until is not None
