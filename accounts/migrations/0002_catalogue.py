"""Load version 1 of the catalogue (seed 003): kenmerk types, rollen and the 14 beheerautorisaties."""

from django.db import migrations


def load_catalogue(apps, schema_editor):
    from accounts.catalogue import BEHEERAUTORISATIES_V1, KENMERK_TYPES_V1, ROLLEN_V1

    KenmerkType = apps.get_model("accounts", "KenmerkType")
    Rol = apps.get_model("accounts", "Rol")
    Beheerautorisatie = apps.get_model("accounts", "Beheerautorisatie")

    types = {}
    for code, naam, _example in KENMERK_TYPES_V1:
        types[code], _ = KenmerkType.objects.get_or_create(code=code, defaults={"naam": naam})
    rollen = {}
    for code, (naam, onderwerp, kenmerk_types, _seed) in ROLLEN_V1.items():
        rol, _ = Rol.objects.get_or_create(code=code, defaults={"naam": naam, "onderwerp": onderwerp})
        rol.kenmerk_types.set([types[t] for t in kenmerk_types])
        rollen[code] = rol
    items = {}
    for volgorde, (code, (naam, rol_codes, _requires, needs_bestuursnummer)) in enumerate(
        BEHEERAUTORISATIES_V1.items(), start=1
    ):
        item, _ = Beheerautorisatie.objects.get_or_create(
            code=code,
            defaults={"naam": naam, "volgorde": volgorde, "requires_bestuursnummer": needs_bestuursnummer},
        )
        item.rollen.set([rollen[c] for c in rol_codes])
        items[code] = item
    for code, (_naam, _rollen, requires, _needs) in BEHEERAUTORISATIES_V1.items():
        items[code].requires_one_of.set([items[c] for c in requires])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(load_catalogue, migrations.RunPython.noop)]
