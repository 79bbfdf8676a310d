"""Seed the token switch planning per sector from seed 001 ("Tabel met planning per organisatie").

The seed gives messages per sector rather than dates, plus one deadline for everyone: "Wij
verzoeken u vóór 31 december 2022 de overstap af te ronden". Per organisation type we take the
*latest* moment the seed allows for any sector inside that type, so nobody loses the token before
their own sector's date:

* onderwijsinstelling, bestuur: PO schools needed eHerkenning from 1 January 2022, but VO, MBO and
  HO schools and boards were only told in June 2022 → 1 January 2023 (the general deadline).
* gemeente: Inburgering from 1 January 2022, Verzuim told on 1 June 2022 → 1 January 2023.
* deurwaarder ("Deurwaarders en incassobureaus"): told in early July 2022 → 1 January 2023.
* anders (STAP-opleiders, administratiekantoren, ketenpartners, "Meer ruimte voor nieuwe scholen",
  told at the end of March 2023) → 1 July 2023, three months after the last message.

The helpdesk edits these dates in the admin.
"""

import datetime

from django.db import migrations

PLANNING = [
    (
        "onderwijsinstelling",
        datetime.date(2023, 1, 1),
        "Po-scholen vanaf 1 januari 2022; vo-, mbo- en ho-instellingen bericht in juni 2022; "
        "overstap afronden vóór 31 december 2022.",
    ),
    (
        "bestuur",
        datetime.date(2023, 1, 1),
        "Po-, vo-, mbo- en ho-besturen bericht in juni 2022; overstap afronden vóór 31 december 2022.",
    ),
    (
        "gemeente",
        datetime.date(2023, 1, 1),
        "Inburgering vanaf 1 januari 2022; Verzuim bericht op 1 juni 2022; "
        "overstap afronden vóór 31 december 2022.",
    ),
    (
        "deurwaarder",
        datetime.date(2023, 1, 1),
        "Deurwaarders en incassobureaus bericht begin juli 2022; overstap afronden vóór 31 december 2022.",
    ),
    (
        "anders",
        datetime.date(2023, 7, 1),
        "STAP-opleiders, administratiekantoren, ketenpartners; 'Meer ruimte voor nieuwe scholen' "
        "bericht eind maart 2023.",
    ),
]


def load_planning(apps, schema_editor):
    OverstapPlanning = apps.get_model("accounts", "OverstapPlanning")
    for organisatie_type, switch_date, note in PLANNING:
        OverstapPlanning.objects.get_or_create(
            organisatie_type=organisatie_type, defaults={"switch_date": switch_date, "note": note}
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_portal")]
    operations = [migrations.RunPython(load_planning, migrations.RunPython.noop)]
