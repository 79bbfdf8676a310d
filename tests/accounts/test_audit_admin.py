"""The audit trail for people (issue 15 item 2): Dutch labels, links, readable detail, filters, CSV export."""

import csv
import io
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.audit import audit_log
from accounts.models import AuditEvent
from koppeling.lockout import LIMIT
from koppeling.services import koppel_attempt
from tests.accounts.test_admin import PASSWORD, admin_login, current_code, helpdesk  # noqa: F401 (fixture)
from tests.factories import AccountFactory, KoppelingFactory, OrganisatieFactory, StaffFactory
from tests.koppeling.conftest import FAST_HASHERS, identity_for

pytestmark = pytest.mark.django_db

WRONG = "AAAA-AAAA-AAAA"
TRAIL = "admin:accounts_auditevent_changelist"
EXPORT = "admin:accounts_auditevent_export"


@pytest.fixture(autouse=True)
def fast_hashers(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def admin_client(client, helpdesk):  # noqa: F811
    device = TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    assert admin_login(client, helpdesk, token=current_code(device)).status_code == 302
    return client


def result_rows(response) -> str:
    html = response.content.decode()
    start = html.index('id="result_list"')
    return html[start : html.index("</table>", start)]


def blocked_attempts(account, *, pseudonym="p-spray"):
    """Five wrong tries block the username; the sixth is refused unevaluated."""
    identity = identity_for(account, pseudonym=pseudonym)
    for _n in range(LIMIT + 1):
        koppel_attempt(identity=identity, username=account.username, code=WRONG, ip="192.0.2.7")
    return identity


def test_actions_and_results_are_dutch_labels_with_actor_and_object_as_links(admin_client, helpdesk):  # noqa: F811
    account = AccountFactory()
    audit_log(action="koppel.attempt", result="refused", actor=helpdesk, obj=account)
    response = admin_client.get(reverse(TRAIL))
    assert response.status_code == 200
    rows = result_rows(response)
    assert "koppelpoging" in rows and "geweigerd" in rows
    assert "koppel.attempt" not in rows and ">refused<" not in rows
    assert reverse("admin:accounts_account_helpdesk", args=[helpdesk.pk]) in rows  # actor
    assert reverse("admin:accounts_account_helpdesk", args=[account.pk]) in rows  # object


def test_object_of_another_type_links_to_its_admin_page(admin_client):
    koppeling = KoppelingFactory()
    audit_log(action="link.create", obj=koppeling)
    rows = result_rows(admin_client.get(reverse(TRAIL)))
    assert reverse("admin:koppeling_koppeling_change", args=[koppeling.pk]) in rows


def test_detail_is_a_readable_list_not_json(admin_client):
    account = AccountFactory()
    blocked_attempts(account)
    event = AuditEvent.objects.filter(action="koppel.attempt", result="refused").latest("id")
    html = admin_client.get(reverse("admin:accounts_auditevent_change", args=[event.pk])).content.decode()
    assert '<dl class="audit-detail">' in html
    assert "<dt>gebruikersnaam</dt>" in html and f"<dd>{account.username}</dd>" in html
    assert "eHerkenning-identiteit geblokkeerd" in html  # the reason code as words
    assert (
        "identity_blocked" not in html
        and "koppel.attempt" not in html
        and "{&quot;" not in html
        and '{"' not in html
    )


def test_refused_attempt_during_a_block_is_found_by_the_tried_username(admin_client):
    account = AccountFactory()
    other = AccountFactory()
    blocked_attempts(account)
    blocked_attempts(other, pseudonym="p-other")
    response = admin_client.get(
        reverse(TRAIL), {"gebruikersnaam": account.username.lower(), "result": "refused"}
    )
    assert response.status_code == 200
    found = response.context["cl"].result_list
    assert len(found) == 1
    assert found[0].detail["reason"] == "identity_blocked" and found[0].object_id == str(account.pk)


def test_filter_by_organisation_and_by_account_link(admin_client, helpdesk):  # noqa: F811
    school = OrganisatieFactory(naam="Het Zonnewiel")
    elsewhere = AccountFactory()
    account = AccountFactory(organisatie=school)
    audit_log(action="account.update", actor=helpdesk, obj=account)
    audit_log(action="account.update", actor=helpdesk, obj=elsewhere)
    audit_log(action="organisatie.update", actor=helpdesk, obj=school)
    found = admin_client.get(reverse(TRAIL), {"organisatie": "zonnewiel"}).context["cl"].result_list
    assert {(event.object_type, event.object_id) for event in found} == {
        ("accounts.Account", str(account.pk)),
        ("accounts.Organisatie", str(school.pk)),
    }
    by_kvk = admin_client.get(reverse(TRAIL), {"organisatie": school.kvk_nummer}).context["cl"].result_list
    assert len(by_kvk) == 2
    by_account = admin_client.get(reverse(TRAIL), {"account_id": elsewhere.pk}).context["cl"].result_list
    assert [event.object_id for event in by_account] == [str(elsewhere.pk)]


def test_filter_by_action_result_and_date_range(admin_client):
    zone = timezone.get_current_timezone()
    for day, action, result in [
        (1, "link.create", "success"),
        (5, "link.undo", "success"),
        (9, "link.undo", "failure"),
    ]:
        AuditEvent.objects.create(
            created_at=datetime(2026, 3, day, 12, tzinfo=zone), action=action, result=result
        )
    listed = lambda **params: [  # noqa: E731
        event.created_at.day for event in admin_client.get(reverse(TRAIL), params).context["cl"].result_list
    ]
    assert listed(van="2026-03-02", tot="2026-03-09") == [9, 5]
    assert listed(van="2026-03-05", tot="2026-03-05") == [5]
    assert listed(action="link.undo", result="success") == [5]
    page = admin_client.get(reverse(TRAIL)).content.decode()
    for label in (
        "Vanaf (datum)",
        "Tot en met (datum)",
        "Organisatie (naam of nummer)",
        "Account (gebruikersnaam)",
    ):
        assert label in page
    for name in ("van", "tot", "organisatie", "gebruikersnaam"):
        assert f'for="id_{name}"' in page


def test_an_invalid_date_gets_a_dutch_message_and_a_400(admin_client):
    response = admin_client.get(reverse(TRAIL), {"van": "gisteren"})
    assert response.status_code == 400
    assert "niet geldig" in response.content.decode()
    assert admin_client.get(reverse(EXPORT), {"van": "2026-13-45"}).status_code == 400


def test_csv_export_of_the_filtered_selection_is_streamed_safe_and_audited(admin_client, helpdesk):  # noqa: F811
    target = AccountFactory(name='=HYPERLINK("http://evil.example")')
    bystander = AccountFactory()
    audit_log(action="account.update", actor=helpdesk, obj=target, detail={"reason": "+31 6 1234"})
    audit_log(action="account.update", actor=helpdesk, obj=bystander)
    response = admin_client.get(reverse(EXPORT), {"account_id": target.pk})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:4] == ["tijdstip (UTC)", "actie", "actiecode", "resultaat"]
    assert len(rows) == 2  # only the filtered selection
    assert rows[1][1] == "account gewijzigd" and rows[1][2] == "account.update"
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell
    assert rows[1][8].startswith("'=HYPERLINK")
    export = AuditEvent.objects.get(action="audit.export")
    assert export.actor_id == helpdesk.pk and f"account_id={target.pk}" in export.detail["filters"]


