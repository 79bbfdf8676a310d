"""Issue 16 item 1: registering users from a CSV or XLSX file, and roles in the single registration form."""

import io
import uuid
import zipfile
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from accounts.models import Account, AuditEvent, EmailOutbox, RolToekenning
from beheer.models import GebruikersUpload
from tests.factories import AccountFactory, KenmerkFactory, beheerder_create

pytestmark = pytest.mark.django_db

UPLOAD_URL = "/beheer/gebruikers/aanmelden/bestand/"
HEADER = "naam;functie;e-mail;telefoon;taal;rol 1;kenmerk 1;rol 2;kenmerk 2"


def _csv(*lines: str, header: str = HEADER, name: str = "gebruikers.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, ("\n".join([header, *lines]) + "\n").encode("utf-8"), "text/csv")


def _xlsx(rows: list[list], name: str = "gebruikers.xlsx") -> SimpleUploadedFile:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    output = io.BytesIO()
    workbook.save(output)
    return SimpleUploadedFile(name, output.getvalue(), "application/octet-stream")


def _upload(client, file):
    return client.post(UPLOAD_URL, {"file": file})


def _upload_id(response) -> str:
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"].rstrip("/").rsplit("/", 1)[-1]


@pytest.fixture
def confirm(beheer_client, django_capture_on_commit_callbacks):
    """POST her confirmation and run what it hands to Celery after the commit (eager in tests)."""

    def run(upload_id, data=None, client=None):
        with django_capture_on_commit_callbacks(execute=True):
            return (client or beheer_client).post(f"{UPLOAD_URL}{upload_id}/", data or {})

    return run


def _row(n: int, kenmerk: str, rol1: str = "osr", rol2: str = "verzuimmelder") -> str:
    return f"Nieuwe Collega {n};Docent;collega{n}@school.example;050 123 45{n:02d};nl;{rol1};{kenmerk};{rol2};{kenmerk}"


def test_a_file_is_previewed_then_confirmed_registering_the_valid_rows_with_roles_and_mails(
    beheer_client, beheerder, kenmerk, organisatie, confirm
):
    AccountFactory(organisatie=organisatie, email="bestaat@school.example")
    file = _csv(
        _row(1, kenmerk.waarde),
        _row(2, kenmerk.waarde),
        "Dubbel;Docent;bestaat@school.example;050 1234567;nl;;;;",
        f"Zonder Functie;;leeg@school.example;050 1234567;nl;osr;{kenmerk.waarde};;",
    )
    upload_id = _upload_id(_upload(beheer_client, file))
    preview = beheer_client.get(f"{UPLOAD_URL}{upload_id}/")
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "2 gebruikers kunnen worden aangemeld" in html
    assert "Uw organisatie heeft al een gebruiker met dit e-mailadres." in html
    assert "Functie: Dit veld is verplicht." in html
    assert not Account.objects.filter(email="collega1@school.example").exists()

    response = confirm(upload_id, {"send_codes": "on"})
    assert response.status_code == 302
    # Celery is eager in tests: the task has run.
    upload = GebruikersUpload.objects.get(pk=upload_id)
    assert upload.status == "done"
    for n in (1, 2):
        account = Account.objects.get(email=f"collega{n}@school.example")
        assert account.organisatie == organisatie
        assert account.created_by == beheerder
        assert set(RolToekenning.objects.filter(account=account).values_list("rol__code", flat=True)) == {
            "osr",
            "verzuimmelder",
        }
        templates = set(EmailOutbox.objects.filter(account=account).values_list("template", flat=True))
        assert templates == {"beheer/email/registered", "koppeling/email/activation_code"}
        assert AuditEvent.objects.filter(
            action="account.create", actor_id=beheerder.pk, object_id=str(account.pk)
        ).exists()
        grants = AuditEvent.objects.filter(action="rol.grant", result="success", object_id=str(account.pk))
        assert sorted(event.detail["rol_code"] for event in grants) == ["osr", "verzuimmelder"]
        assert all(event.detail["kenmerk"] == kenmerk.waarde for event in grants)
        assert not account.has_usable_password()
    assert not Account.objects.filter(email="leeg@school.example").exists()
    result = beheer_client.get(f"{UPLOAD_URL}{upload_id}/").content.decode()
    assert "2 gebruikers zijn aangemeld" in result
    assert Account.objects.get(email="collega1@school.example").username in result
    # Confirming twice registers nobody twice.
    assert confirm(upload_id).status_code == 409
    assert Account.objects.filter(email="collega1@school.example").count() == 1


def test_without_send_codes_no_activation_code_is_queued(beheer_client, kenmerk, confirm):
    upload_id = _upload_id(_upload(beheer_client, _csv(_row(1, kenmerk.waarde))))
    confirm(upload_id)
    account = Account.objects.get(email="collega1@school.example")
    assert list(EmailOutbox.objects.filter(account=account).values_list("template", flat=True)) == [
        "beheer/email/registered"
    ]


def test_xlsx_upload_with_numbers_as_cells_works(beheer_client, kenmerk, confirm):
    file = _xlsx(
        [
            ["Naam", "Functie", "E-mail", "Telefoon", "Taal", "Rol 1", "Kenmerk 1"],
            [
                "Xandra Excel",
                "Docent",
                "xandra@school.example",
                501234567,
                "en",
                "Mijn Diploma's",
                kenmerk.waarde,
            ],
        ]
    )
    upload_id = _upload_id(_upload(beheer_client, file))
    confirm(upload_id)
    account = Account.objects.get(email="xandra@school.example")
    assert account.phone == "501234567"
    assert account.language == "en"
    assert RolToekenning.objects.filter(account=account, rol__code="mijn_diplomas").exists()


def test_duplicate_emails_inside_the_file_are_refused_on_every_line(beheer_client, kenmerk):
    file = _csv(
        "Een;Docent;zelfde@school.example;050 1234567;nl;;;;",
        "Twee;Docent;ZELFDE@school.example;050 1234567;nl;;;;",
    )
    upload_id = _upload_id(_upload(beheer_client, file))
    html = beheer_client.get(f"{UPLOAD_URL}{upload_id}/").content.decode()
    assert html.count("staat meer dan eens in het bestand") == 2
    assert GebruikersUpload.objects.get(pk=upload_id).total == 0


def test_a_role_outside_her_beheerautorisaties_and_a_foreign_kenmerk_refuse_the_row_and_are_audited(
    beheer_client, beheerder, kenmerk, other_kenmerk, confirm
):
    file = _csv(
        f"Een;Docent;een@school.example;050 1234567;nl;gba;{kenmerk.waarde};;",
        f"Twee;Docent;twee@school.example;050 1234567;nl;osr;{other_kenmerk.waarde};;",
        "Drie;Docent;drie@school.example;050 1234567;nl;bestaat_niet;12AB;;",
    )
    upload_id = _upload_id(_upload(beheer_client, file))
    html = beheer_client.get(f"{UPLOAD_URL}{upload_id}/").content.decode()
    assert "Uw beheerautorisaties geven geen recht op de rol gba." in html
    assert f"Het kenmerk {other_kenmerk.waarde} hoort niet bij uw organisatie." in html
    assert "Onbekende rol: bestaat_niet." in html
    refused = AuditEvent.objects.filter(action="rol.grant", result="refused", actor_id=beheerder.pk)
    codes = sorted(event.detail["error_code"] for event in refused)
    assert codes == ["kenmerk_other_organisation", "rol_not_covered"]
    assert all(event.detail["upload"] == upload_id for event in refused)
    assert confirm(upload_id).status_code == 409
    assert not Account.objects.filter(email__in=["een@school.example", "twee@school.example"]).exists()


def test_a_kenmerk_of_a_type_the_role_does_not_take_refuses_the_row(beheer_client, organisatie):
    from tests.beheer.conftest import gemeentecode_type

    KenmerkFactory(organisatie=organisatie, type=gemeentecode_type(), waarde="0363")
    upload_id = _upload_id(_upload(beheer_client, _csv("Een;Docent;een@school.example;050 1;nl;osr;0363;;")))
    assert "kan niet worden toegekend met een kenmerk van het type" in (
        beheer_client.get(f"{UPLOAD_URL}{upload_id}/").content.decode()
    )


def test_a_role_withdrawn_between_preview_and_confirm_is_refused_and_audited(
    beheer_client, beheerder, kenmerk, confirm
):
    upload_id = _upload_id(_upload(beheer_client, _csv(_row(1, kenmerk.waarde))))
    from accounts.models import BeheerautorisatieToekenning

    BeheerautorisatieToekenning.objects.filter(account=beheerder).delete()
    beheerder_create("ho", organisatie=beheerder.organisatie)  # someone else stays beheerder
    from tests.factories import grant_beheerautorisatie

    grant_beheerautorisatie(beheerder, "gemeente")  # still a beheerder, but no longer for osr
    confirm(upload_id)
    assert not Account.objects.filter(email="collega1@school.example").exists()
    assert AuditEvent.objects.filter(
        action="rol.grant", result="refused", actor_id=beheerder.pk, detail__error_code="rol_not_covered"
    ).exists()


@pytest.mark.parametrize(
    ("file", "status", "message"),
    [
        (_csv("x;y", header="voornaam;achternaam"), 400, "Onbekende kolommen: voornaam, achternaam"),
        (
            _csv("Een;Docent;een@school.example", header="naam;functie;e-mail"),
            400,
            "Ontbrekende kolommen: telefoon",
        ),
        (_csv('=HYPERLINK("http://x");Docent;a@b.example;050 1;nl;;;;'), 400, "Cel A2 bevat een formule"),
        (_csv("@SUM(1);Docent;a@b.example;050 1;nl;;;;"), 400, "Cel A2 bevat een formule"),
        (_csv("Een;-2+3;a@b.example;050 1;nl;;;;"), 400, "Cel B2 bevat een formule"),
        (SimpleUploadedFile("g.csv", "naam;functie\nJosé;x\n".encode("cp1252")), 400, "niet in UTF-8"),
        (SimpleUploadedFile("g.csv", b""), 400, "leeg"),
        (SimpleUploadedFile("g.csv", HEADER.encode() + b"\n"), 400, "geen gebruikers"),
        (SimpleUploadedFile("g.xlsx", b"this is not a zip at all"), 400, "geen Excel-bestand"),
        (SimpleUploadedFile("g.docx", b"whatever"), 415, "CSV-bestand (.csv) of een Excel-bestand"),
        (
            SimpleUploadedFile("g.csv", b"naam;functie\n" + b"a;b\n" * (10 * 1024 * 1024 // 4)),
            413,
            "groter dan 2 MB",
        ),
        (
            _csv(
                "Een;Docent;a@b.example;050 1;nl;osr;;;",
                header="naam;functie;e-mail;telefoon;taal;rol 1;kenmerk 2;rol 2;x",
            ),
            400,
            "Onbekende kolommen: x",
        ),
        (
            _csv("Een;Docent;a@b.example;050 1;nl;osr", header="naam;functie;e-mail;telefoon;taal;rol 1"),
            400,
            "kolommen rol 1 en kenmerk 1",
        ),
    ],
    ids=[
        "unknown-columns",
        "missing-columns",
        "formula-equals",
        "formula-at",
        "formula-minus",
        "not-utf8",
        "empty",
        "header-only",
        "xlsx-not-zip",
        "other-extension",
        "ten-megabytes",
        "unknown-column-with-pairs",
        "rol-without-kenmerk-column",
    ],
)
def test_bad_files_get_a_dutch_message_and_a_4xx(beheer_client, file, status, message):
    file.seek(0)
    response = _upload(beheer_client, file)
    assert response.status_code == status
    assert message in response.content.decode()
    assert not GebruikersUpload.objects.exists()


def test_a_formula_in_an_xlsx_cell_refuses_the_file(beheer_client):
    file = _xlsx([["naam", "functie", "e-mail", "telefoon"], ["=1+1", "Docent", "a@b.example", "050 1"]])
    response = _upload(beheer_client, file)
    assert response.status_code == 400
    assert "Cel A2 bevat een formule" in response.content.decode()


def test_an_xlsx_that_unpacks_to_a_huge_size_is_refused_before_parsing(beheer_client):
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (60 * 1024 * 1024))
    response = _upload(beheer_client, SimpleUploadedFile("bom.xlsx", output.getvalue()))
    assert response.status_code == 413
    assert "uitgepakt" in response.content.decode()


def test_a_telephone_number_starting_with_plus_is_not_a_formula(beheer_client, kenmerk, confirm):
    upload_id = _upload_id(
        _upload(beheer_client, _csv("Een;Docent;een@school.example;+31 (0)50 123-4567;nl;;;;"))
    )
    confirm(upload_id)
    assert Account.objects.get(email="een@school.example").phone == "+31 (0)50 123-4567"


@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
def test_the_template_downloads_in_both_formats_and_reads_back(beheer_client, export_format):
    response = beheer_client.get(f"{UPLOAD_URL}voorbeeld/", {"format": export_format})
    assert response.status_code == 200
    if export_format == "csv":
        header = response.content.decode("utf-8-sig").splitlines()[0]
        assert header.startswith("naam;functie;e-mail;telefoon;taal;rol 1;kenmerk 1")
    else:
        workbook = load_workbook(io.BytesIO(response.content))
        assert [cell.value for cell in workbook.worksheets[0][1]][:5] == [
            "naam",
            "functie",
            "e-mail",
            "telefoon",
            "taal",
        ]
        codes = [row[0] for row in workbook.worksheets[1].iter_rows(values_only=True)]
        assert "osr" in codes and "gba" not in codes
    assert beheer_client.get(f"{UPLOAD_URL}voorbeeld/", {"format": "pdf"}).status_code == 400


def test_an_expired_upload_is_refused(beheer_client, kenmerk, confirm):
    upload_id = _upload_id(_upload(beheer_client, _csv(_row(1, kenmerk.waarde))))
    GebruikersUpload.objects.filter(pk=upload_id).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert beheer_client.get(f"{UPLOAD_URL}{upload_id}/").status_code == 410
    assert confirm(upload_id).status_code == 410
    assert not Account.objects.filter(email="collega1@school.example").exists()


def test_expired_uploads_are_purged_by_the_next_upload(beheer_client, kenmerk):
    old_id = _upload_id(_upload(beheer_client, _csv(_row(1, kenmerk.waarde))))
    GebruikersUpload.objects.filter(pk=old_id).update(expires_at=timezone.now() - timedelta(minutes=1))
    _upload_id(_upload(beheer_client, _csv(_row(2, kenmerk.waarde))))
    assert not GebruikersUpload.objects.filter(pk=old_id).exists()


def test_the_letters_of_a_registered_file_come_as_one_pdf_in_file_order(beheer_client, kenmerk, confirm):
    from pypdf import PdfReader

    upload_id = _upload_id(_upload(beheer_client, _csv(_row(2, kenmerk.waarde), _row(1, kenmerk.waarde))))
    confirm(upload_id)
    response = beheer_client.get(f"{UPLOAD_URL}{upload_id}/brieven/")
    assert response.status_code == 200
    pages = PdfReader(io.BytesIO(response.content)).pages
    usernames = [Account.objects.get(email=f"collega{n}@school.example").username for n in (2, 1)]
    assert [username in page.extract_text() for page, username in zip(pages, usernames, strict=True)] == [
        True,
        True,
    ]


# --- isolation ------------------------------------------------------------------------------------


@pytest.fixture
def other_upload(other_organisatie, other_kenmerk):
    other_beheerder = beheerder_create("vo", organisatie=other_organisatie)
    now = timezone.now()
    return GebruikersUpload.objects.create(
        beheerder=other_beheerder,
        organisatie=other_organisatie,
        created_at=now,
        expires_at=now + timedelta(hours=1),
        rows=[
            {
                "line": 2,
                "name": "Olga",
                "job_title": "x",
                "email": "olga@x.example",
                "phone": "1",
                "language": "nl",
                "roles": [],
                "role_ids": [],
                "errors": [],
            }
        ],
        total=1,
    )


@pytest.mark.parametrize("suffix", ["", "brieven/"])
def test_another_beheerders_upload_is_404_and_audited(beheer_client, beheerder, other_upload, suffix):
    assert beheer_client.get(f"{UPLOAD_URL}{other_upload.pk}/{suffix}").status_code == 404
    assert AuditEvent.objects.filter(
        action="bulk.upload", result="refused", actor_id=beheerder.pk, object_id=str(other_upload.pk)
    ).exists()


def test_confirming_another_beheerders_upload_is_404_and_registers_nobody(beheer_client, other_upload):
    assert beheer_client.post(f"{UPLOAD_URL}{other_upload.pk}/", {}).status_code == 404
    assert not Account.objects.filter(email="olga@x.example").exists()


def test_an_upload_of_another_beheerder_of_the_same_organisation_is_404(
    client, organisatie, kenmerk, beheer_client
):
    upload_id = _upload_id(_upload(beheer_client, _csv(_row(1, kenmerk.waarde))))
    client.force_login(beheerder_create("vo", organisatie=organisatie))
    assert client.get(f"{UPLOAD_URL}{upload_id}/").status_code == 404


def test_an_unknown_upload_id_is_404(beheer_client):
    assert beheer_client.get(f"{UPLOAD_URL}{uuid.uuid4()}/").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "",
        "voorbeeld/?format=csv",
        "00000000-0000-0000-0000-000000000000/",
        "00000000-0000-0000-0000-000000000000/brieven/",
    ],
)
def test_a_user_without_beheerautorisatie_gets_403(client, organisatie, path):
    client.force_login(AccountFactory(organisatie=organisatie))
    assert client.get(f"{UPLOAD_URL}{path}").status_code == 403
    assert client.post(UPLOAD_URL, {}).status_code == 403


