"""The demo Dienst of the development profile (/dev/dienst/, diensten/demo_rp.py) against the live
portal: registered as demo_data registers it, a user with the OSR rol goes from the overview's link
into it logged in, sees their claims, and is logged out there by the portal's back-channel logout."""

import re

import pytest

from accounts.models import AuditEvent, Rol
from diensten.demo import demo_dienst_ensure
from diensten.models import BackchannelLogout

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def demo_site(issuer, settings):
    settings.SITE_URL = issuer
    return demo_dienst_ensure()


def test_the_overview_link_opens_the_demo_dienst_logged_in_with_the_claims(
    demo_site, issuer, portal_user, browser_for, client
):
    account, _koppeling, identity = portal_user([Rol.objects.get(code="osr")])
    browser = browser_for(account, identity)
    overview = browser.get(f"{issuer}/overzicht/", timeout=10)
    assert f'href="{issuer}/dev/dienst/"' in overview.text

    page = browser.get(f"{issuer}/dev/dienst/", timeout=20)  # login, authorize, callback, back
    assert page.status_code == 200, page.text
    assert page.url == f"{issuer}/dev/dienst/"
    assert f"Aangemeld als {account.name}." in page.text
    assert account.organisatie.naam in page.text
    assert "Onderwijs Service Register" in page.text and "(osr)" in page.text
    assert "urn:etoegang:core:assurance-class:loa3" in page.text
    assert AuditEvent.objects.filter(action="dienst.token", result="success", actor_id=account.pk).exists()

    client.logout()  # the portal session the browser carries: back-channel logout to the demo Dienst

    assert BackchannelLogout.objects.get().delivered_at is not None
    page = browser.get(f"{issuer}/dev/dienst/", timeout=10, allow_redirects=False)
    assert page.status_code == 200
    assert "back-channel logout" in page.text


def test_a_user_without_the_osr_rol_gets_access_denied_at_the_demo_dienst(
    demo_site, issuer, rollen, portal_user, browser_for
):
    other = Rol.objects.exclude(code="osr").first()
    account, _koppeling, identity = portal_user([other])
    page = browser_for(account, identity).get(f"{issuer}/dev/dienst/", timeout=20)
    assert page.status_code == 403
    assert "access_denied" in page.text


def test_demo_data_registration_is_idempotent_and_follows_the_site_url(demo_site, settings):
    sub_secret = demo_site.sub_secret
    settings.SITE_URL = "http://localhost:8001"
    again = demo_dienst_ensure()
    assert again.pk == demo_site.pk and again.sub_secret == sub_secret
    assert again.launch_url == "http://localhost:8001/dev/dienst/"
    assert again.application.redirect_uris == "http://localhost:8001/dev/dienst/callback/"
    assert list(again.rollen.values_list("code", flat=True)) == ["osr"]


def test_the_demo_dienst_refuses_a_forged_logout_token(demo_site, issuer):
    import requests

    answer = requests.post(
        f"{issuer}/dev/dienst/backchannel-logout/", data={"logout_token": "e30.e30.x"}, timeout=10
    )
    assert answer.status_code == 400


def test_logging_out_at_the_demo_dienst_ends_the_portal_session_too(
    demo_site, issuer, portal_user, browser_for
):
    account, _koppeling, identity = portal_user([Rol.objects.get(code="osr")])
    browser = browser_for(account, identity)
    page = browser.get(f"{issuer}/dev/dienst/", timeout=20)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    done = browser.post(
        f"{issuer}/dev/dienst/logout/",
        data={"csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{issuer}/dev/dienst/"},
        timeout=20,
    )
    assert done.url == f"{issuer}/dev/dienst/uitgelogd/"
    assert "U bent afgemeld bij de demodienst." in done.text
    assert browser.get(f"{issuer}/overzicht/", allow_redirects=False, timeout=10).status_code == 302
    assert AuditEvent.objects.filter(action="dienst.backchannel_logout", detail__via="end_session").exists()
