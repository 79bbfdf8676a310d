"""English dates as the portal writes them: "28 November 2026" and "28 November 2026, 14:05".

Django's English defaults are American ("Nov. 28, 2026, 2:05 p.m."); the portal's readers are in the
Netherlands, so its English uses the day-month-year order and the 24-hour clock of its Dutch
("28 november 2026, 14:05"). Only the display formats change; input formats stay Django's.
"""

DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATE_FORMAT = "d-m-Y"
SHORT_DATETIME_FORMAT = "d-m-Y H:i"
