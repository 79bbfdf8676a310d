"""``"²".isdigit()`` is true but ``int("²")`` fails: every id or number read from a request is checked as
ASCII digits, so such input is a Dutch 400 (or ignored), never a server error (security review)."""

import pytest
from django.urls import reverse

from accounts.constants import AuditResult
from accounts.models import AuditEvent
from diensten.services import max_age_parse

pytestmark = pytest.mark.django_db

SUPERSCRIPT = "²"


def test_letters_of_a_selection_with_a_superscript_id_is_a_dutch_400(beheer_client):
    response = beheer_client.get(reverse("beheer:brieven"), {"id": SUPERSCRIPT})
    assert response.status_code == 400
    assert "Selecteer" in response.content.decode()


def test_a_bulk_selection_with_a_superscript_id_is_a_dutch_400(beheer_client, gebruiker):
    response = beheer_client.get(reverse("beheer:selectie"), {"actie": "brieven", "id": [gebruiker.pk, "1²"]})
    assert response.status_code == 400
    assert "Selecteer" in response.content.decode()


def test_a_forged_role_post_with_a_superscript_is_refused_and_audited(beheer_client, gebruiker, kenmerk):
    url = reverse("beheer:rol_toekennen", args=[gebruiker.pk])
    response = beheer_client.post(url, {"rol": SUPERSCRIPT, "kenmerk": SUPERSCRIPT})
    assert response.status_code == 400
    assert "Verbeter het volgende" in response.content.decode()
    assert AuditEvent.objects.filter(result=AuditResult.REFUSED, detail__error_code="unknown_choice").exists()


def test_a_huge_number_in_a_forged_role_post_is_refused(beheer_client, gebruiker):
    url = reverse("beheer:rol_toekennen", args=[gebruiker.pk])
    assert beheer_client.post(url, {"rol": "9" * 5000, "kenmerk": ""}).status_code == 400


def test_max_age_with_a_superscript_is_unreadable():
    assert max_age_parse(SUPERSCRIPT) is None
    assert max_age_parse("3²") is None
    assert max_age_parse("30") == 30


def test_the_review_page_with_a_superscript_id_is_a_dutch_400(beheer_client):
    response = beheer_client.post("/beheer/toegangscontrole/", {"confirm": "1", "keep": [SUPERSCRIPT]})
    assert response.status_code == 400
