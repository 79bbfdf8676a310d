"""A beheerautorisatie revoked while a file of users runs stops the grants of the chunks after it: her rights
are checked again inside each chunk's transaction (security review)."""

import pytest

from accounts.models import Account, AuditEvent, BeheerautorisatieToekenning, RolToekenning
from tests.beheer.test_bulk_register import _csv, _row, _upload, _upload_id, confirm  # noqa: F401
from tests.factories import beheerder_create, grant_beheerautorisatie

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_row_upload(beheer_client, kenmerk) -> str:
    """A previewed file of two users, not confirmed yet."""
    return _upload_id(_upload(beheer_client, _csv(_row(1, kenmerk.waarde), _row(2, kenmerk.waarde))))


def test_a_beheerautorisatie_revoked_between_chunks_stops_later_grants(
    beheerder,
    two_row_upload,
    confirm,  # noqa: F811
    after_each_chunk,
):
    def revoke_after_the_first(number):
        if number == 1:
            # After the first chunk: the helpdesk takes Beheerder VO away; she stays beheerder (gemeente).
            BeheerautorisatieToekenning.objects.filter(account=beheerder).delete()
            grant_beheerautorisatie(beheerder, "gemeente")

    after_each_chunk(revoke_after_the_first, size=1)
    beheerder_create("ho", organisatie=beheerder.organisatie)  # someone else stays beheerder too
    confirm(two_row_upload)
    first = Account.objects.get(email="collega1@school.example")
    assert RolToekenning.objects.filter(account=first).count() == 2
    assert not Account.objects.filter(email="collega2@school.example").exists()
    assert AuditEvent.objects.filter(
        action="rol.grant", result="refused", actor_id=beheerder.pk, detail__error_code="rol_not_covered"
    ).exists()


def test_a_beheerder_who_lost_every_beheerautorisatie_between_chunks_registers_nobody_more(
    beheerder,
    two_row_upload,
    confirm,  # noqa: F811
    after_each_chunk,
):
    def revoke_all(_number):
        BeheerautorisatieToekenning.objects.filter(account=beheerder).delete()

    after_each_chunk(revoke_all, size=1)
    confirm(two_row_upload)
    assert Account.objects.filter(email="collega1@school.example").exists()
    assert not Account.objects.filter(email="collega2@school.example").exists()
    assert AuditEvent.objects.filter(
        action="bulk.register", result="refused", detail__reason_code="uploader_not_beheerder"
    ).exists()