def test_the_export_is_offered_with_the_current_filters(admin_client):
    page = admin_client.get(reverse(TRAIL), {"result": "refused"}).content.decode()
    assert reverse(EXPORT) + "?result=refused" in page


def test_the_trail_stays_append_only(admin_client):
    event = audit_log(action="account.update")
    assert admin_client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:accounts_auditevent_delete", args=[event.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    html = admin_client.get(reverse("admin:accounts_auditevent_change", args=[event.pk])).content.decode()
    assert 'name="_save"' not in html
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.fixture
def other_staff_client(client):
    staff = StaffFactory()
    staff.set_password(PASSWORD)
    staff.save()
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    assert admin_login(client, staff, token=current_code(device)).status_code == 302
    return client


def test_staff_without_the_helpdesk_permissions_gets_403(other_staff_client):
    audit_log(action="account.update")
    assert other_staff_client.get(reverse(TRAIL)).status_code == 403
    assert other_staff_client.get(reverse(EXPORT)).status_code == 403
    # Nothing exported; the refusal itself is audited.
    assert not AuditEvent.objects.filter(action="audit.export").exclude(result="refused").exists()
    assert AuditEvent.objects.filter(action="audit.export", result="refused").exists()


def test_the_trail_list_query_count_does_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    for _n in range(30):
        audit_log(action="account.update", obj=AccountFactory())
    with django_assert_max_num_queries(12):
        assert (
            admin_client.get(
                reverse(TRAIL), {"van": (timezone.now() - timedelta(days=1)).date().isoformat()}
            ).status_code
            == 200
        )


def test_every_action_and_result_has_a_dutch_label():
    from django.utils import translation

    from accounts.constants import AuditAction, AuditResult

    untranslated = []
    for code, label in [*AuditAction.choices, *AuditResult.choices]:
        with translation.override("en"):
            english = str(label)
        with translation.override("nl"):
            if str(label) == english:
                untranslated.append(code)
    assert untranslated == []


def test_organisation_and_account_pages_link_to_their_trail_and_screen(admin_client, helpdesk):  # noqa: F811
    school = OrganisatieFactory(naam="Het Zonnewiel")
    account = AccountFactory(organisatie=school)
    audit_log(action="account.update", actor=helpdesk, obj=account)
    audit_log(action="account.update", actor=helpdesk, obj=AccountFactory())
    page = admin_client.get(reverse("admin:accounts_organisatie_change", args=[school.pk])).content.decode()
    link = reverse(TRAIL) + f"?organisatie_id={school.pk}"
    assert link in page
    found = admin_client.get(link).context["cl"].result_list
    assert [event.object_id for event in found] == [str(account.pk)]
    page = admin_client.get(reverse("admin:accounts_account_change", args=[account.pk])).content.decode()
    assert reverse("admin:accounts_account_helpdesk", args=[account.pk]) in page
