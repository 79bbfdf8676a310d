"""Issue 16 item 5: the yearly access review (BIO 9.2.5): keep or revoke every role, reminders, overdue."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.email import email_render
from accounts.models import AuditEvent, EmailOutbox, RolToekenning
from beheer import review
from beheer.models import AccessReview, AccessReviewDecision
from tests.accounts.test_admin import admin_login, current_code, helpdesk  # noqa: F401 (fixture)
from tests.factories import AccountFactory, KenmerkFactory, OrganisatieFactory, beheerder_create, grant_rol

pytestmark = pytest.mark.django_db

URL = "/beheer/toegangscontrole/"
DUE_TEMPLATE = "beheer/email/access_review_due"
OVERDUE_TEMPLATE = "beheer/email/access_review_overdue"


@pytest.fixture
def users(organisatie, kenmerk):
    """Three users with the role OSR (covered by Beheerder VO), one with two roles."""
    accounts = [AccountFactory(organisatie=organisatie, name=f"Gebruiker {letter}") for letter in "ABC"]
    toekenningen = [grant_rol(account, "osr", kenmerk) for account in accounts]
    toekenningen.append(grant_rol(accounts[0], "bron_vo", kenmerk))
    return accounts, toekenningen


def _post_page(client, toekenningen, choices: dict, action="save", toon=""):
    data = {"shown": [str(t.pk) for t in toekenningen], "action": action, "toon": toon}
    data.update({f"besluit-{t.pk}": choice for t, choice in choices.items()})
    return client.post(URL, data)


def test_page_shows_progress_and_only_the_roles_she_may_review(beheer_client, users, organisatie, kenmerk):
    accounts, toekenningen = users
    uncovered = grant_rol(accounts[1], "po_informatiediensten", kenmerk)  # Beheerder PO's, not hers
    response = beheer_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "0 van 4 rollen beoordeeld" in html
    assert "Controle van autorisaties" in html
    for toekenning in toekenningen:
        assert f'name="besluit-{toekenning.pk}"' in html
        assert f'<label for="keep-{toekenning.pk}">Behouden</label>' in html
    assert f'name="besluit-{uncovered.pk}"' not in html
    assert 'data-label="Gebruiker"' in html  # each cell names its column when the table stacks


def test_keep_the_rest_and_revoke_a_few_after_confirmation(beheer_client, beheerder, users):
    accounts, toekenningen = users
    revoked = toekenningen[1]
    response = _post_page(beheer_client, toekenningen, {revoked: "revoke"}, action="keep_rest")
    # A revoke is confirmed first: who loses what, and nothing changed yet.
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 rol intrekken?" in html and accounts[1].name in html and revoked.rol.naam in html
    assert "3 andere rollen worden behouden." in html
    assert RolToekenning.objects.filter(pk=revoked.pk).exists()
    assert not AccessReviewDecision.objects.exists()

    keep = [t for t in toekenningen if t != revoked]
    response = beheer_client.post(
        URL, {"confirm": "1", "keep": [t.pk for t in keep], "revoke": [revoked.pk], "toon": ""}
    )
    assert response.status_code == 302
    assert not RolToekenning.objects.filter(pk=revoked.pk).exists()
    decisions = {d.toekenning_id: d for d in AccessReviewDecision.objects.all()}
    assert decisions[revoked.pk].decision == "revoke" and decisions[revoked.pk].rol_naam == revoked.rol.naam
    assert all(decisions[t.pk].decision == "keep" for t in keep)
    assert all(d.decided_by_id == beheerder.pk and d.decided_at for d in decisions.values())
    # The one revoke path: audited as a role revoke, and each decision audited as well.
    assert AuditEvent.objects.filter(action="rol.revoke", object_id=str(accounts[1].pk)).count() == 1
    assert AuditEvent.objects.filter(action="access_review.decide", result="success").count() == 4
    # Every role decided: the cycle is complete, and the next one is due a year later.
    cycle = AccessReview.objects.get()
    assert cycle.completed_by_id == beheerder.pk
    assert AuditEvent.objects.filter(action="access_review.complete", actor_id=beheerder.pk).count() == 1
    page = beheer_client.get(URL).content.decode()
    assert "Afgerond op" in page
    following = AccessReview.objects.get(completed_at__isnull=True)
    assert following.due_at == cycle.completed_at + timedelta(days=365)


def test_a_role_revoked_in_the_review_tells_the_services_like_any_revoke(beheer_client, users, monkeypatch):
    """The back-channel logout hook of a revoked rol (diensten) fires for a review revoke too."""
    from diensten import signals

    accounts, toekenningen = users
    heard = []
    monkeypatch.setattr(signals, "backchannel_logout_queue_accounts", lambda **kwargs: heard.append(kwargs))
    beheer_client.post(URL, {"confirm": "1", "revoke": [toekenningen[1].pk]})
    assert heard == [
        {"account_ids": [accounts[1].pk], "rol_ids": [toekenningen[1].rol_id], "reason": "rol_revoked"}
    ]


def test_saving_some_keeps_shows_progress_and_keeps_the_cycle_open(beheer_client, beheerder, users):
    _, toekenningen = users
    response = _post_page(beheer_client, toekenningen, {toekenningen[0]: "keep", toekenningen[2]: "keep"})
    assert response.status_code == 302
    assert "2 rollen behouden." in beheer_client.get(response.url).content.decode()
    html = beheer_client.get(URL).content.decode()
    assert "2 van 4 rollen beoordeeld" in html
    assert "behouden door Bea Beheer" in html
    assert AccessReview.objects.get().completed_at is None
    open_only = beheer_client.get(URL, {"toon": "open"}).content.decode()
    assert f'name="besluit-{toekenningen[0].pk}"' not in open_only
    assert f'name="besluit-{toekenningen[1].pk}"' in open_only


def test_a_post_without_any_decision_says_so(beheer_client, users):
    _, toekenningen = users
    response = _post_page(beheer_client, toekenningen, {})
    assert response.status_code == 302
    assert "Kies voor ten minste één rol behouden of intrekken." in beheer_client.get(URL).content.decode()
    assert not AccessReviewDecision.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"shown": ["abc"], "action": "save"},
        {"shown": ["1"], "besluit-1": "delete", "action": "save"},
        {"confirm": "1", "keep": ["x"]},
        {"toon": "everything", "shown": ["1"]},
    ],
)
def test_malformed_posts_get_a_dutch_400(beheer_client, users, data):
    response = beheer_client.post(URL, data)
    assert response.status_code == 400
    assert "formulier" in response.content.decode() or "Onbekende keuze" in response.content.decode()
    assert beheer_client.get(URL, {"toon": "x"}).status_code == 400


def test_another_organisations_role_is_404_and_audited(
    beheer_client, beheerder, other_gebruiker, other_kenmerk
):
    foreign = grant_rol(other_gebruiker, "osr", other_kenmerk)
    for data in (
        {"shown": [foreign.pk], f"besluit-{foreign.pk}": "revoke", "action": "save"},
        {"shown": [foreign.pk], f"besluit-{foreign.pk}": "keep", "action": "save"},
        {"confirm": "1", "revoke": [foreign.pk]},
    ):
        assert beheer_client.post(URL, data).status_code == 404
    assert RolToekenning.objects.filter(pk=foreign.pk).exists()
    assert not AccessReviewDecision.objects.exists()
    refusals = AuditEvent.objects.filter(
        action="access_review.decide", result="refused", actor_id=beheerder.pk
    )
    assert refusals.count() == 3
    assert {event.detail["error_code"] for event in refusals} == {"not_in_organisation"}


def test_forged_role_outside_her_beheerautorisaties_is_refused_and_audited(
    beheer_client, beheerder, gebruiker, kenmerk, users
):
    _, toekenningen = users
    uncovered = grant_rol(gebruiker, "po_informatiediensten", kenmerk)
    for data in (
        {
            "shown": [toekenningen[0].pk, uncovered.pk],
            f"besluit-{uncovered.pk}": "revoke",
            "action": "keep_rest",
        },
        {"confirm": "1", "keep": [toekenningen[0].pk], "revoke": [uncovered.pk]},
        {"shown": [uncovered.pk], f"besluit-{uncovered.pk}": "keep", "action": "save"},
    ):
        assert beheer_client.post(URL, data).status_code == 403
    assert RolToekenning.objects.filter(pk=uncovered.pk).exists()
    assert not AccessReviewDecision.objects.exists()  # all or nothing: her own role was not kept either
    refusals = AuditEvent.objects.filter(
        action="access_review.decide", result="refused", actor_id=beheerder.pk
    )
    assert refusals.count() == 3
    assert {event.detail["error_code"] for event in refusals} == {"rol_not_covered"}


def test_a_user_without_beheerautorisatie_gets_403(client, organisatie, users):
    _, toekenningen = users
    client.force_login(AccountFactory(organisatie=organisatie))
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"confirm": "1", "keep": [toekenningen[0].pk]}).status_code == 403
    cycle = review.access_review_open(organisatie=organisatie)
    assert client.get(reverse("beheer:access_review_detail", args=[cycle.pk])).status_code == 403
    assert not AccessReviewDecision.objects.exists()


def test_record_of_a_cycle_shows_who_decided_what_and_another_organisations_is_404(
    beheer_client, beheerder, users, other_organisatie
):
    _, toekenningen = users
    beheer_client.post(URL, {"confirm": "1", "keep": [toekenningen[0].pk], "revoke": [toekenningen[1].pk]})
    cycle = AccessReview.objects.get(organisatie=beheerder.organisatie)
    html = beheer_client.get(reverse("beheer:access_review_detail", args=[cycle.pk])).content.decode()
    assert "Verslag van de controle van autorisaties" in html
    assert "behouden" in html and "ingetrokken" in html and "Bea Beheer" in html
    foreign = review.access_review_open(organisatie=other_organisatie)
    assert beheer_client.get(reverse("beheer:access_review_detail", args=[foreign.pk])).status_code == 404


def test_review_page_query_count_does_not_grow_with_the_number_of_users(beheer_client, organisatie, kenmerk):
    def page_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert beheer_client.get(URL).status_code == 200
        return len(queries)

    for _ in range(3):
        grant_rol(AccountFactory(organisatie=organisatie), "osr", kenmerk)
    beheer_client.get(URL)  # the cycle starts on the first visit
    few = page_queries()
    for _ in range(30):
        account = AccountFactory(organisatie=organisatie)
        grant_rol(account, "osr", kenmerk)
        grant_rol(account, "bron_vo", kenmerk)
    assert page_queries() == few


# --- Reminders ---------------------------------------------------------------------------------------

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def reviewed_organisatie(db):
    with time_machine.travel(START, tick=False):
        organisatie = OrganisatieFactory(naam="'t Zuiderlicht", created_at=START)
        beheerder = beheerder_create(
            "vo", organisatie=organisatie, name="Bo Beheer", email="bo@school.example"
        )
        beheerder_create("vo", organisatie=organisatie, name="Ben Beheer", email="ben@school.example")
        kenmerk = KenmerkFactory(organisatie=organisatie, waarde=organisatie.instellingscode)
        grant_rol(AccountFactory(organisatie=organisatie), "osr", kenmerk)
    return organisatie, beheerder


def _reminders(template):
    return list(EmailOutbox.objects.filter(template=template).order_by("to").values_list("to", flat=True))


def test_reminder_a_month_before_the_due_date_once_per_cycle(reviewed_organisatie):
    organisatie, _ = reviewed_organisatie
    due = START + timedelta(days=365)
    with time_machine.travel(due - timedelta(days=31), tick=False):
        review.access_review_reminders_send()
    assert AccessReview.objects.get(organisatie=organisatie).due_at == due
    assert _reminders(DUE_TEMPLATE) == []
    with time_machine.travel(due - timedelta(days=30), tick=False):
        run = review.access_review_reminders_send()
        assert run.due == 1
        review.access_review_reminders_send()  # a second beat, a rerun: nothing new
    with time_machine.travel(due - timedelta(days=2), tick=False):
        review.access_review_reminders_send()
    assert _reminders(DUE_TEMPLATE) == ["ben@school.example", "bo@school.example"]
    assert _reminders(OVERDUE_TEMPLATE) == []
    body = email_render(outbox=EmailOutbox.objects.get(template=DUE_TEMPLATE, to="bo@school.example"))
    # Plain text: the apostrophe arrives as typed, not as &#x27;.
    assert "'t Zuiderlicht" in body.subject and "05-01-2027" in body.subject
    assert "'t Zuiderlicht" in body.body and "&#x27;" not in body.body
    assert "Voor 1 rol is nog geen besluit genomen." in body.body
    assert "/beheer/toegangscontrole/" in body.body
    assert (
        AuditEvent.objects.filter(action="access_review.reminder", object_id=str(organisatie.pk)).count() == 1
    )


def test_a_run_that_listed_the_review_before_another_run_claimed_it_sends_nothing(
    reviewed_organisatie, monkeypatch
):
    """Two beats at once: each lists the review as unsent, only the first claim queues mail."""
    due = START + timedelta(days=365)
    with time_machine.travel(due - timedelta(days=30), tick=False):
        review.access_reviews_start()
        listed_by_the_second_run = list(review.reviews_with_progress(AccessReview.objects.all()))
        review.access_review_reminders_send()
        monkeypatch.setattr(review, "reviews_with_progress", lambda queryset: listed_by_the_second_run)
        assert review.access_review_reminders_send().due == 0
    assert _reminders(DUE_TEMPLATE) == ["ben@school.example", "bo@school.example"]


def test_the_daily_beat_task_is_registered_and_sends_the_reminders(reviewed_organisatie):
    from django.conf import settings

    from mijnduo.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["access-review-reminders"]
    assert entry["task"] in app.tasks
    with time_machine.travel(START + timedelta(days=340), tick=False):
        result = app.tasks[entry["task"]].apply().get()
    assert result["due"] == 1
    assert len(_reminders(DUE_TEMPLATE)) == 2


def test_overdue_after_the_grace_period_reminds_once_and_revokes_nothing(reviewed_organisatie):
    organisatie, _ = reviewed_organisatie
    due = START + timedelta(days=365)
    with time_machine.travel(due - timedelta(days=30), tick=False):
        review.access_review_reminders_send()
    with time_machine.travel(due + timedelta(days=29), tick=False):
        review.access_review_reminders_send()
        assert review.review_status(review=AccessReview.objects.get()) == review.ReviewStatus.DUE
    assert _reminders(OVERDUE_TEMPLATE) == []
    with time_machine.travel(due + timedelta(days=30), tick=False):
        assert review.access_review_reminders_send().overdue == 1
        review.access_review_reminders_send()
        assert review.review_status(review=AccessReview.objects.get()) == review.ReviewStatus.OVERDUE
    with time_machine.travel(due + timedelta(days=90), tick=False):
        review.access_review_reminders_send()
    assert _reminders(OVERDUE_TEMPLATE) == ["ben@school.example", "bo@school.example"]
    assert _reminders(DUE_TEMPLATE) == ["ben@school.example", "bo@school.example"]
    assert (
        RolToekenning.objects.filter(account__organisatie=organisatie).count() == 1
    )  # never silently revoked


def test_a_late_start_sends_only_the_overdue_reminder(reviewed_organisatie):
    organisatie, _ = reviewed_organisatie
    AccessReview.objects.create(organisatie=organisatie, started_at=START, due_at=START + timedelta(days=10))
    with time_machine.travel(START + timedelta(days=100), tick=False):
        review.access_review_reminders_send()
    assert _reminders(DUE_TEMPLATE) == []
    assert len(_reminders(OVERDUE_TEMPLATE)) == 2


def test_a_completed_review_sends_no_reminders(reviewed_organisatie):
    organisatie, beheerder = reviewed_organisatie
    with time_machine.travel(START + timedelta(days=300), tick=False):
        toekenning = RolToekenning.objects.get(account__organisatie=organisatie)
        review.review_decide(beheerder=beheerder, keep_ids=[toekenning.pk], revoke_ids=[])
    with time_machine.travel(START + timedelta(days=500), tick=False):
        review.access_review_reminders_send()
    assert _reminders(DUE_TEMPLATE) == [] and _reminders(OVERDUE_TEMPLATE) == []
    assert AccessReview.objects.get(completed_at__isnull=True).due_at == START + timedelta(days=665)


def test_an_organisation_without_roles_is_closed_instead_of_reminded(db):
    with time_machine.travel(START, tick=False):
        organisatie = OrganisatieFactory(created_at=START)
        beheerder_create("vo", organisatie=organisatie)
    with time_machine.travel(START + timedelta(days=340), tick=False):
        run = review.access_review_reminders_send()
    assert run.completed_empty == 1 and _reminders(DUE_TEMPLATE) == []
    assert AccessReview.objects.get(organisatie=organisatie, completed_at__isnull=False).completed_by is None


def test_an_old_organisation_gets_a_months_notice_on_its_first_cycle(db):
    organisatie = OrganisatieFactory(created_at=timezone.now() - timedelta(days=2000))
    beheerder_create("vo", organisatie=organisatie)
    grant_rol(AccountFactory(organisatie=organisatie), "osr", KenmerkFactory(organisatie=organisatie))
    review.access_review_reminders_send()
    cycle = AccessReview.objects.get(organisatie=organisatie)
    assert review.review_status(review=cycle) == review.ReviewStatus.DUE
    assert cycle.due_at > timezone.now() + timedelta(days=29)
    assert EmailOutbox.objects.filter(template=DUE_TEMPLATE).count() == 1


# --- The helpdesk ----------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, helpdesk):  # noqa: F811
    device = TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    assert admin_login(client, helpdesk, token=current_code(device)).status_code == 302
    return client


def test_helpdesk_sees_which_organisations_are_overdue_and_their_open_roles(admin_client):
    now = timezone.now()
    late = OrganisatieFactory(naam="Laatkomers College")
    on_time = OrganisatieFactory(naam="Optijd Lyceum")
    late_user = AccountFactory(organisatie=late, name="Lies Laat")
    grant_rol(late_user, "osr", KenmerkFactory(organisatie=late, waarde=late.instellingscode))
    AccessReview.objects.create(organisatie=late, started_at=now, due_at=now - timedelta(days=45))
    AccessReview.objects.create(organisatie=on_time, started_at=now, due_at=now + timedelta(days=200))
    url = reverse("admin:beheer_accessreview_changelist")
    html = admin_client.get(url, {"status": "overdue"}).content.decode()
    assert "Laatkomers College" in html and "Optijd Lyceum" not in html
    assert "te laat" in html and "0 van 1" in html
    html = admin_client.get(url).content.decode()
    assert "Laatkomers College" in html and "Optijd Lyceum" in html
    cycle = AccessReview.objects.get(organisatie=late)
    detail = admin_client.get(reverse("admin:beheer_accessreview_change", args=[cycle.pk])).content.decode()
    assert "Lies Laat" in detail
    assert RolToekenning.objects.filter(account=late_user).exists()


def test_helpdesk_keeps_the_undecided_roles_of_an_overdue_review_and_it_completes(admin_client, helpdesk):  # noqa: F811
    now = timezone.now()
    late = OrganisatieFactory(naam="Laatkomers College")
    beheerder = beheerder_create("vo", organisatie=late)
    kenmerk = KenmerkFactory(organisatie=late, waarde=late.instellingscode)
    decided = grant_rol(AccountFactory(organisatie=late), "osr", kenmerk)
    undecided = grant_rol(
        AccountFactory(organisatie=late), "po_informatiediensten", kenmerk
    )  # no beheerder's
    cycle = AccessReview.objects.create(organisatie=late, started_at=now, due_at=now - timedelta(days=45))
    review.review_decide(beheerder=beheerder, keep_ids=[decided.pk], revoke_ids=[])
    not_yet = AccessReview.objects.create(
        organisatie=OrganisatieFactory(), started_at=now, due_at=now + timedelta(days=5)
    )
    data = {"action": "keep_undecided", "_selected_action": [cycle.pk, not_yet.pk]}
    # Without the confirmation page's reason nothing changes: the page asks for it.
    page = admin_client.post(reverse("admin:beheer_accessreview_changelist"), data)
    assert page.status_code == 200
    assert "De rollen zonder besluit behouden?" in page.content.decode()
    assert not AccessReviewDecision.objects.filter(toekenning_id=undecided.pk).exists()
    assert AccessReview.objects.get(pk=cycle.pk).completed_at is None
    response = admin_client.post(
        reverse("admin:beheer_accessreview_changelist"),
        {**data, "confirmed": "yes", "reason": "Beheerder onbereikbaar, ticket 4411"},
        follow=True,
    )
    html = response.content.decode()
    assert "1 rol behouden, controle afgerond." in html
    assert "Alleen een controle die te laat is" in html
    cycle.refresh_from_db()
    assert cycle.completed_by_id == helpdesk.pk
    decision = AccessReviewDecision.objects.get(toekenning_id=undecided.pk)
    assert decision.decision == "keep" and decision.decided_by_id == helpdesk.pk
    assert AuditEvent.objects.filter(
        action="access_review.decide",
        actor_id=helpdesk.pk,
        object_id=str(undecided.pk),
        detail__reason="Beheerder onbereikbaar, ticket 4411",
    ).exists()
    assert AccessReview.objects.get(pk=not_yet.pk).completed_at is None


def test_helpdesk_without_the_decide_permission_has_no_action(client):
    from tests.factories import StaffFactory

    staff = StaffFactory()
    staff.set_password("x-wachtwoord-lang-genoeg-1")
    staff.save()
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_accessreview"))
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    assert (
        admin_login(
            client, staff, token=current_code(device), password="x-wachtwoord-lang-genoeg-1"
        ).status_code
        == 302
    )
    html = client.get(reverse("admin:beheer_accessreview_changelist")).content.decode()
    assert "keep_undecided" not in html
