"""A pending forced password change that no longer holds (the password changed since the token login) is
discarded and the refusal audited (security review)."""

import pytest
from django.urls import reverse

from accounts.constants import AuditAction, AuditResult
from accounts.models import AuditEvent
from tests.accounts.test_token_users import (  # noqa: F401 (fixtures)
    TEMPORARY,
    planning,
    temporary_user,
    token_post,
)
from tests.factories import totp_code

pytestmark = pytest.mark.django_db


def test_a_pending_change_after_a_new_temporary_password_is_refused_and_audited(client, temporary_user):  # noqa: F811
    account, device = temporary_user
    token_post(client, account.username, TEMPORARY, totp_code(device))
    account.set_password("een ander tijdelijk wachtwoord 77")
    account.save()
    response = client.get(reverse("token_password_change"))
    assert response.status_code == 400
    assert AuditEvent.objects.filter(
        action=AuditAction.TOKEN_PASSWORD_CHANGE,
        result=AuditResult.REFUSED,
        object_id=str(account.pk),
        detail__reason_code="state_changed",
    ).exists()
