"""The Dutch catalogue is complete (issue 17 item 4): no untranslated or fuzzy entry in the compiled
locale/nl/LC_MESSAGES/django.po (scripts/messages.sh), and every msgid that the project's Python code
and templates use has a Dutch translation — extracted afresh with ``makemessages``, so a string added
without its Dutch is caught, not only a fragment entry left empty."""

import ast
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils.translation import trans_real

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "nl" / "LC_MESSAGES" / "django.po"
SOURCES = ("accounts", "beheer", "diensten", "koppeling", "mijnduo", "templates")


def gettext_tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} missing: install gettext (scripts/setup.sh does)"
    return path


def entries(*arguments: str) -> str:
    """What msgattrib selects from the catalogue, without the header entry."""
    output = subprocess.run(
        [gettext_tool("msgattrib"), "--no-wrap", *arguments, str(CATALOGUE)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return "\n".join(line for line in output.splitlines() if line.startswith("msgid ") and line != 'msgid ""')


def test_the_dutch_catalogue_has_no_untranslated_or_fuzzy_entry():
    assert CATALOGUE.exists(), "run scripts/messages.sh"
    assert entries("--untranslated") == ""
    assert entries("--only-fuzzy") == ""


@pytest.mark.django_db(transaction=False)
def test_every_msgid_of_the_code_and_templates_has_a_dutch_translation(tmp_path, monkeypatch):
    tree = tmp_path / "tree"
    for name in SOURCES:
        shutil.copytree(
            Path(settings.BASE_DIR) / name,
            tree / name,
            ignore=shutil.ignore_patterns("__pycache__", "migrations"),
        )
    (tree / "locale").mkdir()
    monkeypatch.chdir(tree)
    monkeypatch.setattr(settings, "LOCALE_PATHS", [tree / "locale"])
    call_command("makemessages", locale=["nl"], domain="django", no_location=True, verbosity=0)
    extracted = tree / "locale" / "nl" / "LC_MESSAGES" / "django.po"
    assert extracted.exists()
    # What Django uses at run time: the project's catalogue merged with those of Django and the
    # installed apps (the admin's own strings are Django's to translate). msgfmt leaves untranslated
    # and fuzzy entries out of the compiled files.
    translated = trans_real.translation("nl")._catalog
    missing = []
    for context, msgid, plural in used_msgids(extracted):
        key = f"{context}\x04{msgid}" if context is not None else msgid
        if (key if plural is None else (key, 0)) not in translated:
            missing.append(f"{context + ' | ' if context else ''}{msgid}")
    assert not missing, f"{len(missing)} msgids without a Dutch translation:\n" + "\n".join(sorted(missing))


def used_msgids(path: Path) -> list[tuple[str | None, str, str | None]]:
    """(msgctxt, msgid, msgid_plural) of every entry of a .po file written by makemessages."""
    flat = subprocess.run(
        [gettext_tool("msgcat"), "--no-wrap", str(path)], capture_output=True, text=True, check=True
    ).stdout
    found, context, msgid, plural, field = [], None, None, None, None
    for line in flat.splitlines() + [""]:
        if line.startswith("msgctxt "):
            context, field = ast.literal_eval(line[8:]), "msgctxt"
        elif line.startswith("msgid "):
            msgid, field = ast.literal_eval(line[6:]), "msgid"
        elif line.startswith("msgid_plural "):
            plural, field = ast.literal_eval(line[13:]), "msgid_plural"
        elif line.startswith('"') and field == "msgid":
            msgid += ast.literal_eval(line)
        elif line.startswith("msgstr"):
            field = None
        elif not line.strip():
            if msgid:
                found.append((context, msgid, plural))
            context, msgid, plural, field = None, None, None, None
    return found