# --- the single registration form with roles -----------------------------------------------------


def _form_data(**extra):
    return {
        "name": "Enkel Persoon",
        "job_title": "Docent",
        "email": "enkel@school.example",
        "phone": "050 1234567",
        "language": "nl",
        **extra,
    }


def test_the_single_form_registers_with_roles(beheer_client, kenmerk):
    from accounts.models import Rol

    osr = Rol.objects.get(code="osr")
    response = beheer_client.post(
        "/beheer/gebruikers/aanmelden/", _form_data(rol_1=osr.pk, kenmerk_1=kenmerk.pk)
    )
    account = Account.objects.get(email="enkel@school.example")
    assert response.status_code == 302 and response["Location"] == f"/beheer/gebruikers/{account.pk}/"
    assert RolToekenning.objects.filter(account=account, rol=osr, kenmerk=kenmerk).exists()


def test_register_and_add_another_stays_on_the_form(beheer_client):
    response = beheer_client.post("/beheer/gebruikers/aanmelden/", _form_data(nog_een="1"), follow=True)
    assert response.redirect_chain[-1][0] == "/beheer/gebruikers/aanmelden/"
    html = response.content.decode()
    assert "is aangemeld met gebruikersnaam" in html
    assert 'name="nog_een"' in html


def test_a_role_without_kenmerk_refuses_the_registration(beheer_client):
    from accounts.models import Rol

    response = beheer_client.post(
        "/beheer/gebruikers/aanmelden/", _form_data(rol_1=Rol.objects.get(code="osr").pk)
    )
    assert response.status_code == 400
    assert not Account.objects.filter(email="enkel@school.example").exists()


