"""Reading a beheerder's file of users to register (issue 16 item 1): CSV or XLSX, and its template.

Nothing in here writes to the database: the file becomes a list of plain rows, or an
``UploadError`` with a Dutch message (and the HTTP status the view answers with). Untrusted input is
read defensively: a size limit before anything is parsed, strict UTF-8, the XLSX's unpacked size
checked before openpyxl opens it (a zip bomb stays a small file until unpacked; openpyxl parses the
XML with defusedxml), and a cell that is a formula refuses the whole file: a name like
``=HYPERLINK(…)`` must never enter the portal, to be exported and run in someone's spreadsheet.
"""

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime

from django.utils.translation import gettext as _

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_UNPACKED_BYTES = 40 * 1024 * 1024
MAX_ROWS = 1000
MAX_ROLE_PAIRS = 5
MAX_COLUMNS = 5 + 2 * MAX_ROLE_PAIRS + 10

FIELDS = ("name", "job_title", "email", "phone", "language")
REQUIRED_FIELDS = ("name", "job_title", "email", "phone")
# The template's header: Dutch, as the beheerder reads it.
TEMPLATE_HEADER = [
    "naam",
    "functie",
    "e-mail",
    "telefoon",
    "taal",
    *(f"{kind} {n}" for n in range(1, 4) for kind in ("rol", "kenmerk")),
]
COLUMN_NAMES = {
    "name": "naam",
    "job_title": "functie",
    "email": "e-mail",
    "phone": "telefoon",
    "language": "taal",
}
# Header cells compare without case, spaces or punctuation: "E-mail", "e_mail" and "email" are one column.
_ALIASES = {
    "naam": "name",
    "name": "name",
    "functie": "job_title",
    "jobtitle": "job_title",
    "email": "email",
    "emailadres": "email",
    "telefoon": "phone",
    "telefoonnummer": "phone",
    "phone": "phone",
    "taal": "language",
    "language": "language",
}
_PAIR_COLUMN = re.compile(r"(rol|role|kenmerk)(\d*)")
# A cell starting with one of these is a formula in Excel, LibreOffice and Google Sheets (OWASP
# "CSV injection"). A telephone number may start with + (and a placeholder be a lone -): those are
# digits and separators only, which no spreadsheet evaluates to anything but a number.
_PHONE_LIKE = re.compile(r"[+\-][\d\s()./\-]*")


