"""The helpdesk (the Helpdesk group, not a superuser) registers and switches off a Dienst in the admin."""

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.helpdesk import helpdesk_group_sync
from diensten.models import Dienst
from diensten.services import dienst_client_save
from tests.accounts.test_admin import PASSWORD, admin_login, current_code
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def helpdesk_client():
    staff = StaffFactory()
    staff.set_password(PASSWORD)
    staff.save()
    staff.groups.add(helpdesk_group_sync())
    client = Client()
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    assert admin_login(client, staff, token=current_code(device)).status_code == 302
    return client


def test_the_helpdesk_opens_the_dienst_list_and_the_form_to_register_one(helpdesk_client):
    assert helpdesk_client.get("/admin/diensten/dienst/").status_code == 200
    assert helpdesk_client.get("/admin/diensten/dienst/add/").status_code == 200


def test_the_helpdesk_cannot_delete_a_dienst_only_switch_it_off(helpdesk_client):
    dienst, _secret = dienst_client_save(
        dienst=Dienst(code="osr", naam_nl="OSR", naam_en="OSR", launch_url="https://osr.example/"),
        redirect_uris="https://osr.example/oidc/callback",
        post_logout_redirect_uris="https://osr.example/",
    )
    assert helpdesk_client.get(f"/admin/diensten/dienst/{dienst.pk}/change/").status_code == 200
    assert helpdesk_client.get(f"/admin/diensten/dienst/{dienst.pk}/delete/").status_code == 403
