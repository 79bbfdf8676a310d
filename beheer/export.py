"""The gebruikersbestand: a beheerder's export of her organisation's users (issue 16 item 4).

DUO gives beheerders the same file: users, their roles and kenmerken, login means and last login.
The CSV streams row by row; the XLSX is written by openpyxl in write-only mode (constant memory)
to a temporary file that is then streamed. Every text cell is neutralised against formula
injection: a spreadsheet must never run what a user typed as his name.
"""

import csv
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from types import SimpleNamespace

from django.utils import timezone
from django.utils.translation import gettext as _

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
    """The gebruikersbestand as a download (CSV streamed, XLSX from its temporary file), audited.

    One path for the beheerder (her organisation) and the helpdesk (any organisation): the same
    rows, and every export of personal data in the audit trail (who took which organisation's file).
    """
    from django.http import FileResponse, StreamingHttpResponse

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
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    else:
        response = FileResponse(
            gebruikersbestand_xlsx(organisatie_id=organisatie_id),
            as_attachment=True,
            filename=filename,
            content_type=XLSX_CONTENT_TYPE,
        )
    response["Cache-Control"] = "no-store"
    return response


XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class _Echo:
    def write(self, value: str) -> str:
        return value


def gebruikersbestand_csv(*, organisatie_id: int) -> Iterator[str]:
    """The CSV as it is produced: a byte-order mark (Excel reads UTF-8 then), then row by row.

    Semicolon-separated, as Excel with Dutch regional settings expects.
    """
    writer = csv.writer(_Echo(), delimiter=";")
    yield "\ufeff"
    for row in gebruikersbestand_rows(organisatie_id=organisatie_id):
        yield writer.writerow(row)


def gebruikersbestand_xlsx(*, organisatie_id: int):
    """The XLSX in a temporary file (write-only workbook: rows go to disk as they come), rewound."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_("Users")[:31])
    for row in gebruikersbestand_rows(organisatie_id=organisatie_id):
        sheet.append([value or None for value in row])  # an empty cell is no cell: less to write
    output = tempfile.TemporaryFile()
    workbook.save(output)
    output.seek(0)
    return output
