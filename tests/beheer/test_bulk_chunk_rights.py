"""A beheerautorisatie revoked while a file of users runs stops the grants of the chunks after it: her rights
are checked again inside each chunk's transaction (security review)."""

import pytest

from accounts.models import Account, AuditEvent, BeheerautorisatieToekenning, RolToekenning
from beheer import bulk
from tests.beheer.test_bulk_register import _csv, _row, _upload, _upload_id, confirm  # noqa: F401
from tests.factories import beheerder_create, grant_beheerautorisatie

pytestmark = pytest.mark.django_db


def test_a_beheerautorisatie_revoked_between_chunks_stops_later_grants(
    beheer_client,
    beheerder,
    kenmerk,
    confirm,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setattr(bulk, "RUN_CHUNK", 1)
    upload_id = _upload_id(_upload(beheer_client, _csv(_row(1, kenmerk.waarde), _row(2, kenmerk.waarde))))
    original = bulk._register_chunk
    calls = []

    def register_then_revoke(**kwargs):
        results = original(**kwargs)
        if not calls:
            # After the first chunk: the helpdesk takes Beheerder VO away; she stays beheerder (gemeente).
            BeheerautorisatieToekenning.objects.filter(account=beheerder).delete()
            grant_beheerautorisatie(beheerder, "gemeente")
        calls.append(kwargs)
        return results

    monkeypatch.setattr(bulk, "_register_chunk", register_then_revoke)
    beheerder_create("ho", organisatie=beheerder.organisatie)  # someone else stays beheerder too
    confirm(upload_id)
    first = Account.objects.get(email="collega1@school.example")
    assert RolToekenning.objects.filter(account=first).count() == 2
    assert not Account.objects.filter(email="collega2@school.example").exists()
    assert AuditEvent.objects.filter(
        action="rol.grant", result="refused", actor_id=beheerder.pk, detail__error_code="rol_not_covered"
    ).exists()


def test_a_beheerder_who_lost_every_beheerautorisatie_between_chunks_registers_nobody_more(
    beheer_client,
    beheerder,
    kenmerk,
    confirm,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setattr(bulk, "RUN_CHUNK", 1)
    upload_id = _upload_id(_upload(beheer_client, _csv(_row(1, kenmerk.waarde), _row(2, kenmerk.waarde))))
    original = bulk._register_chunk

    def register_then_revoke(**kwargs):
        results = original(**kwargs)
        BeheerautorisatieToekenning.objects.filter(account=beheerder).delete()
        return results

    monkeypatch.setattr(bulk, "_register_chunk", register_then_revoke)
    confirm(upload_id)
    assert Account.objects.filter(email="collega1@school.example").exists()
    assert not Account.objects.filter(email="collega2@school.example").exists()
    assert AuditEvent.objects.filter(
        action="bulk.register", result="refused", detail__reason_code="uploader_not_beheerder"
    ).exists()
