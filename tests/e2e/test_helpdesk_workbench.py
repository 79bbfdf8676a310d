"""The helpdesk workbench (issue 15 items 1 and 2) in Chromium: the account screen, a confirmation page and
the audit trail with its filters and an event's detail are axe-clean (WCAG 2.1 A/AA), Dutch and fit 1280 px.

The call walked here: a caller is blocked after five wrong codes; the helpdesk finds them, lifts the block
from the account screen, and undoes a link through the confirmation page with a reason.
"""

import pytest
from django.contrib.auth.models import Group
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from accounts.helpdesk import HELPDESK_GROUP
from accounts.models import AuditEvent
from koppeling.lockout import LIMIT
from koppeling.models import Koppeling
from koppeling.services import activation_code_issue, koppel_attempt
from tests.factories import AccountFactory, KoppelingFactory, StaffFactory
from tests.koppeling.conftest import identity_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "e2e helpdesk wachtwoord, lang genoeg"


def helpdesk_login(page):
    staff = StaffFactory(name="Hanneke Helpdesk")
    staff.set_password(PASSWORD)
    staff.save()
    staff.groups.add(Group.objects.get(name=HELPDESK_GROUP))
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    page.goto("/admin/")
    page.locator("input[name=username]").fill(staff.username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("input[name=otp_token]").fill(
        f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"
    )
    page.locator("#login-form input[type=submit]").first.click()
    expect(page.locator("#user-tools")).to_contain_text(staff.name)
    return staff


def fits(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_helpdesk_answers_a_blocked_caller_from_one_screen(new_page, a11y):
    caller = AccountFactory(
        name="Annemarie van Wijngaarden-Oosterhuis", email="annemarie.vanwijngaarden@example.nl"
    )
    activation_code_issue(account=caller)
    identity = identity_for(caller, pseudonym="b1e5c0d3a7f94e2c8d6b0a9f1e3c5d7b9a1c3e5f7092b4d6")
    for _n in range(LIMIT + 1):
        koppel_attempt(identity=identity, username=caller.username, code="AAAA-AAAA-AAAA", ip="192.0.2.9")
    linked = AccountFactory(organisatie=caller.organisatie, name="Kees Gekoppeld")
    KoppelingFactory(account=linked, intermediate_entity_id="87654321")

    page = new_page()
    helpdesk_login(page)
    too_wide = {}

    # The list opens the account screen; it shows the block of the username and of the identity.
    page.goto(f"/admin/accounts/account/?q={caller.username}")
    page.get_by_role("link", name=caller.username).click()
    expect(page.locator("h1")).to_contain_text(caller.username)
    expect(page.locator(".helpdesk-status")).to_have_text("Geblokkeerd")
    expect(page.locator("#h-blocks + table")).to_contain_text("eHerkenning-identiteit")
    a11y.check(page, "helpdesk account screen (blocked)")
    too_wide["account screen"] = fits(page)

    page.get_by_role("button", name="Koppelblokkade opheffen (gebruikersnaam en identiteiten)").click()
    expect(page.locator(".messagelist")).to_contain_text("Blokkade opgeheven")
    expect(page.locator(".helpdesk-status")).not_to_have_text("Geblokkeerd")

    # Undo a link: the confirmation page asks the reason; without it nothing changes.
    page.goto(f"/admin/accounts/account/{linked.pk}/helpdesk/")
    a11y.check(page, "helpdesk account screen (linked)")
    too_wide["account screen (linked)"] = fits(page)
    page.get_by_role("link", name="Koppeling ongedaan maken…").click()
    expect(page.locator("#content-main")).to_contain_text("Dit verandert er")
    a11y.check(page, "confirmation page")
    too_wide["confirmation page"] = fits(page)
    page.get_by_role("button", name="Ja, uitvoeren").click()
    expect(page.locator(".errornote")).to_be_visible()
    a11y.check(page, "confirmation page with an error")
    assert Koppeling.objects.filter(account=linked, ended_at=None).exists()
    page.get_by_label("Reden").fill("Middel gestolen, gebeld op 29-11")
    page.get_by_role("button", name="Ja, uitvoeren").click()
    expect(page.locator(".messagelist")).to_contain_text("Koppeling ongedaan gemaakt")
    assert not Koppeling.objects.filter(account=linked, ended_at=None).exists()

    # The trail, filtered by the tried username, finds the refused attempt during the block.
    page.goto("/admin/accounts/auditevent/")
    page.get_by_label("Account (gebruikersnaam)").fill(caller.username)
    page.get_by_role("button", name="Filter toepassen").click()
    expect(page.locator("#result_list")).to_contain_text("koppelpoging")
    expect(page.locator("#result_list")).to_contain_text("geweigerd")
    a11y.check(page, "audit trail filtered")
    too_wide["audit trail"] = fits(page)
    event = AuditEvent.objects.filter(action="koppel.attempt", result="refused").latest("id")
    page.goto(f"/admin/accounts/auditevent/{event.pk}/change/")
    expect(page.locator(".audit-detail")).to_contain_text("gebruikersnaam")
    a11y.check(page, "audit event")
    too_wide["audit event"] = fits(page)

    assert {name: width for name, width in too_wide.items() if width > 1280} == {}
    assert a11y.violations == {}, a11y.report()
