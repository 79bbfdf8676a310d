"""The gebruikersbestand: a beheerder's export of her organisation's users (issue 16 item 4).

DUO gives beheerders the same file: users, their roles and kenmerken, login means and last login.
Both formats stream row by row (design.md §7 P8: first byte ≤ 200 ms, 10,000 users ≤ 3 s): the
CSV as text, the XLSX as a zip compressed while the rows are produced. Every text cell is
neutralised against formula injection: a spreadsheet must never run what a user typed as their name.
"""

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from types import SimpleNamespace

from django.utils import timezone
from django.utils.translation import gettext as _

# At import (with the URL conf, at a worker's first request), not at the first export: openpyxl's
# import costs 100-250 ms, which the export's first byte would otherwise pay (bench P8).
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from accounts.models import Account, RolToekenning

from . import selectors
from .constants import GebruikerStatus

CHUNK_SIZE = 1000

# OWASP "CSV injection": a cell starting with one of these is a formula (or becomes one) in Excel,
# LibreOffice and Google Sheets. A leading apostrophe makes it plain text.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def cell_text(value) -> str:
    """One exported cell as text, never a formula."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def _header() -> list[str]:
    return [
        _("Name"),
        _("Username"),
        _("E-mail address"),
        _("Job title"),
        _("Telephone"),
        _("Status"),
        _("Roles"),
        _("Kenmerken"),
        _("Login means"),
        _("Linked at"),
        _("Last login"),
        _("Activation code"),
    ]


def _texts() -> dict:
    """The translated words of the rows, looked up once per export rather than once per row."""
    return {
        "being sent": _("being sent"),
        "none sent": _("none sent"),
        "used": _("used"),
        "no longer valid": _("no longer valid"),
        "expired": _("expired"),
        "valid until": _("valid until %(until)s"),
        "token": _("token"),
        **{status: str(status.label) for status in GebruikerStatus},
    }


def _code_status(account: Account, now: datetime, texts: dict) -> str:
    if (
        account.last_code_mail_at is not None
        and account.code_mail_sent_at is None
        and (account.last_code_at is None or account.last_code_mail_at >= account.last_code_at)
    ):
        return texts["being sent"]
    if account.last_code_at is None:
        return texts["none sent"]
    if account.code_used_at is not None:
        return texts["used"]
    if account.code_invalidated_at is not None:
        return texts["no longer valid"]
    if account.code_expires_at <= now:
        return texts["expired"]
    return texts["valid until"] % {"until": cell_text(account.code_expires_at)}


def _login_means(account: Account, texts: dict) -> str:
    means = []
    if account.is_linked:
        means.append("eHerkenning")
    if account.has_token:
        means.append(texts["token"])
    return " + ".join(means)


def _row(account, now: datetime, texts: dict) -> list[str]:
    kenmerken = dict.fromkeys(f"{type_naam} {waarde}" for _rol, waarde, type_naam in account.roles)
    return [
        account.name,
        account.username,
        account.email,
        account.job_title,
        account.phone,
        texts[account.status],
        "; ".join(f"{rol} ({waarde})" for rol, waarde, _type in account.roles),
        "; ".join(kenmerken),
        _login_means(account, texts),
        account.linked_at,
        account.last_seen_at,
        _code_status(account, now, texts),
    ]


def _chunks(iterable: Iterable, size: int) -> Iterator[list]:
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


# What a row needs, read as plain values: model instances for 10,000 users and their roles cost
# several times the SQL (design.md §7 P8).
_FIELDS = (
    "pk",
    "name",
    "username",
    "email",
    "job_title",
    "phone",
    "removed_at",
    "progress",
    "last_login",
    "is_linked",
    "link_last_login_at",
    "last_unlinked_at",
    "last_code_mail_at",
    "last_code_at",
    "linked_at",
    "has_token",
    "code_expires_at",
    "code_used_at",
    "code_invalidated_at",
    "code_mail_sent_at",
)


def gebruikersbestand_rows(*, organisatie_id: int, now: datetime | None = None) -> Iterator[list[str]]:
    """The header, then one row per user, as neutralised text cells.

    The ids come first (one indexed query, in list order), then each chunk of ids gets its status
    inputs and roles: the first rows leave after one chunk's work, where a server-side cursor
    outside a transaction (WITH HOLD) would compute the whole organisation before the first row.
    """
    now = now or timezone.now()
    texts = _texts()
    yield [cell_text(value) for value in _header()]
    accounts = selectors.accounts_for_export(organisatie_id=organisatie_id).prefetch_related(None)
    ids = list(accounts.values_list("pk", flat=True))
    for chunk in _chunks(ids, CHUNK_SIZE):
        rows = {
            row["pk"]: SimpleNamespace(**row, roles=[])
            for row in accounts.filter(pk__in=chunk).values(*_FIELDS)
        }
        roles = (
            RolToekenning.objects.filter(account_id__in=chunk)
            .order_by("rol__naam", "kenmerk__waarde")
            .values_list("account_id", "rol__naam", "kenmerk__waarde", "kenmerk__type__naam")
        )
        for account_id, *role in roles:
            rows[account_id].roles.append(role)
        for account in selectors.accounts_with_status(accounts=[rows[pk] for pk in chunk if pk in rows]):
            yield [cell_text(value) for value in _row(account, now, texts)]


def gebruikersbestand_response(*, organisatie_id: int, export_format: str, request, actor=None):
    """The gebruikersbestand as a download (CSV or XLSX, both streamed), audited.

    One path for the beheerder (her organisation) and the helpdesk (any organisation): the same
    rows, and every export of personal data in the audit trail (who took which organisation's file).
    """
    from django.http import StreamingHttpResponse

    from accounts.audit import audit_log
    from accounts.constants import AuditAction

    audit_log(
        action=AuditAction.GEBRUIKERSBESTAND_EXPORT,
        request=request,
        actor=actor,
        detail={"organisatie_id": organisatie_id, "format": export_format},
    )
    filename = f"gebruikersbestand-{timezone.localdate():%Y-%m-%d}.{export_format}"
    if export_format == "csv":
        response = StreamingHttpResponse(
            gebruikersbestand_csv(organisatie_id=organisatie_id), content_type="text/csv; charset=utf-8"
        )
    else:
        response = StreamingHttpResponse(
            gebruikersbestand_xlsx(organisatie_id=organisatie_id), content_type=XLSX_CONTENT_TYPE
        )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# Rows sent at a time: the server writes each chunk to the socket (chunked encoding), and 10,000
# one-row chunks cost about as much again as producing the rows (P8, 2026-11-29).
CSV_ROWS_PER_CHUNK = 100


def gebruikersbestand_csv(*, organisatie_id: int) -> Iterator[str]:
    """The CSV as it is produced: a byte-order mark (Excel reads UTF-8 then), the header, then rows.

    Semicolon-separated, as Excel with Dutch regional settings expects.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    yield "\ufeff"
    for number, row in enumerate(gebruikersbestand_rows(organisatie_id=organisatie_id)):
        writer.writerow(row)
        if number % CSV_ROWS_PER_CHUNK == 0:  # the header alone, then a hundred rows at a time
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if rest := buffer.getvalue():
        yield rest


# The XLSX is written here rather than by a spreadsheet library: openpyxl (write-only mode too) and
# XlsxWriter both assemble the zip only when the workbook is closed, so the first byte would leave
# after the last row (3.2 s for 10,000 users at load, P8). The maintained streaming packages on PyPI
# don't change that: stream-zip (sound) would only replace the zip layer, which the standard
# library's zipfile already streams to an unseekable file (data descriptors, Python ≥ 3.6), and
# xlsx-streaming rests on zipstream, whose last release (1.1.4) dates from 2016. So openpyxl still
# writes every fixed part of the package (content types, workbook, styles, theme, properties) and
# the frame of the worksheet; only the worksheet's rows are written here, as inline strings, and
# compressed into the response while the rows are read.

# XML 1.0 forbids these characters (a name with one would make the whole file unreadable); they
# are dropped. Lone surrogates cannot be encoded as UTF-8 at all.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Excel reads _xHHHH_ in a string as the character U+HHHH (ECMA-376 ST_Xstring); an underscore
# escaped as _x005F_ keeps such text as typed.
_OOXML_ESCAPE = re.compile("_(?=x[0-9A-Fa-f]{4}_)")
_SHEET_PART = "xl/worksheets/sheet1.xml"
# Rows compressed at a time: large enough that the zip layer's per-write cost vanishes, small
# enough that compressed bytes leave while the next rows are read.
_ROWS_PER_WRITE = 200


def xlsx_text(text: str) -> str:
    """A cell's text as the content of an XML element: legal characters only, escaped."""
    if _XML_ILLEGAL.search(text):
        text = _XML_ILLEGAL.sub("", text)
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")  # a bare CR would be read back as a line feed
    if "_x" in text:
        text = _OOXML_ESCAPE.sub("_x005F_", text)
    return text


def _xlsx_row(number: int, row: list[str], columns: list[str]) -> str:
    cells = []
    for column, value in zip(columns, row, strict=True):
        if not value:
            continue  # an empty cell is no cell
        text = xlsx_text(value)
        if text[:1].isspace() or text[-1:].isspace():
            cells.append(
                f'<c r="{column}{number}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
            )
        else:
            cells.append(f'<c r="{column}{number}" t="inlineStr"><is><t>{text}</t></is></c>')
    return f'<row r="{number}">{"".join(cells)}</row>'


def _xlsx_package(title: str) -> tuple[dict[str, bytes], str, str]:
    """openpyxl's parts of a workbook with one empty sheet ``title``, but that sheet, and its frame.

    Built per export (a few ms) rather than cached, so that the file's creation date is its own.
    """
    workbook = Workbook(write_only=True)
    workbook.create_sheet(title=title)
    buffer = io.BytesIO()
    workbook.save(buffer)
    with zipfile.ZipFile(buffer) as package:
        parts = {name: package.read(name) for name in package.namelist()}
    sheet = parts.pop(_SHEET_PART).decode("utf-8").replace("<sheetData/>", "<sheetData></sheetData>")
    head, tail = sheet.split("<sheetData></sheetData>")
    if not head.startswith("<?xml"):
        head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + head
    return parts, head + "<sheetData>", "</sheetData>" + tail


class _Sink:
    """An unseekable file for ZipFile: keeps what is written until the generator sends it on."""

    def __init__(self):
        self.chunks: list[bytes] = []

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def gebruikersbestand_xlsx(*, organisatie_id: int) -> Iterator[bytes]:
    """The XLSX as it is produced: the fixed parts first, then the sheet compressed row by row."""
    parts, sheet_head, sheet_tail = _xlsx_package(_("Users")[:31])
    columns = [get_column_letter(number) for number in range(1, len(_header()) + 1)]
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as package:
        for name in ("[Content_Types].xml", *sorted(parts.keys() - {"[Content_Types].xml"})):
            package.writestr(name, parts[name])
        yield sink.take()  # the first bytes leave before the database is asked for a row
        with package.open(_SHEET_PART, "w") as sheet:
            sheet.write(sheet_head.encode("utf-8"))
            pending = []
            for number, row in enumerate(gebruikersbestand_rows(organisatie_id=organisatie_id), start=1):
                pending.append(_xlsx_row(number, row, columns))
                if len(pending) == _ROWS_PER_WRITE:
                    sheet.write("".join(pending).encode("utf-8"))
                    pending.clear()
                    if sink.chunks:
                        yield sink.take()
            pending.append(sheet_tail)
            sheet.write("".join(pending).encode("utf-8"))
    yield sink.take()
