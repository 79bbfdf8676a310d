"""Issue 16 item 7: the three defects found by measurement, each fixed."""

from pathlib import Path

import pytest
from django.core import mail
from django.template.loader import get_template
from django.urls import reverse

from accounts.email import email_render
from accounts.models import AuditEvent, EmailOutbox, Rol, RolToekenning
from beheer import services

pytestmark = pytest.mark.django_db

NAME = "Sanne 't Hart-O'Neill & <Zn>"


def test_confirmation_mail_keeps_apostrophes_and_ampersands_in_names(
    beheerder, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.gebruiker_register(beheerder=beheerder, name=NAME, email="sanne@school.example")
    [message] = mail.outbox
    assert f"Beste {NAME}," in message.body
    assert "&#x27;" not in message.body and "&amp;" not in message.body


def _text_templates():
    root = Path(__file__).resolve().parents[2] / "templates"
    return sorted(str(path.relative_to(root)) for path in root.glob("*/email/*.txt"))


@pytest.mark.parametrize("template", _text_templates())
def test_every_plain_text_mail_renders_names_unescaped(template):
    """Every .txt mail template, with every context value set to a name full of HTML specials."""
    base = template.removesuffix(".txt").removesuffix("_subject")
    context = {key: NAME for key in ("name", "organisatie", "beheerder", "email", "old_email", "new_email")}
    context["pending"] = 3  # a count the access review reminders pluralise on (blocktranslate count)
    outbox = EmailOutbox(
        to="x@example.org", template=base, context=context, language="nl", message_id="<t@x>"
    )
    extra = {
        "code": "ABCD-EFGH",
        "url": "https://example.org/?a=1&b=2",
        "confirm_url": "https://example.org/?a=1&b=2",
    }
    message = email_render(outbox=outbox, extra_context=extra)
    text = message.subject if template.endswith("_subject.txt") else message.body
    assert "&#x27;" not in text and "&amp;" not in text and "&lt;" not in text
    assert get_template(template)  # the template exists under its name


@pytest.mark.parametrize("q", ["a" * 201, "Gijs\x00"])
def test_search_term_too_long_or_with_nul_is_a_dutch_400(beheer_client, gebruiker, q):
    response = beheer_client.get(reverse("beheer:gebruikers"), {"q": q})
    assert response.status_code == 400
    html = response.content.decode()
    assert "zoekterm" in html.lower()
    assert gebruiker.name not in html


def test_search_term_of_200_characters_is_accepted(beheer_client):
    assert beheer_client.get(reverse("beheer:gebruikers"), {"q": "a" * 200}).status_code == 200


def _refused_grants(account):
    return AuditEvent.objects.filter(action="rol.grant", result="refused", object_id=str(account.pk))


def test_forged_role_post_with_an_uncovered_role_is_audited_as_refused(
    beheer_client, beheerder, gebruiker, kenmerk
):
    url = reverse("beheer:rol_toekennen", args=[gebruiker.pk])
    response = beheer_client.post(url, {"rol": Rol.objects.get(code="rmc").pk, "kenmerk": kenmerk.pk})
    assert response.status_code in (400, 403)
    [event] = _refused_grants(gebruiker)
    assert event.actor_id == beheerder.pk
    assert event.detail["error_code"] == "rol_not_covered"
    assert not RolToekenning.objects.filter(account=gebruiker).exists()


def test_forged_role_post_with_a_foreign_kenmerk_is_audited_as_refused(
    beheer_client, gebruiker, other_kenmerk
):
    url = reverse("beheer:rol_toekennen", args=[gebruiker.pk])
    response = beheer_client.post(url, {"rol": Rol.objects.get(code="osr").pk, "kenmerk": other_kenmerk.pk})
    assert response.status_code in (400, 403)
    [event] = _refused_grants(gebruiker)
    assert event.detail["error_code"] == "kenmerk_other_organisation"
    assert not RolToekenning.objects.filter(account=gebruiker).exists()


def test_forged_role_post_with_unknown_ids_is_audited_as_refused(beheer_client, gebruiker):
    url = reverse("beheer:rol_toekennen", args=[gebruiker.pk])
    assert beheer_client.post(url, {"rol": "999999", "kenmerk": "abc"}).status_code == 400
    [event] = _refused_grants(gebruiker)
    assert event.detail["error_code"] == "unknown_choice"


def test_an_empty_role_form_is_a_mistake_not_an_attack(beheer_client, gebruiker):
    url = reverse("beheer:rol_toekennen", args=[gebruiker.pk])
    assert beheer_client.post(url, {"rol": "", "kenmerk": ""}).status_code == 400
    assert not _refused_grants(gebruiker).exists()
