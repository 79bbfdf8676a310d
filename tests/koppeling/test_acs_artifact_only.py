"""The ACS with HTTP-Artifact as the only response binding: the default of production and `make run`.

The test profile accepts HTTP-POST as well, so the suite's logins alone could not see that a resolved
Response was checked against the HTTP-POST ACS addresses, which are none when only the artifact
binding is enabled: pysaml2 then refused every login ("destination … not in return addresses '[]'").
"""

import pytest

from accounts.models import Account
from koppeling.dev_broker.testing import LOA3, saml_login
from koppeling.models import Koppeling
from koppeling.saml.config import sp_config_reset
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

PSEUDONYM = "pseudo-artifact-only"


@pytest.fixture
def artifact_only(settings):
    settings.EHERKENNING_RESPONSE_BINDINGS = ["artifact"]
    sp_config_reset()
    yield
    sp_config_reset()


def test_linked_identity_logs_in_when_only_the_artifact_binding_is_enabled(client, artifact_only):
    account = AccountFactory()
    Koppeling.objects.create(
        account=account,
        acting_subject_id=PSEUDONYM,
        legal_subject_id=account.organisatie.kvk_nummer,
        level=LOA3,
    )

    response = saml_login(client, PSEUDONYM, account.organisatie.kvk_nummer)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == "/overzicht/"
    assert client.get("/overzicht/").status_code == 200
    assert Account.objects.get(pk=account.pk).last_login is not None


def test_unknown_identity_goes_to_the_koppel_wizard_when_only_the_artifact_binding_is_enabled(
    client, artifact_only
):
    response = saml_login(client, "pseudo-not-linked", "41012345")

    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == "/koppelen/"