class UploadError(Exception):
    """The file as a whole cannot be used; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int = 400, security: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        # A refusal for a security reason (a formula, a zip bomb): the view audits it under this code.
        self.security = security


@dataclass
class ParsedFile:
    rows: list[dict]
    pair_count: int


def _normalise(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.strip().lower())


def is_formula(text: str) -> bool:
    if text.startswith(("=", "@")):
        return True
    return text[:1] in ("+", "-") and not _PHONE_LIKE.fullmatch(text)


def _cell_name(column: int, line: int) -> str:
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(column + 1)}{line}"


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _columns(header: list[str]) -> tuple[list[tuple[str, int] | None], int]:
    """Map each header cell to ("name", 0) … or ("rol", n) / ("kenmerk", n); refuse what is unknown."""
    columns: list[tuple[str, int] | None] = []
    unknown, seen = [], set()
    for cell in header:
        key = _normalise(cell)
        if not key:
            columns.append(None)
            continue
        if key in _ALIASES:
            column = (_ALIASES[key], 0)
        elif match := _PAIR_COLUMN.fullmatch(key):
            kind = "kenmerk" if match.group(1) == "kenmerk" else "rol"
            column = (kind, int(match.group(2) or 1))
        else:
            unknown.append(cell.strip())
            continue
        if column in seen:
            raise UploadError(_("The column %(column)s appears more than once.") % {"column": cell.strip()})
        seen.add(column)
        columns.append(column)
    if unknown:
        raise UploadError(
            _("Unknown columns: %(columns)s. Use the columns of the template.")
            % {"columns": ", ".join(unknown[:10])}
        )
    missing = [COLUMN_NAMES[name] for name in REQUIRED_FIELDS if (name, 0) not in seen]
    if missing:
        raise UploadError(
            _("Missing columns: %(columns)s. Use the columns of the template.")
            % {"columns": ", ".join(missing)}
        )
    numbers = sorted({n for kind, n in seen if kind in ("rol", "kenmerk")})
    for n in numbers:
        if n < 1 or n > MAX_ROLE_PAIRS:
            raise UploadError(
                _("Give at most %(max)d roles per user (columns rol 1 to rol %(max)d).")
                % {"max": MAX_ROLE_PAIRS}
            )
        if ("rol", n) not in seen or ("kenmerk", n) not in seen:
            raise UploadError(
                _("Every role needs its kenmerk: columns rol %(n)d and kenmerk %(n)d go together.") % {"n": n}
            )
    return columns, len(numbers)


def _rows(table: list[tuple[int, list[str]]]) -> ParsedFile:
    """Turn (line, cells) pairs, the first being the header, into rows; refuse formulas anywhere."""
    for line, cells in table:
        for index, text in enumerate(cells):
            if text and is_formula(text):
                raise UploadError(
                    _(
                        "Cell %(cell)s contains a formula (it starts with %(char)s). Formulas are not read: "
                        "make the cell plain text and upload the file again."
                    )
                    % {"cell": _cell_name(index, line), "char": text[0]},
                    security="formula",
                )
    if not table:
        raise UploadError(_("The file is empty."))
    header_line, header = table[0]
    columns, pair_count = _columns(header)
    body = [(line, cells) for line, cells in table[1:] if any(cells)]
    if not body:
        raise UploadError(_("The file contains no users: only a header row or empty rows."))
    if len(body) > MAX_ROWS:
        raise UploadError(
            _("The file contains more than %(max)d users. Split it into several files.") % {"max": MAX_ROWS},
            status=413,
        )
    pair_numbers = sorted({n for column in columns if column and column[0] == "rol" for n in [column[1]]})
    rows = []
    for line, cells in body:
        row = {"line": line, **dict.fromkeys(FIELDS, ""), "roles": [], "errors": []}
        pairs = {n: ["", ""] for n in pair_numbers}
        extra = False
        for index, text in enumerate(cells):
            column = columns[index] if index < len(columns) else None
            if column is None:
                extra = extra or bool(text)
                continue
            kind, n = column
            if kind == "rol":
                pairs[n][0] = text
            elif kind == "kenmerk":
                pairs[n][1] = text
            else:
                row[kind] = text
        row["roles"] = [pairs[n] for n in pair_numbers if any(pairs[n])]
        if extra:
            row["errors"].append(_("This row has values outside the columns of the header."))
        rows.append(row)
    return ParsedFile(rows=rows, pair_count=pair_count)


def _csv_table(data: bytes) -> list[tuple[int, list[str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UploadError(
            _(
                "The file is not in UTF-8. In Excel, save it as 'CSV UTF-8 (door komma's gescheiden)', "
                "or upload it as an Excel file (.xlsx)."
            )
        ) from error
    if "\x00" in text:
        raise UploadError(_("The file contains characters that are not allowed in a CSV file."))
    first_line = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    table = []
    try:
        for cells in reader:
            if len(table) > MAX_ROWS + 1:
                break
            table.append((reader.line_num, [cell.strip() for cell in cells[:MAX_COLUMNS]]))
    except csv.Error as error:
        raise UploadError(
            _("The CSV file cannot be read: %(error)s.") % {"error": str(error)[:100]}
        ) from error
    return table


def _xlsx_table(data: bytes) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    buffer = io.BytesIO(data)
    if not zipfile.is_zipfile(buffer):
        raise UploadError(_("This is not an Excel file (.xlsx). Upload a .xlsx or a .csv file."))
    try:
        with zipfile.ZipFile(buffer) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UploadError(_("This is not an Excel file (.xlsx). Upload a .xlsx or a .csv file.")) from error
    if unpacked > MAX_UNPACKED_BYTES:
        raise UploadError(
            _("The Excel file is too large when unpacked. Split it into several files."),
            status=413,
            security="unpacked_size",
        )
    table = []
    try:
        workbook = load_workbook(buffer, read_only=True, data_only=False)
        try:
            sheet = workbook.worksheets[0]
            for line, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1):
                if len(table) > MAX_ROWS + 1:
                    break
                cells = [_cell_text(value) for value in values]
                while cells and not cells[-1]:
                    cells.pop()
                table.append((line, cells))
        finally:
            workbook.close()
    except UploadError:
        raise
    except Exception as error:  # noqa: BLE001  (openpyxl raises many kinds on a broken file: all are bad input)
        raise UploadError(_("The Excel file cannot be read. Save it again in Excel as .xlsx.")) from error
    return table


def upload_read(uploaded_file) -> ParsedFile:
    """Read an uploaded CSV or XLSX file into rows; raise ``UploadError`` for a file that cannot be used."""
    name = (uploaded_file.name or "").lower()
    if uploaded_file.size is not None and uploaded_file.size > MAX_UPLOAD_BYTES:
        raise UploadError(
            _("The file is larger than %(max)d MB. Split it into several files.")
            % {"max": MAX_UPLOAD_BYTES // (1024 * 1024)},
            status=413,
        )
    data = uploaded_file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(
            _("The file is larger than %(max)d MB. Split it into several files.")
            % {"max": MAX_UPLOAD_BYTES // (1024 * 1024)},
            status=413,
        )
    if not data.strip():
        raise UploadError(_("The file is empty."))
    if name.endswith(".xlsx"):
        table = _xlsx_table(data)
    elif name.endswith((".csv", ".txt")):
        if data.startswith(b"PK\x03\x04"):
            raise UploadError(_("This file is not a CSV file. Upload a .csv or a .xlsx file."))
        table = _csv_table(data)
    else:
        raise UploadError(_("Choose a CSV file (.csv) or an Excel file (.xlsx)."), status=415)
    return _rows(table)


def template_csv() -> bytes:
    """The template as CSV: the header only, separated by semicolons as Dutch Excel expects."""
    output = io.StringIO()
    csv.writer(output, delimiter=";").writerow(TEMPLATE_HEADER)
    return ("\ufeff" + output.getvalue()).encode("utf-8")


def template_xlsx(*, rollen, kenmerken) -> bytes:
    """The template as XLSX: the header, and on a second sheet the roles and kenmerken she may use."""
    from openpyxl import Workbook

    from .export import cell_text

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Users")[:31]
    sheet.append(TEMPLATE_HEADER)
    for column in sheet.iter_cols(min_row=1, max_row=1):
        sheet.column_dimensions[column[0].column_letter].width = 22
    help_sheet = workbook.create_sheet(_("Roles and kenmerken")[:31])
    help_sheet.append([_("Role (code for the column rol)"), _("Role"), _("Kenmerk types")])
    for rol in rollen:
        types = ", ".join(kenmerk_type.naam for kenmerk_type in rol.kenmerk_types.all())
        help_sheet.append([cell_text(rol.code), cell_text(rol.naam), cell_text(types)])
    help_sheet.append([])
    help_sheet.append([_("Kenmerk (value for the column kenmerk)"), _("Type"), _("Description")])
    for kenmerk in kenmerken:
        help_sheet.append(
            [cell_text(kenmerk.waarde), cell_text(kenmerk.type.naam), cell_text(kenmerk.omschrijving)]
        )
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
