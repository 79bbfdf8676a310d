"""Every refused security decision is audited (security review): an upload run whose uploader is no longer
beheerder, a file refused for a formula or its unpacked size, the helpdesk's screens and exports without
the permission, a helpdesk decision on a review that is not overdue, a TOTP session under
HELPDESK_REQUIRE_PASSKEY, a pending forced password change that no longer holds."""

import io
import zipfile
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.constants import AuditAction, AuditResult
from accounts.models import AuditEvent, BeheerautorisatieToekenning
from beheer import bulk
from beheer.models import AccessReview, GebruikersUpload, GebruikersUploadStatus
from tests.accounts.test_admin import admin_login, current_code, helpdesk  # noqa: F401 (fixture)
from tests.beheer.test_bulk_register import _csv, _row, _upload, _upload_id, _xlsx
from tests.factories import OrganisatieFactory, StaffFactory

pytestmark = pytest.mark.django_db


def refused(action, **detail):
    return AuditEvent.objects.filter(
        action=action, result=AuditResult.REFUSED, **{f"detail__{k}": v for k, v in detail.items()}
    )


def test_a_run_whose_uploader_is_no_longer_beheerder_is_refused_and_audited(
    beheer_client, beheerder, kenmerk
):
    upload_id = _upload_id(_upload(beheer_client, _csv(_row(1, kenmerk.waarde))))
    GebruikersUpload.objects.filter(pk=upload_id).update(status=GebruikersUploadStatus.QUEUED)
    BeheerautorisatieToekenning.objects.filter(account=beheerder).delete()
    upload = bulk.gebruikers_upload_run(upload_id=upload_id)
    assert upload.status == GebruikersUploadStatus.FAILED
    event = refused(AuditAction.BULK_REGISTER, reason_code="uploader_not_beheerder").get()
    assert event.actor_id == beheerder.pk


def test_a_file_with_a_formula_is_refused_and_audited(beheer_client, beheerder):
    file = _xlsx([["naam", "functie", "e-mail", "telefoon"], ["=1+1", "Docent", "a@b.example", "050 1"]])
    assert _upload(beheer_client, file).status_code == 400
    assert refused(AuditAction.BULK_UPLOAD, reason_code="formula").get().actor_id == beheerder.pk


def test_a_file_too_large_unpacked_is_refused_and_audited(beheer_client):
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (60 * 1024 * 1024))
    assert _upload(beheer_client, SimpleUploadedFile("bom.xlsx", output.getvalue())).status_code == 413
    assert refused(AuditAction.BULK_UPLOAD, reason_code="unpacked_size").exists()


@pytest.fixture
def bare_staff_client():
    """A verified staff member with the admin's view of accounts and organisations but none of the
    helpdesk's other permissions."""
    staff = StaffFactory()
    staff.set_password("correct horse battery staple")
    staff.save()
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_account", "view_organisatie"]).exclude(
            content_type__app_label="auth"
        )
    )
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    client = Client()
    assert admin_login(client, staff, token=current_code(device)).status_code == 302
    return client


def test_the_helpdesk_screen_without_permission_is_403_and_audited(bare_staff_client, gebruiker):
    response = bare_staff_client.get(reverse("admin:accounts_account_helpdesk", args=[gebruiker.pk]))
    assert response.status_code == 403
    assert refused(AuditAction.ADMIN_CHANGE, reason_code="helpdesk_view").exists()


def test_the_audit_export_without_permission_is_403_and_audited(bare_staff_client):
    response = bare_staff_client.get(reverse("admin:accounts_auditevent_export"))
    assert response.status_code == 403
    assert refused(AuditAction.AUDIT_EXPORT, reason_code="no_permission").exists()


def test_a_decision_on_a_review_not_overdue_is_refused_and_audited(helpdesk):  # noqa: F811
    helpdesk.user_permissions.add(Permission.objects.get(codename="decide_accessreview"))
    device = TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    client = Client()
    assert admin_login(client, helpdesk, token=current_code(device)).status_code == 302
    now = timezone.now()
    not_yet = AccessReview.objects.create(
        organisatie=OrganisatieFactory(), started_at=now, due_at=now + timedelta(days=5)
    )
    client.post(
        reverse("admin:beheer_accessreview_changelist"),
        {"action": "keep_undecided", "_selected_action": [not_yet.pk], "confirmed": "yes", "reason": "x"},
    )
    assert refused(AuditAction.ACCESS_REVIEW_DECIDE, reason_code="not_overdue").exists()
    assert AccessReview.objects.get(pk=not_yet.pk).completed_at is None


def test_a_totp_session_under_required_passkey_is_refused_and_audited(helpdesk, settings):  # noqa: F811
    device = TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    client = Client()
    assert admin_login(client, helpdesk, token=current_code(device)).status_code == 302
    settings.HELPDESK_REQUIRE_PASSKEY = True
    assert client.get(reverse("admin:index")).status_code == 302
    assert refused(AuditAction.ADMIN_LOGIN_FAILED, reason_code="passkey_required").exists()


def test_the_user_file_of_an_organisation_without_permission_is_403_and_audited(helpdesk, organisatie):  # noqa: F811
    staff = StaffFactory()
    staff.set_password("correct horse battery staple")
    staff.save()
    staff.user_permissions.add(Permission.objects.get(codename="view_organisatie"))
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    client = Client()
    assert admin_login(client, staff, token=current_code(device)).status_code == 302
    url = reverse("admin:accounts_organisatie_gebruikersbestand", args=[organisatie.pk])
    assert client.get(url).status_code == 403
    assert refused(AuditAction.GEBRUIKERSBESTAND_EXPORT, reason_code="no_permission").exists()
