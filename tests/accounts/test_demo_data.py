"""The demo data the run command loads: several organisation types, beheerders, users in states."""

import pytest
from django.core.management import call_command

from accounts.models import Account, Organisatie
from koppeling.models import Koppeling

pytestmark = pytest.mark.django_db


def test_demo_data_loads_organisations_beheerders_and_users_and_is_idempotent(capsys):
    call_command("demo_data")
    counts = (Organisatie.objects.count(), Account.objects.count(), Koppeling.objects.count())
    assert set(Organisatie.objects.values_list("type", flat=True)) >= {
        "onderwijsinstelling",
        "bestuur",
        "gemeente",
        "deurwaarder",
    }
    assert Account.objects.filter(beheerautorisatie_toekenningen__isnull=False).distinct().count() >= 3
    assert (
        Koppeling.objects.filter(ended_at__isnull=True).exists()
        and Koppeling.objects.filter(ended_at__isnull=False).exists()
    )
    assert Account.objects.filter(removed_at__isnull=False).exists()
    for organisatie in Organisatie.objects.all():
        organisatie.full_clean()
    call_command("demo_data")
    assert (Organisatie.objects.count(), Account.objects.count(), Koppeling.objects.count()) == counts
    output = capsys.readouterr().out
    anna = Account.objects.get(email="anna@regenboog.example")
    assert anna.username in output
