"""Mijn gegevens (seed 002 §1.7): own details, and a new e-mail address only after confirmation."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from accounts.models import AuditEvent, EmailOutbox, EmailWijziging
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://[^\s]+/mijn-gegevens/e-mail/([A-Za-z0-9_\-]+)/")


def post_details(client, account, **changes):
    data = {
        "name": account.name,
        "job_title": account.job_title,
        "phone": account.phone,
        "email": account.email,
    }
    data.update(changes)
    return client.post("/mijn-gegevens/", data)


def request_change(client, account, django_capture_on_commit_callbacks, new="nieuw@school.example") -> str:
    """Ask for a new address and return the token from the mail sent to it."""
    with django_capture_on_commit_callbacks(execute=True):
        response = post_details(client, account, email=new)
    assert response.status_code == 302
    [message] = [m for m in mail.outbox if m.to == [new]]
    return LINK.search(message.body).group(1)


@pytest.fixture
def account(client):
    account = AccountFactory(email="oud@school.example")
    client.force_login(account)
    return account


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/mijn-gegevens/")
    assert response.status_code == 302
    assert response["Location"].startswith("/saml2/login/?next=")


def test_user_changes_name_job_title_and_phone_at_once(client, account):
    response = post_details(
        client, account, name="A. de Vries", job_title="Directeur", phone="+31 50 765 4321"
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.name, account.job_title, account.phone) == ("A. de Vries", "Directeur", "+31 50 765 4321")
    event = AuditEvent.objects.filter(action="account.update", object_id=str(account.pk)).get()
    assert event.detail["fields"] == "name,job_title,phone"
    assert "A. de Vries" not in str(event.detail)  # field names, never values


def test_invalid_details_give_a_dutch_error_summary_and_400(client, account):
    response = post_details(client, account, name="", phone="bel me maar", email="geen-adres")
    assert response.status_code == 400
    text = response.content.decode()
    assert "Er is een probleem" in text
    assert 'href="#id_phone"' in text and 'href="#id_email"' in text and 'href="#id_name"' in text
    account.refresh_from_db()
    assert account.email == "oud@school.example"


def test_new_email_takes_effect_only_after_the_confirmation_link(
    client, account, django_capture_on_commit_callbacks
):
    token = request_change(client, account, django_capture_on_commit_callbacks)
    account.refresh_from_db()
    assert account.email == "oud@school.example"  # not yet
    assert token not in str(EmailOutbox.objects.values_list("context", flat=True))  # never stored
    confirm_url = f"/mijn-gegevens/e-mail/{token}/"
    page = client.get(confirm_url)
    assert page.status_code == 200 and "nieuw@school.example" in page.content.decode()
    account.refresh_from_db()
    assert account.email == "oud@school.example"  # a GET (mail scanner) changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(confirm_url)
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.email == "nieuw@school.example"
    assert any(m.to == ["oud@school.example"] for m in mail.outbox)  # notice to the old address
    assert AuditEvent.objects.filter(detail__change="email_change_confirmed").count() == 1


def test_confirmation_link_is_single_use(client, account, django_capture_on_commit_callbacks):
    token = request_change(client, account, django_capture_on_commit_callbacks)
    client.post(f"/mijn-gegevens/e-mail/{token}/")
    response = client.post(f"/mijn-gegevens/e-mail/{token}/")
    assert response.status_code == 410
    assert "al gebruikt" in response.content.decode()


def test_wrong_confirmation_token_is_refused_in_dutch(client, account, django_capture_on_commit_callbacks):
    request_change(client, account, django_capture_on_commit_callbacks)
    response = client.post("/mijn-gegevens/e-mail/verzonnen-token-123/")
    assert response.status_code == 400
    assert "ongeldig" in response.content.decode()
    account.refresh_from_db()
    assert account.email == "oud@school.example"
    assert AuditEvent.objects.filter(result="refused", detail__reason_code="unknown").exists()


def test_confirmation_link_expires_after_24_hours(client, account, django_capture_on_commit_callbacks):
    token = request_change(client, account, django_capture_on_commit_callbacks)
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        client.force_login(account)
        response = client.post(f"/mijn-gegevens/e-mail/{token}/")
    assert response.status_code == 410
    assert "verlopen" in response.content.decode()
    account.refresh_from_db()
    assert account.email == "oud@school.example"


def test_confirmation_link_only_works_for_the_account_that_asked(
    client, account, django_capture_on_commit_callbacks
):
    token = request_change(client, account, django_capture_on_commit_callbacks)
    client.force_login(AccountFactory(organisatie=account.organisatie))
    assert client.post(f"/mijn-gegevens/e-mail/{token}/").status_code == 400
    account.refresh_from_db()
    assert account.email == "oud@school.example"


def test_a_newer_request_replaces_the_older_link(client, account, django_capture_on_commit_callbacks):
    first = request_change(client, account, django_capture_on_commit_callbacks, new="eerste@school.example")
    second = request_change(client, account, django_capture_on_commit_callbacks, new="tweede@school.example")
    assert client.post(f"/mijn-gegevens/e-mail/{first}/").status_code == 410
    assert client.post(f"/mijn-gegevens/e-mail/{second}/").status_code == 302
    account.refresh_from_db()
    assert account.email == "tweede@school.example"


def test_at_most_5_address_changes_a_day(client, account, django_capture_on_commit_callbacks):
    for number in range(5):
        assert post_details(client, account, email=f"adres{number}@school.example").status_code == 302
    response = post_details(client, account, email="zesde@school.example")
    assert response.status_code == 400
    assert EmailWijziging.objects.filter(account=account).count() == 5


def test_confirmation_mail_is_dutch(client, account, django_capture_on_commit_callbacks):
    request_change(client, account, django_capture_on_commit_callbacks)
    [message] = [m for m in mail.outbox if m.to == ["nieuw@school.example"]]
    assert message.subject == "Bevestig uw nieuwe e-mailadres voor Mijn DUO"
