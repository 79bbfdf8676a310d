"""An Onderwerp whose rol an enabled Dienst serves opens the Dienst (issue 18, point 2), and the
overview's query count stays what design.md §7 P2 allows."""

import pytest
from django.urls import reverse

from diensten.models import Dienst
from diensten.services import dienst_client_save
from tests.accounts.test_overview import overview_queries, user_with_roles

pytestmark = pytest.mark.django_db


def _dienst(rol, *, enabled: bool, code="osr") -> Dienst:
    dienst, _secret = dienst_client_save(
        dienst=Dienst(
            code=code,
            naam_nl="Onderwijs Service Register",
            naam_en="Education Service Register",
            launch_url=f"https://{code}.dienst.example/start",
            enabled=enabled,
        ),
        redirect_uris=f"https://{code}.dienst.example/oidc/callback",
        post_logout_redirect_uris="",
    )
    dienst.rollen.set([rol])
    return dienst


def test_an_onderwerp_of_an_enabled_dienst_links_to_its_launch_url(client):
    account, [rol, other] = user_with_roles(2)
    _dienst(rol, enabled=True)
    client.force_login(account)
    page = client.get("/overzicht/").content.decode()
    assert 'href="https://osr.dienst.example/start"' in page
    assert f'href="{reverse("onderwerp", args=[other.code])}"' in page
    assert f'href="{reverse("onderwerp", args=[rol.code])}"' not in page


def test_a_disabled_dienst_leaves_the_onderwerp_page_and_enabling_it_shows_at_once(client):
    account, [rol] = user_with_roles(1)
    dienst = _dienst(rol, enabled=False)
    client.force_login(account)
    page = client.get("/overzicht/").content.decode()
    assert "osr.dienst.example" not in page
    assert f'href="{reverse("onderwerp", args=[rol.code])}"' in page
    dienst.enabled = True
    dienst.save()
    assert 'href="https://osr.dienst.example/start"' in client.get("/overzicht/").content.decode()


def test_diensten_add_no_query_to_the_overview(client):
    one, [rol] = user_with_roles(1)
    thirty, rollen = user_with_roles(30)
    before = overview_queries(client, thirty)
    _dienst(rol, enabled=True)
    for index, each in enumerate(rollen[:10]):
        _dienst(each, enabled=True, code=f"dienst{index}")
    few_cold, few = overview_queries(client, one)
    many_cold, many = overview_queries(client, thirty)
    assert (few_cold, few) == (many_cold, many) == before
    assert few == 3
