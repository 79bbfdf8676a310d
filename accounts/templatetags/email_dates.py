"""Dates in e-mails as the portal writes them elsewhere: "10 september 2026", in the mail's language.

The 18-month mails get their dates as text in the outbox row: the set-based unlink job writes them in
SQL (``to_char(…, 'DD-MM-YYYY')``, accounts/lifecycle.py), so a mail rendered later reads the same
day. This filter shows that day in words when the mail is rendered (``translation.override`` of the
mail's language is active then).
"""

from datetime import date, datetime

from django import template
from django.utils.formats import date_format

register = template.Library()

_TEXT_FORMATS = ("%d-%m-%Y", "%Y-%m-%d")


@register.filter
def date_in_words(value) -> str:
    """A date, or its text as the outbox keeps it, as "10 september 2026"; anything else unchanged."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        for text_format in _TEXT_FORMATS:
            try:
                value = datetime.strptime(value.strip(), text_format).date()
                break
            except ValueError:
                continue
    if isinstance(value, date):
        return date_format(value, "DATE_FORMAT")
    return "" if value is None else str(value)
