"""The helpdesk (the Helpdesk group, not a superuser) registers and switches off a Dienst in the admin."""

import pytest

from diensten.models import Dienst
from diensten.services import dienst_client_save

pytestmark = pytest.mark.django_db


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
