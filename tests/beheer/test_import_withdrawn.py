"""import_beheerders after the helpdesk withdrew rights (seed 003 part 4), and the form's 2.2 and part 5."""

import datetime
import io

import pytest
from django.core.management import CommandError, call_command

from accounts.constants import AuditAction, AuditResult
from accounts.models import Account, AuditEvent, Beheerautorisatie, BeheerderFormulier
from accounts.services import beheerautorisaties_set
from tests.beheer.test_import import _row, _write
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def _run(path, tmp_path) -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("import_beheerders", str(path), "--letters-dir", str(tmp_path / "brieven"), stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def _codes(account) -> set[str]:
    return set(account.beheerautorisaties.values_list("code", flat=True))


def test_rerunning_an_old_file_does_not_grant_back_a_revoked_beheerautorisatie(tmp_path):
    path = _write(tmp_path / "forms.csv", [_row(beheerautorisaties="vo;rio_algemeen")])
    report, error = _run(path, tmp_path)
    assert error is None, report
    beheerder = Account.objects.get(email="h.hoekstra@zuiderlicht.example")
    helpdesk = StaffFactory()
    beheerautorisaties_set(
        account=beheerder, beheerautorisaties=[Beheerautorisatie.objects.get(code="vo")], granted_by=helpdesk
    )

    report, error = _run(path, tmp_path)

    assert error is not None
    assert _codes(beheerder) == {"vo"}
    today = datetime.date.today().strftime("%d-%m-%Y")
    assert f"rij 2: GEWEIGERD gebruikersnaam {beheerder.username}" in report
    assert (
        f"Beheerder RIO Algemeen: ingetrokken op {today} door de helpdesk; ken opnieuw toe in het beheer."
        in report
    )
    assert "1 rij geweigerd" in report
    refused = AuditEvent.objects.get(action=AuditAction.IMPORT_ROW, result=AuditResult.REFUSED)
    assert refused.object_id == str(beheerder.pk)
    assert refused.detail["beheerautorisatie_code"] == "rio_algemeen"


def test_after_the_helpdesk_grants_it_again_the_old_file_is_unchanged_again(tmp_path):
    path = _write(tmp_path / "forms.csv", [_row(beheerautorisaties="vo;rio_algemeen")])
    _run(path, tmp_path)
    beheerder = Account.objects.get(email="h.hoekstra@zuiderlicht.example")
    helpdesk = StaffFactory()
    vo, rio = Beheerautorisatie.objects.get(code="vo"), Beheerautorisatie.objects.get(code="rio_algemeen")
    beheerautorisaties_set(account=beheerder, beheerautorisaties=[vo], granted_by=helpdesk)
    beheerautorisaties_set(account=beheerder, beheerautorisaties=[vo, rio], granted_by=helpdesk)

    report, error = _run(path, tmp_path)

    assert error is None, report
    assert "ongewijzigd" in report


def test_a_revoked_beheerautorisatie_cannot_be_granted_back_without_the_helpdesk():
    from django.core.exceptions import ValidationError

    from tests.factories import beheerder_create

    beheerder = beheerder_create("vo", "po")
    vo = Beheerautorisatie.objects.get(code="vo")
    beheerautorisaties_set(account=beheerder, beheerautorisaties=[vo], granted_by=StaffFactory())
    with pytest.raises(ValidationError, match="ingetrokken op"):
        beheerautorisaties_set(
            account=beheerder,
            beheerautorisaties=[vo, Beheerautorisatie.objects.get(code="po")],
            granted_by=None,
        )
    assert _codes(beheerder) == {"vo"}


def test_rerunning_an_old_file_does_not_bring_back_a_removed_beheer_account(tmp_path):
    path = _write(tmp_path / "forms.csv", [_row(beheerautorisaties="vo")])
    _run(path, tmp_path)
    beheerder = Account.objects.get(email="h.hoekstra@zuiderlicht.example")
    from beheer.withdraw import beheeraccount_withdraw

    beheeraccount_withdraw(
        account=beheerder, keep_as_user=False, actor=StaffFactory(), reason="Formulier intrekking ontvangen"
    )

    report, error = _run(path, tmp_path)

    assert error is not None
    assert "GEWEIGERD" in report and "is op" in report and "verwijderd" in report
    assert Account.objects.filter(email="h.hoekstra@zuiderlicht.example").count() == 1


def test_the_form_answers_and_signature_are_recorded(tmp_path):
    path = _write(
        tmp_path / "forms.csv",
        [
            _row(
                beheerautorisaties="vo",
                account_bestaand="nee",
                ondertekenaar_naam="Mr. P. Bestuur",
                ondertekenaar_functie="Voorzitter college van bestuur",
                ondertekenaar_email="bestuur@zuiderlicht.example",
                ondertekening_plaats="Assen",
                ondertekening_datum="02-11-2026",
            )
        ],
    )
    report, error = _run(path, tmp_path)
    assert error is None, report
    formulier = BeheerderFormulier.objects.get()
    assert formulier.account.email == "h.hoekstra@zuiderlicht.example"
    assert formulier.has_account is False
    assert formulier.signatory_name == "Mr. P. Bestuur"
    assert formulier.signatory_job_title == "Voorzitter college van bestuur"
    assert formulier.signed_on == datetime.date(2026, 11, 2)
    assert formulier.source == "import"
    # idempotent: a second run records no second form
    _run(path, tmp_path)
    assert BeheerderFormulier.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"account_bestaand": "misschien"}, "account_bestaand: vul ja of nee in."),
        ({"account_bestaand": "ja"}, "volgens het formulier heeft de beheerder al een account"),
        ({"ondertekenaar_naam": "P. Bestuur"}, "ondertekening_datum: verplicht als de ondertekening"),
        (
            {"ondertekenaar_naam": "P", "ondertekenaar_functie": "V", "ondertekening_datum": "31-02-2026"},
            "ondertekening_datum: 31-02-2026 is geen datum",
        ),
        (
            {"ondertekenaar_naam": "P", "ondertekenaar_functie": "V", "ondertekening_datum": "01-01-2999"},
            "niet in de toekomst",
        ),
    ],
)
def test_bad_form_answers_are_refused_per_row_in_dutch(tmp_path, overrides, message):
    organisation_count = Account.objects.count()
    path = _write(tmp_path / "forms.csv", [_row(beheerautorisaties="vo", **overrides)])
    report, error = _run(path, tmp_path)
    assert error is not None
    assert message in report
    assert Account.objects.count() == organisation_count
