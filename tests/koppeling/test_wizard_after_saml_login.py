"""The koppelproces end to end through the real SAML path: dev broker → ACS → wizard → overview."""

import pytest
from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY

from koppeling.dev_broker.testing import saml_login
from koppeling.models import Koppeling
from koppeling.services import activation_code_issue
from tests.factories import AccountFactory

from .conftest import koppel_post, walk_to_koppel

pytestmark = pytest.mark.django_db


def test_first_saml_login_walks_the_wizard_and_the_next_login_goes_to_the_overview(client):
    account = AccountFactory()
    code = activation_code_issue(account=account)
    kvk = account.organisatie.kvk_nummer

    response = saml_login(client, "pseudonym-e2e", kvk)
    assert response.status_code == 302 and response["Location"] == "/koppelen/"
    assert AUTH_SESSION_KEY not in client.session  # an unlinked identity is not logged in
    assert "Voordat u begint" in client.get("/koppelen/").content.decode()
    walk_to_koppel(client)
    assert koppel_post(client, account.username, code)["Location"] == "/koppelen/gelukt/"
    assert int(client.session[AUTH_SESSION_KEY]) == account.pk
    koppeling = Koppeling.objects.get(account=account, ended_at__isnull=True)
    assert (koppeling.acting_subject_id, koppeling.legal_subject_id) == ("pseudonym-e2e", kvk)
    assert koppeling.level == "urn:etoegang:core:assurance-class:loa3"

    client.logout()
    response = saml_login(client, "pseudonym-e2e", kvk)
    assert response["Location"] == "/overzicht/"
    assert int(client.session[AUTH_SESSION_KEY]) == account.pk
    assert client.get("/koppelen/")["Location"] == "/overzicht/"


def test_a_login_on_its_way_elsewhere_continues_there_after_the_wizard(client):
    """An unlinked user sent to eHerkenning by a DUO service's authorize request links first, then
    goes on to that request instead of to the overview (issue 18: next was lost in the wizard)."""
    account = AccountFactory()
    code = activation_code_issue(account=account)
    destination = "/o/authorize/?client_id=dienst&state=abc"

    response = saml_login(client, "pseudonym-next", account.organisatie.kvk_nummer, next=destination)
    assert response["Location"] == "/koppelen/"
    walk_to_koppel(client)
    assert koppel_post(client, account.username, code)["Location"] == "/koppelen/gelukt/"
    page = client.get("/koppelen/gelukt/").content.decode()
    assert 'href="/o/authorize/?client_id=dienst&amp;state=abc"' in page


def test_the_wizard_ends_on_the_overview_without_a_next_and_never_off_site(client):
    account = AccountFactory()
    code = activation_code_issue(account=account)
    response = saml_login(
        client, "pseudonym-offsite", account.organisatie.kvk_nummer, next="https://evil.example/"
    )
    assert response["Location"] == "/koppelen/"
    walk_to_koppel(client)
    koppel_post(client, account.username, code)
    assert 'href="/overzicht/"' in client.get("/koppelen/gelukt/").content.decode()
