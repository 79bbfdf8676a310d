"""The daily limit on e-mail address changes holds under parallel requests (PostgreSQL row lock)."""

import pytest
from django.db import connection

from accounts.models import Account, EmailOutbox, EmailWijziging
from accounts.portal import EMAIL_CHANGE_DAILY_LIMIT, EmailChangeLimitError, email_change_request
from tests import parallel
from tests.factories import AccountFactory

THREADS = 20


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_requests_cannot_pass_the_daily_limit_together():
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    account = AccountFactory()
    for number in range(EMAIL_CHANGE_DAILY_LIMIT - 1):
        email_change_request(account=account, new_email=f"eerder{number}@school.example")

    def work(i):
        try:
            email_change_request(
                account=Account.objects.get(pk=account.pk), new_email=f"nieuw{i}@school.example"
            )
        except EmailChangeLimitError:
            return "refused"
        return "accepted"

    results = parallel.run_parallel(work, THREADS)
    assert results.count("accepted") == 1
    assert results.count("refused") == THREADS - 1
    assert EmailWijziging.objects.filter(account=account).count() == EMAIL_CHANGE_DAILY_LIMIT
    assert EmailOutbox.objects.filter(to__startswith="nieuw").count() == 1


@pytest.mark.django_db
def test_over_the_limit_the_other_details_are_not_saved_either(client):
    account = AccountFactory(name="Oude Naam")
    client.force_login(account)
    for number in range(EMAIL_CHANGE_DAILY_LIMIT):
        email_change_request(account=account, new_email=f"eerder{number}@school.example")
    response = client.post(
        "/mijn-gegevens/",
        {
            "name": "Nieuwe Naam",
            "job_title": account.job_title,
            "phone": account.phone,
            "email": "zesde@school.example",
        },
    )
    assert response.status_code == 400
    assert "U hebt vandaag te vaak een ander e-mailadres opgegeven" in response.content.decode()
    account.refresh_from_db()
    assert account.name == "Oude Naam"
    assert EmailWijziging.objects.filter(account=account).count() == EMAIL_CHANGE_DAILY_LIMIT
