"""The helpdesk's token-user enrolment with a device parameter that is digits to ``str.isdigit()`` but not to
``int()`` ("²"): sent back to start again, never a server error (security review)."""

import datetime

import pytest
from django.urls import reverse

from accounts.models import OverstapPlanning
from tests.accounts.test_admin import helpdesk, verified_client  # noqa: F401 (fixtures)
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("device", ["²", "9" * 5000])
def test_a_superscript_or_huge_device_is_start_again_not_a_500(verified_client, device):  # noqa: F811
    OverstapPlanning.objects.update_or_create(
        organisatie_type="onderwijsinstelling", defaults={"switch_date": datetime.date(2099, 1, 1)}
    )
    account = AccountFactory(name="Jan Kok")
    url = reverse("admin:accounts_account_token_user", args=[account.pk])
    response = verified_client.post(
        url, {"step": "confirm", "device": device, "otp_token": "123456"}, follow=True
    )
    assert response.status_code == 200
    assert "Begin opnieuw met het registreren van de token." in response.content.decode()
