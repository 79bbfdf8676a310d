"""Dutch throughout the helpdesk's admin (issue 15 item 3).

Two checks against the compiled catalogue (what the running site uses, ``scripts/messages.sh``):

* every msgid in the project's admin code and admin templates has a Dutch translation — extracted the way
  ``makemessages`` does it (xgettext; templates through Django's ``templatize``), so a new English string
  without a Dutch entry in a fragment fails here, and a fuzzy entry (left out by msgfmt) does too;
* every model, field, filter and action the admin shows has a Dutch name, and the admin's JavaScript
  catalogue (the selection widget, the calendar) is Dutch.

And the pages themselves, rendered in Dutch as the helpdesk sees them, carry none of the English texts the
helpdesk reported.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import trans_real
from django.utils.translation.template import templatize

from accounts.helpdesk import helpdesk_group_sync
from tests.factories import StaffFactory

REPO = Path(__file__).resolve().parents[2]
# The project's admin code: every admin module (admin.py, admin_*.py, helpdesk_admin.py, …), the passkey
# login, and the templates the admin renders.
ADMIN_SOURCES = sorted(
    path
    for pattern in ("*/*admin*.py", "*/passkeys.py")
    for path in REPO.glob(pattern)
    if ".venv" not in path.parts
)
ADMIN_TEMPLATES = sorted((REPO / "templates" / "admin").rglob("*.html"))
KEYWORDS = [
    "_",
    "gettext",
    "gettext_lazy",
    "ngettext:1,2",
    "ngettext_lazy:1,2",
    "pgettext:1c,2",
    "pgettext_lazy:1c,2",
    "npgettext:1c,2,3",
    "npgettext_lazy:1c,2,3",
]


ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unquote(line: str) -> str:
    body = line[line.index('"') + 1 : line.rindex('"')]
    return re.sub(r"\\(.)", lambda match: ESCAPES.get(match.group(1), match.group(1)), body)


def pot_entries(text: str) -> list[tuple[str | None, str, str | None]]:
    """(context, msgid, msgid_plural) of every entry of a POT file, header excluded."""
    entries, current, field = [], {}, None
    for line in [*text.splitlines(), ""]:
        if not line.strip() or line.startswith("#"):
            if current.get("msgid"):
                entries.append((current.get("msgctxt"), current["msgid"], current.get("msgid_plural")))
            if not line.strip():
                current, field = {}, None
            continue
        keyword = line.split(" ", 1)[0]
        if keyword in ("msgctxt", "msgid", "msgid_plural"):
            field = keyword
            current[field] = _unquote(line)
        elif keyword.startswith("msgstr"):
            field = None
        elif line.startswith('"') and field:
            current[field] += _unquote(line)
    return entries


def extract(paths: list[Path], *, language: str, source: str | None = None) -> list[tuple]:
    xgettext = shutil.which("xgettext")
    assert xgettext, "xgettext missing: install gettext (scripts/setup.sh does)"
    args = [xgettext, "-o", "-", f"--language={language}", "--from-code=UTF-8", "--no-wrap"]
    args += [f"--keyword={keyword}" for keyword in KEYWORDS]
    if source is None:
        result = subprocess.run([*args, *map(str, paths)], capture_output=True, text=True, check=True)
    else:
        result = subprocess.run([*args, "-"], input=source, capture_output=True, text=True, check=True)
    return pot_entries(result.stdout)


def admin_msgids() -> list[tuple]:
    entries = extract(ADMIN_SOURCES, language="Python")
    for template in ADMIN_TEMPLATES:
        entries += extract(
            [], language="Python", source=templatize(template.read_text(), origin=str(template))
        )
    return entries


def dutch_catalogue() -> dict:
    trans_real._translations.clear()  # the catalogue as compiled now, not a copy from an earlier test
    return trans_real.translation("nl")._catalog


def untranslated(entries, catalogue) -> list[str]:
    missing = []
    for context, msgid, plural in entries:
        key = f"{context}\x04{msgid}" if context else msgid
        found = catalogue.get((key, 0)) if plural else catalogue.get(key)
        if not found:
            missing.append(msgid)
    return sorted(set(missing))


def test_the_extraction_finds_the_admin_strings():
    """Guards the check below against finding nothing (and so passing without looking)."""
    msgids = {msgid for _context, msgid, _plural in admin_msgids()}
    assert "Verification code" in msgids  # accounts/admin_login.py
    assert "Lift the koppel block" in msgids  # beheer/admin_actions.py
    assert "Please correct the error below." in msgids  # templates/admin/helpdesk_login.html


def test_the_check_would_see_an_english_string_without_a_dutch_entry():
    entries = extract([], language="Python", source='_("An English text nobody translated")\n')
    assert untranslated(entries, dutch_catalogue()) == ["An English text nobody translated"]


def test_every_msgid_of_the_admin_code_and_templates_has_a_dutch_translation():
    assert untranslated(admin_msgids(), dutch_catalogue()) == []


def _msgid(value) -> str | None:
    return value._args[0] if isinstance(value, Promise) and getattr(value, "_args", None) else None


def _admin_texts():
    """Every lazy text the registered admins show: names, fields, help, choices, filters, actions, forms."""
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in {"accounts", "koppeling", "diensten", "beheer", "auth"}:
            continue
        options = model._meta
        where = model.__name__
        yield where, options.verbose_name
        yield where, options.verbose_name_plural
        for field in options.get_fields():
            yield f"{where}.{field.name}", getattr(field, "verbose_name", None)
            yield f"{where}.{field.name}", getattr(field, "help_text", None)
            for _value, label in getattr(field, "flatchoices", None) or []:
                yield f"{where}.{field.name}", label
        for action in model_admin.actions or []:
            function = getattr(model_admin, action) if isinstance(action, str) else action
            yield f"{where} action", getattr(function, "short_description", None)
        for list_filter in model_admin.list_filter:
            if isinstance(list_filter, type):
                yield f"{where} filter", getattr(list_filter, "title", None)
        for column in model_admin.list_display:
            function = getattr(model_admin, column, None) if isinstance(column, str) else column
            yield f"{where} column", getattr(function, "short_description", None)
        for name, form_field in getattr(model_admin.form, "declared_fields", {}).items():
            yield f"{where} form {name}", form_field.label
            yield f"{where} form {name}", form_field.help_text
        yield where, getattr(model_admin, "search_help_text", None)


def test_every_model_field_filter_and_action_of_the_admin_has_a_dutch_name():
    catalogue = dutch_catalogue()
    missing = sorted(
        {
            f"{where}: {msgid}"
            for where, value in _admin_texts()
            if (msgid := _msgid(value)) and not catalogue.get(msgid)
        }
    )
    assert missing == []


def test_the_selection_widget_and_calendar_speak_dutch(helpdesk_client):
    """Django 5.2's own Dutch admin catalogue lacks the selection widget's newer texts; ours adds them."""
    script = helpdesk_client.get(reverse("admin:jsi18n"), HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    for english, dutch in [
        ('Choose %s by selecting them and then select the \\"Choose\\" arrow button.', "Kies %s door"),
        ("Choose all %s", "Alle %s kiezen"),
        ("Remove all %s", "Alle %s verwijderen"),
        ("Choose a time", "Kies een tijd"),
    ]:
        assert f'"{english}": "{dutch}' in script, english


PASSWORD = "correct horse battery staple"


@pytest.fixture
def helpdesk_client(client, db):
    staff = StaffFactory()
    staff.groups.add(helpdesk_group_sync())
    client.force_login(staff)
    session = client.session
    # OTPAdminSite asks for a verified device; force_login has none, so log the device in as django_otp does.
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


ENGLISH_ON_ADMIN_PAGES = [
    "OTP Token",
    "Please select a device",
    "account(s)",
    "Op action",
    "Op result",
    "Failures",
    "Blocked until",
    "Actor repr",
    "Created at",
    "Granted by",
    "Granted at",
    "Window started at",
    "Select a date",
    "Choose a time",
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "admin:index",
        "admin:accounts_account_changelist",
        "admin:accounts_account_add",
        "admin:accounts_organisatie_changelist",
        "admin:accounts_organisatie_add",
        "admin:accounts_auditevent_changelist",
        "admin:accounts_mededeling_changelist",
        "admin:accounts_mededeling_add",
        "admin:koppeling_koppelattemptcounter_changelist",
        "admin:koppeling_koppeling_changelist",
    ],
)
def test_admin_pages_the_helpdesk_uses_show_no_english(helpdesk_client, url):
    with translation.override("nl"):
        response = helpdesk_client.get(reverse(url), HTTP_ACCEPT_LANGUAGE="nl")
    assert response.status_code == 200
    html = response.content.decode()
    text = re.sub(r"<[^>]+>", " ", html)
    for english in ENGLISH_ON_ADMIN_PAGES:
        assert not re.search(rf"\b{re.escape(english)}\b", text, re.IGNORECASE), english
    assert 'lang="nl"' in html


@pytest.mark.django_db
def test_mededeling_date_and_time_inputs_each_have_a_label(helpdesk_client):
    html = helpdesk_client.get(reverse("admin:accounts_mededeling_add")).content.decode()
    for name in ("publish_from_0", "publish_from_1", "publish_until_0", "publish_until_1"):
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)
        labelled = re.search(r'aria-label="[^"]+"', tag) or re.search(
            rf'<label[^>]*for="{re.escape("id_" + name)}"', html
        )
        assert labelled, name
