"""Dutch dates as the portal writes them: "28 november 2026" and "28 november 2026, 14:05"."""

from django.conf.locale.nl.formats import *  # noqa: F403  (Django's Dutch formats, input formats included)

DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i"
