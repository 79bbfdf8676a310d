"""Helpdesk admin actions on accounts go through the same services as the screens, and are audited."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEvent, BeheerautorisatieToekenning, EmailOutbox
from koppeling.models import KoppelAttemptCounter, Koppeling
from tests.accounts.test_admin import admin_login, current_code, helpdesk  # noqa: F401 (fixture)
from tests.factories import KoppelingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, helpdesk):  # noqa: F811
    device = TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    assert admin_login(client, helpdesk, token=current_code(device)).status_code == 302
    return client


def _action(client, action, *accounts):
    """Run a bulk action through its confirmation page (tests/beheer/test_helpdesk_account.py)."""
    return client.post(
        reverse("admin:accounts_account_changelist"),
        {
            "action": action,
            "_selected_action": [a.pk for a in accounts],
            "confirmed": "yes",
            "reason": "Telefoontje van de gebruiker",
        },
        follow=True,
    )


def _audited(action, account, actor):
    return AuditEvent.objects.filter(action=action, actor_id=actor.pk, object_id=str(account.pk))


def test_new_activation_code(admin_client, helpdesk, gebruiker):  # noqa: F811
    response = _action(admin_client, "send_activation_code", gebruiker)
    assert response.status_code == 200
    assert EmailOutbox.objects.filter(account=gebruiker, template="koppeling/email/activation_code").exists()
    assert (
        _audited("admin.change", gebruiker, helpdesk)
        .filter(detail__change="action:send_activation_code")
        .exists()
    )


def test_undo_link(admin_client, helpdesk, gebruiker):  # noqa: F811
    koppeling = KoppelingFactory(account=gebruiker)
    _action(admin_client, "undo_link", gebruiker)
    koppeling.refresh_from_db()
    assert koppeling.ended_at is not None and koppeling.ended_reason == "helpdesk"
    assert AuditEvent.objects.filter(action="link.undo", actor_id=helpdesk.pk).exists()
    assert Koppeling.objects.filter(account=gebruiker, ended_at=None).count() == 0


def test_lift_block(admin_client, helpdesk, gebruiker):  # noqa: F811
    KoppelAttemptCounter.objects.create(
        key=f"u:{gebruiker.username}", failures=5, blocked_until=timezone.now() + timedelta(minutes=15)
    )
    _action(admin_client, "lift_block", gebruiker)
    counter = KoppelAttemptCounter.objects.filter(key=f"u:{gebruiker.username}").first()
    assert counter is None or not counter.blocked_until or counter.blocked_until <= timezone.now()
    assert _audited("koppel.unblock", gebruiker, helpdesk).exists()


def test_revoke_beheerautorisaties(admin_client, helpdesk, beheerder):  # noqa: F811
    _action(admin_client, "revoke_beheerautorisaties", beheerder)
    assert not BeheerautorisatieToekenning.objects.filter(account=beheerder).exists()
    assert _audited("beheerautorisatie.revoke", beheerder, helpdesk).exists()
    beheerder.refresh_from_db()
    assert beheerder.is_active  # the account stays a user (form part 4)