def test_a_forged_role_in_the_single_form_is_refused_and_audited(beheer_client, beheerder, other_kenmerk):
    from accounts.models import Rol

    response = beheer_client.post(
        "/beheer/gebruikers/aanmelden/",
        _form_data(rol_1=Rol.objects.get(code="gba").pk, kenmerk_1=other_kenmerk.pk),
    )
    assert response.status_code == 400
    assert not Account.objects.filter(email="enkel@school.example").exists()
    assert AuditEvent.objects.filter(
        action="rol.grant", result="refused", actor_id=beheerder.pk, detail__error_code="rol_not_covered"
    ).exists()


def test_a_row_refused_while_registering_row_by_row_is_rolled_back_whole_and_the_others_stay(
    beheer_client, kenmerk, monkeypatch, confirm
):
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError

    from beheer import bulk, services

    real_rol_assign = services.rol_assign

    def rol_assign(*, account, **kwargs):
        if account.name == "Nieuwe Collega 2":
            raise ValidationError("Deze rol kan nu niet.")
        return real_rol_assign(account=account, **kwargs)

    monkeypatch.setattr(services, "rol_assign", rol_assign)

    def chunk_refused(**kwargs):
        raise IntegrityError("someone took a username meanwhile")

    # The bulk write of a chunk fails: the chunk goes row by row through the services.
    monkeypatch.setattr(bulk, "_register_chunk", chunk_refused)
    upload_id = _upload_id(_upload(beheer_client, _csv(*(_row(n, kenmerk.waarde) for n in (1, 2, 3)))))
    confirm(upload_id)
    assert set(Account.objects.filter(email__startswith="collega").values_list("email", flat=True)) == {
        "collega1@school.example",
        "collega3@school.example",
    }
    assert not EmailOutbox.objects.filter(to="collega2@school.example").exists()
    upload = GebruikersUpload.objects.get(pk=upload_id)
    assert upload.status == "done" and upload.processed == 3
    html = beheer_client.get(f"{UPLOAD_URL}{upload_id}/").content.decode()
    assert "Deze rol kan nu niet." in html and "2 gebruikers zijn aangemeld" in html
