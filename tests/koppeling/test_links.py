"""Undoing links (beheerder, helpdesk, 18-month job), the helpdesk admin and the demo states."""

import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Account, AuditEvent
from koppeling.models import ActivationCode, Koppeling, UnlinkReason
from koppeling.selectors import blocked_usernames
from koppeling.services import link_undo
from tests.factories import AccountFactory, KoppelingFactory, StaffFactory

from .conftest import identity_for, identity_put, koppel_post, walk_to_koppel

pytestmark = pytest.mark.django_db


def test_link_undo_ends_the_link_audits_and_mails_a_notice(django_capture_on_commit_callbacks):
    koppeling = KoppelingFactory()
    beheerder = AccountFactory(organisatie=koppeling.account.organisatie)
    with django_capture_on_commit_callbacks(execute=True):
        link_undo(koppeling=koppeling, reason=UnlinkReason.STOLEN, actor=beheerder)
    koppeling.refresh_from_db()
    assert koppeling.ended_at is not None and koppeling.ended_reason == "stolen"
    assert koppeling.ended_by == beheerder
    event = AuditEvent.objects.get(action="link.undo")
    assert event.actor_id == beheerder.pk and event.detail["reason"] == "stolen"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [koppeling.account.email]
    assert "ongedaan gemaakt" in mail.outbox[0].subject
    assert "gestolen" in mail.outbox[0].body
    assert Account.objects.filter(pk=koppeling.account.pk, is_active=True).exists()  # the account stays


def test_undoing_a_link_ends_the_users_live_session_at_once(client):
    koppeling = KoppelingFactory()
    client.force_login(koppeling.account)
    assert client.get("/overzicht/").status_code == 200
    link_undo(koppeling=koppeling, reason=UnlinkReason.STOLEN, actor=None)
    response = client.get("/overzicht/")
    assert response.status_code == 302
    assert response["Location"].startswith("/saml2/login/")


def test_undoing_twice_audits_and_mails_once(django_capture_on_commit_callbacks):
    koppeling = KoppelingFactory()
    with django_capture_on_commit_callbacks(execute=True):
        link_undo(koppeling=koppeling, reason=UnlinkReason.INACTIVE, actor=None)
        link_undo(koppeling=koppeling, reason=UnlinkReason.INACTIVE, actor=None)
    assert AuditEvent.objects.filter(action="link.undo").count() == 1
    assert len(mail.outbox) == 1 and "18 maanden" in mail.outbox[0].body


def test_after_an_undo_the_user_can_link_again_with_a_new_code(client):
    from koppeling.services import activation_code_issue

    koppeling = KoppelingFactory()
    account = koppeling.account
    identity = identity_for(account, pseudonym="new-means")
    link_undo(koppeling=koppeling, reason=UnlinkReason.LOST, actor=None)
    code = activation_code_issue(account=account)
    identity_put(client, identity)
    walk_to_koppel(client)
    assert koppel_post(client, account.username, code)["Location"] == reverse("koppeling:gelukt")
    assert Koppeling.objects.get(account=account, ended_at__isnull=True).acting_subject_id == "new-means"


def _helpdesk_client(client, **fields):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    staff = StaffFactory(**fields)
    device = TOTPDevice.objects.create(user=staff, name="t", confirmed=True)
    client.force_login(staff)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return staff


def test_helpdesk_undoes_a_link_in_the_admin(client, django_capture_on_commit_callbacks):
    koppeling = KoppelingFactory()
    staff = _helpdesk_client(client, is_superuser=True)
    changelist = reverse("admin:koppeling_koppeling_changelist")
    selection = {"action": "undo_links", "_selected_action": [koppeling.pk]}
    assert client.post(changelist, selection).status_code == 200  # the confirmation page first
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(changelist, {**selection, "confirmed": "yes", "reason": "Middel gestolen"})
    assert response.status_code == 302
    koppeling.refresh_from_db()
    assert koppeling.ended_reason == "helpdesk" and koppeling.ended_by == staff
    assert AuditEvent.objects.filter(action="link.undo", actor_id=staff.pk).exists()
    assert client.get(reverse("admin:koppeling_koppeling_add")).status_code == 403
    change = client.get(reverse("admin:koppeling_koppeling_change", args=[koppeling.pk]))
    assert change.status_code == 200 and koppeling.legal_subject_id in change.content.decode()


def test_helpdesk_group_can_use_the_koppel_admin(client):
    from accounts.helpdesk import helpdesk_group_sync
    from koppeling.lockout import lockout

    lockout.reserve("u:SOMEONE1")
    staff = _helpdesk_client(client)
    staff.groups.add(helpdesk_group_sync())
    assert client.get(reverse("admin:koppeling_koppeling_changelist")).status_code == 200
    page = client.get(reverse("admin:koppeling_koppelattemptcounter_changelist"))
    assert page.status_code == 200 and "Blokkade opheffen" in page.content.decode()


def test_demo_states_code_sent_and_blocked(capsys, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("demo_data")
    bram = Account.objects.get(email="bram@noordercollege.example")
    gert = Account.objects.get(email="gert@noordercollege.example")
    assert ActivationCode.objects.filter(
        account=bram, used_at__isnull=True, invalidated_at__isnull=True
    ).exists()
    code_mails = [m for m in mail.outbox if m.to == [bram.email]]
    assert len(code_mails) == 1 and re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code_mails[0].body)
    assert blocked_usernames(usernames=[gert.username, bram.username]) == {gert.username}
    assert bram.username in capsys.readouterr().out


def test_a_parallel_link_of_the_same_identity_is_refused_not_a_500(monkeypatch):
    """Two accounts linked by one identity at the same moment: the unique index decides, cleanly."""
    from koppeling.services import LinkRefusedError, link_create

    first, second = AccountFactory(), AccountFactory()
    identity = identity_for(second, pseudonym="racer")
    real_create = Koppeling.objects.create

    def create_after_the_other_request(**fields):
        # the other request commits its link between our "already linked?" check and our insert
        Koppeling.objects.bulk_create(
            [Koppeling(**{**fields, "account": first, "legal_subject_id": identity.legal_subject_id})]
        )
        return real_create(**fields)

    monkeypatch.setattr(Koppeling.objects, "create", create_after_the_other_request)
    with pytest.raises(LinkRefusedError) as refusal:
        link_create(account=second, identity=identity, ip="192.0.2.9")
    assert refusal.value.reason == "identity_linked"
    assert not Koppeling.objects.filter(account=second).exists()
