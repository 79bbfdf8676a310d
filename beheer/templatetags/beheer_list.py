"""The rows, sort headers and filter options of the Autorisatiebeheer user list, rendered in Python.

The same markup as a ``{% for %}`` over the rows in the template, but Django's template engine spent
~0.6 ms a row on it (a URL reversal, a translation and a date filter per row, and some 15 variable
lookups): 16 ms of a 25-row page, a third of the page's time at 10,000 users (bench P3). Here the
texts that are the same on every row are translated once, the detail URL is reversed once, and each
row is one ``str.format`` of escaped values. The sort headers (an ``{% include %}`` each, with a
``{% querystring %}``) and the filter options (a loop with an ``{% if %}`` per option) likewise.

``escape`` is the standard library's: Django's ``escape`` is the same ``html.escape`` behind a
``keep_lazy`` wrapper and a ``SafeString``, which cost more than the escaping itself (some 400 calls
a page). Every value is a ``str`` (``str()`` of a lazy text first).
"""

import re
from collections.abc import Callable
from datetime import datetime
from html import escape

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.formats import date_format, get_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from beheer.constants import GebruikerStatus

register = template.Library()

_ROW = (
    "<tr>\n"
    "      <td>{select}</td>\n"
    '      <th scope="row"><a class="utrecht-link" href="{url}">{name}</a></th>\n'
    '      <td data-label="{username_label}"><code>{username}</code></td>\n'
    '      <td data-label="{email_label}">{email}</td>\n'
    '      <td data-label="{status_label}"><span class="status status--{status}">{status_text}</span></td>\n'
    '      <td data-label="{roles_label}">{roles}</td>\n'
    '      <td data-label="{login_label}">{last_login}</td>\n'
    "    </tr>"
)
_SELECT = (
    '<input type="checkbox" name="id" value="{pk}" id="select-{pk}">'
    '<label class="visually-hidden" for="select-{pk}">{label}</label>'
)


# The format characters the rows' fast date writer knows (day, month name, year, hour, minute), and
# the literal characters it copies; any other format goes through Django's date_format.
_SIMPLE_DATETIME_FORMAT = re.compile(r"[jFYHi ,.:/-]*")


def _datetime_writer() -> Callable[[datetime], str]:
    """A function that writes a local datetime as ``date_format(value, "DATETIME_FORMAT")`` does.

    Django's ``date_format`` looks the format up, splits it with a regular expression and translates
    the month name again for every value: 35 µs a date, 1.7 ms for the 51 last logins of a page of
    100 users (bench P3). For the portal's formats ("j F Y, H:i", mijnduo/formats) the same text is
    written from the format's characters, each month name translated once per page; ``DateFormat``'s
    own methods give the same values (j: the day, F: ``MONTHS``, Y: %04d, H and i: %02d).
    """
    format_string = get_format("DATETIME_FORMAT")
    if not _SIMPLE_DATETIME_FORMAT.fullmatch(format_string):
        return lambda value: date_format(value, "DATETIME_FORMAT")
    months: dict[int, str] = {}

    def write(value: datetime) -> str:
        month = months.get(value.month)
        if month is None:
            month = months[value.month] = str(MONTHS[value.month])
        values = {
            "j": str(value.day),
            "F": month,
            "Y": f"{value.year:04d}",
            "H": f"{value.hour:02d}",
            "i": f"{value.minute:02d}",
        }
        return "".join(values.get(character, character) for character in format_string)

    return write


@register.simple_tag
def gebruikers_rows(accounts, columns) -> SafeString:
    """The ``<tr>`` of each account of the page, in order (``columns``: the view's sortable headers).

    Every value is escaped (``escape``, as the template's autoescape would); the texts that are the
    same on every row are escaped once. ``format_html`` would run ``conditional_escape`` over every
    argument of every row, the fixed labels too: 22 calls a row, 10 ms of a 100-row page.
    """
    url_zero = reverse("beheer:gebruiker", args=[0])
    url_prefix, url_suffix = url_zero[: url_zero.rindex("0")], url_zero[url_zero.rindex("0") + 1 :]
    labels = {
        "username_label": escape(columns["username"]["label"]),
        "email_label": escape(gettext("E-mail address")),
        "status_label": escape(columns["status"]["label"]),
        "roles_label": escape(gettext("Roles")),
        "login_label": escape(columns["last_login"]["label"]),
    }
    never = escape(gettext("never"))
    select_text = gettext("Select %(name)s")
    status_texts = {status: escape(str(status.label)) for status in GebruikerStatus}
    datetime_text = _datetime_writer()
    rows = []
    for account in accounts:
        status = account.status
        select = ""
        if status != GebruikerStatus.VERWIJDERD:
            select = _SELECT.format(pk=int(account.pk), label=escape(select_text % {"name": account.name}))
        roles = (
            "<br>".join(f"{escape(naam)} ({escape(waarde)})" for naam, waarde in account.rol_labels)
            if account.rol_labels
            else "—"
        )
        seen = account.last_seen_at
        last_login = escape(datetime_text(timezone.localtime(seen))) if seen else never
        rows.append(
            _ROW.format(
                select=select,
                url=escape(f"{url_prefix}{int(account.pk)}{url_suffix}"),
                name=escape(account.name),
                username=escape(account.username),
                email=escape(account.email),
                status=escape(str(status.value)),
                status_text=status_texts[status],
                roles=roles,
                last_login=last_login,
                **labels,
            )
        )
    return mark_safe("\n    ".join(rows))  # noqa: S308  (every value in the rows escaped above)


_SORT_HEADER = (
    '<th scope="col"{aria_sort}><a class="utrecht-link" href="{href}">{label}'
    '<span class="visually-hidden"> ({hint})</span></a></th>'
)


@register.simple_tag
def sort_header(column) -> SafeString:
    """The ``<th>`` of a sortable column (``column``: one of the view's sortable headers): its
    ``aria-sort`` when the list is sorted by it, a link that sorts it (the other way when sorted),
    and a hidden text that says which."""
    aria_sort = column["aria_sort"]
    if aria_sort == "ascending":
        hint = gettext("sorted ascending; sort descending")
    elif aria_sort == "descending":
        hint = gettext("sorted descending; sort ascending")
    else:
        hint = gettext("sort")
    return mark_safe(  # noqa: S308  (every value escaped)
        _SORT_HEADER.format(
            aria_sort=f' aria-sort="{escape(aria_sort)}"' if aria_sort else "",
            href=escape(column["href"]),
            label=escape(str(column["label"])),
            hint=escape(hint),
        )
    )


@register.simple_tag
def select_options(options) -> SafeString:
    """The ``<option>`` elements of a filter select, from (value, label, selected) triples."""
    return mark_safe(  # noqa: S308  (every value escaped)
        "".join(
            f'<option value="{escape(value)}"{" selected" if selected else ""}>{escape(label)}</option>'
            for value, label, selected in options
        )
    )
