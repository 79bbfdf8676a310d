"""Issue 16 item 2 (part): the letters of a selection as one PDF, one page per person, in list order."""

from io import BytesIO

import pytest
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import AuditEvent
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

URL = "/beheer/brieven/"


def test_selected_letters_come_as_one_pdf_in_the_given_order(beheer_client, organisatie, beheerder):
    people = AccountFactory.create_batch(3, organisatie=organisatie)
    order = [people[2], people[0], people[1]]
    response = beheer_client.get(URL, {"id": [p.pk for p in order]})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(BytesIO(response.content))
    assert len(reader.pages) == 3
    for page, person in zip(reader.pages, order, strict=True):
        assert person.username in page.extract_text()
    for person in people:
        assert AuditEvent.objects.filter(
            action="letter.download", actor_id=beheerder.pk, object_id=str(person.pk)
        ).exists()


def test_the_list_offers_the_selection(beheer_client, gebruiker):
    html = beheer_client.get("/beheer/").content.decode()
    assert 'action="/beheer/brieven/"' in html
    assert f'name="id" value="{gebruiker.pk}"' in html


def test_another_organisations_id_in_the_selection_is_404(beheer_client, gebruiker, other_gebruiker):
    response = beheer_client.get(URL, {"id": [gebruiker.pk, other_gebruiker.pk]})
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="letter.download").exists()


def test_a_removed_user_gets_no_letter(beheer_client, organisatie):
    removed = AccountFactory(organisatie=organisatie, removed_at=timezone.now(), is_active=False)
    assert beheer_client.get(URL, {"id": [removed.pk]}).status_code == 404


def test_user_without_beheerautorisatie_gets_403(client, organisatie, gebruiker):
    client.force_login(AccountFactory(organisatie=organisatie))
    assert client.get(URL, {"id": [gebruiker.pk]}).status_code == 403


@pytest.mark.parametrize("ids", [[], ["abc"], ["1" * 40], ["1"] * 101])
def test_an_empty_or_bad_selection_is_a_dutch_400(beheer_client, ids):
    response = beheer_client.get(URL, {"id": ids})
    assert response.status_code == 400
    assert "Selecteer" in response.content.decode()
