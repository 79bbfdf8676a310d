"""The helpdesk's passkey (issue 15 item 6) and the Dutch, accessible admin (item 3), in Chromium.

A virtual authenticator (Chrome DevTools Protocol, domain WebAuthn: a platform authenticator with
resident keys and user verification) plays the member's phone or laptop: the real ceremonies run — the
browser signs the site's challenge for this origin, the server verifies it with py_webauthn. Nothing is
mocked. The admin pages the helpdesk uses are checked with axe-core (WCAG 2.1 A/AA) and for fitting in
1280 pixels.
"""

import re

import pytest
from django.contrib.auth.models import Group
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import expect

from accounts.constants import AuditAction, AuditResult
from accounts.helpdesk import HELPDESK_GROUP
from accounts.models import AuditEvent, Mededeling
from accounts.passkeys import passkey_enrolment_url
from tests.factories import AccountFactory, StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PASSWORD = "e2e helpdesk wachtwoord, lang genoeg"
AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


def helpdesk_member():
    staff = StaffFactory(name="Pieter Passkey")
    staff.set_password(PASSWORD)
    staff.save()
    staff.groups.add(Group.objects.get(name=HELPDESK_GROUP))
    return staff


def virtual_authenticator(page) -> tuple:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    return cdp, authenticator["authenticatorId"]


def enrol(page, staff, a11y) -> str:
    url = passkey_enrolment_url(account=staff)
    page.goto(url)
    a11y.check(page, "passkey enrolment: password")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("#login-form input[type=submit]").click()
    button = page.locator("#passkey-register-button")
    expect(button).to_have_text("Passkey registreren")
    a11y.check(page, "passkey enrolment: register")
    button.click()
    status = page.locator("#passkey-register-status-message")
    expect(status).to_have_attribute("data-status-enum", "success")
    expect(status).to_have_text("Registratie voltooid!")
    return url


def passkey_login(page):
    page.goto("/admin/login/?next=/admin/")
    button = page.locator("#passkey-verification-button")
    expect(button).to_have_text("Inloggen met een passkey")
    button.click()


def test_helpdesk_member_enrols_a_passkey_in_person_and_logs_in_with_it(new_page, a11y, settings):
    staff = helpdesk_member()
    page = new_page()
    cdp, authenticator_id = virtual_authenticator(page)
    csp_violations = []
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and csp_violations.append(message),
    )

    url = enrol(page, staff, a11y)
    credential = WebAuthnCredential.objects.get(user=staff)
    assert credential.confirmed
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})["credentials"]) == 1
    assert AuditEvent.objects.filter(
        action=AuditAction.PASSKEY_ENROL, result=AuditResult.SUCCESS, object_id=str(staff.pk)
    ).exists()

    # The link is used up: opening it again is refused (and audited).
    assert page.goto(url).status == 404
    assert AuditEvent.objects.filter(action=AuditAction.PASSKEY_ENROL, result=AuditResult.REFUSED).exists()

    # With passkeys required, the login screen offers only the passkey, and it opens the admin.
    settings.HELPDESK_REQUIRE_PASSKEY = True
    page.goto("/admin/login/?next=/admin/")
    expect(page.locator("input[name=otp_token]")).to_have_count(0)
    a11y.check(page, "admin login (passkey only)")
    passkey_login(page)
    expect(page.locator("#user-tools")).to_contain_text(staff.name)
    assert page.url.endswith("/admin/")
    login = AuditEvent.objects.filter(action=AuditAction.ADMIN_LOGIN, actor_id=staff.pk).get()
    assert login.result == AuditResult.SUCCESS
    assert not csp_violations, [message.text for message in csp_violations]
    assert a11y.violations == {}, a11y.report()


def test_a_passkey_of_an_account_that_is_no_longer_staff_is_refused_and_audited(new_page, a11y):
    staff = helpdesk_member()
    page = new_page()
    virtual_authenticator(page)
    enrol(page, staff, a11y)
    staff.is_staff = False
    staff.save()

    passkey_login(page)
    status = page.locator("#passkey-verification-status-message")
    expect(status).to_have_text("Met deze passkey kunt u niet inloggen bij de helpdesk.")
    assert "/admin/login/" in page.url
    refused = AuditEvent.objects.get(action=AuditAction.ADMIN_LOGIN_FAILED, result=AuditResult.REFUSED)
    assert refused.detail == {"method": "passkey", "reason_code": "not_staff"}
    assert refused.object_id == str(staff.pk)
    assert not AuditEvent.objects.filter(action=AuditAction.ADMIN_LOGIN).exists()


def test_admin_pages_the_helpdesk_uses_are_accessible_dutch_and_fit_1280_pixels(new_page, a11y):
    staff = helpdesk_member()
    user = AccountFactory(
        name="Annemarie van Wijngaarden-Oosterhuis", email="annemarie.vanwijngaarden@example.nl"
    )
    Mededeling.objects.create(
        title="Onderhoud zaterdag", text="Mijn DUO Zakelijk is zaterdag niet bereikbaar."
    )
    page = new_page()
    virtual_authenticator(page)
    enrol(page, staff, a11y)
    page.goto("/admin/login/?next=/admin/")
    a11y.check(page, "admin login")
    passkey_login(page)
    expect(page.locator("#user-tools")).to_contain_text(staff.name)

    # The account is touched by the audit trail: a row with long values in the list.
    AuditEvent.objects.create(
        action=AuditAction.ACCOUNT_UPDATE, result=AuditResult.SUCCESS, object_repr=str(user)
    )
    pages = {
        "admin index": "/admin/",
        "account list": "/admin/accounts/account/",
        "account page": f"/admin/accounts/account/{user.pk}/change/",
        "organisation list": "/admin/accounts/organisatie/",
        "organisation page": f"/admin/accounts/organisatie/{user.organisatie_id}/change/",
        "audit trail": "/admin/accounts/auditevent/",
        "mededelingen": "/admin/accounts/mededeling/",
        "mededeling form": "/admin/accounts/mededeling/add/",
    }
    too_wide = {}
    for name, path in pages.items():
        response = page.goto(path)
        assert response.status == 200, (name, response.status)
        page.wait_for_load_state("load")
        a11y.check(page, name)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 1280:
            too_wide[name] = width
    # The selection widget of the mededeling form (Django's admin JavaScript) in Dutch.
    expect(page.locator(".selector-chooseall").first).to_have_text(re.compile(r"^Alle .+ kiezen$"))
    help_text = page.locator(".selector-available-title .helptext").first.inner_text()
    assert help_text.startswith("Kies "), help_text
    assert too_wide == {}
    assert a11y.violations == {}, a11y.report()
