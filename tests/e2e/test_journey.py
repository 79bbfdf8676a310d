"""Issue 7: the whole journey in a real browser, from the helpdesk to a blocked user.

One long test, in the order people meet the portal (design.md §3):

1. the helpdesk logs in to the admin with password + TOTP and creates an organisation and its beheerder;
2. the beheerder gets their activation code by e-mail (a real SMTP server), logs in through the dev broker at
   EH3, walks the koppel wizard and lands on the overview;
3. in Autorisatiebeheer the beheerder registers a user, gives them a role with a kenmerk, downloads the
   username letter (PDF) and sends them an activation code;
4. the user logs in through the dev broker, walks the wizard with the keyboard only and sees the role's
   Onderwerp on their overview, and their Mijn gegevens;
5. a second user types wrong codes five times and is blocked;
6. the beheerder undoes the first user's link, and that user is back in the wizard;
7. an EH2 login is refused with the explanation page.

Every page is checked with axe-core for WCAG 2.1 A/AA violations; the main screens are photographed.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from accounts.helpdesk import HELPDESK_GROUP
from tests.factories import StaffFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

HELPDESK_PASSWORD = "e2e helpdesk wachtwoord, lang genoeg"
CODE_PATTERN = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")

# The organisation of the journey and its people. The pseudonyms are what the eHerkenning broker asserts as
# ActingSubjectID; the KvK-nummer is the LegalSubjectID of the machtiging.
ORGANISATIE = {
    "naam": "Basisschool De Vlinder",
    "instellingscode": "88ZZ",
    "bestuursnummer": "48123",
    "kvk_nummer": "48123456",
    "straat": "Vlinderweg",
    "huisnummer": "7",
    "postcode": "9711 AA",
    "woonplaats": "Groningen",
}
VESTIGINGSCODE = "88ZZ01"


@dataclass
class Person:
    name: str
    email: str
    pseudonym: str
    job_title: str = "Medewerker"
    username: str = ""
    page: Page | None = None


@dataclass
class Journey:
    a11y: object
    screenshots: object
    smtp: object
    tmp_path: Path
    beheerder: Person = field(
        default_factory=lambda: Person("Bas Beheer", "bas@vlinder.example", "e2e-pseudonym-bas", "Directeur")
    )
    gebruiker: Person = field(
        default_factory=lambda: Person(
            "Gijs Gebruiker", "gijs@vlinder.example", "e2e-pseudonym-gijs", "Administrateur"
        )
    )
    indringer: Person = field(
        default_factory=lambda: Person("Ilse Indringer", "ilse@vlinder.example", "e2e-pseudonym-ilse")
    )

    def check(self, page: Page, name: str, *, screenshot: str | None = None, reflow: bool = False) -> None:
        """axe-core on the page as it is now (and reflow at 320px for the portal's screens, the
        Autorisatiebeheer tables included: they stack on small screens), and a screenshot when the
        screen is one of the main ones."""
        self.a11y.check(page, name)
        if reflow:
            self.a11y.check_reflow(page, name)
        if screenshot:
            self.screenshots.take(page, screenshot)


def totp_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


# --- 1. the helpdesk ----------------------------------------------------------------------------


def helpdesk_member_create():
    staff = StaffFactory(name="Hanneke Helpdesk")
    staff.set_password(HELPDESK_PASSWORD)
    staff.save()
    staff.groups.add(Group.objects.get(name=HELPDESK_GROUP))
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    return staff, device


def helpdesk_onboards_the_organisation(journey: Journey, page: Page) -> None:
    staff, device = helpdesk_member_create()

    page.goto("/admin/")
    expect(page.locator("input[name=username]")).to_be_visible()
    journey.check(page, "admin login")
    # One screen: username, password and the code from the app (no device to choose).
    page.locator("input[name=username]").fill(staff.username)
    page.locator("input[name=password]").fill(HELPDESK_PASSWORD)
    page.locator("input[name=otp_token]").fill(totp_code(device))
    journey.check(page, "admin login filled in")
    page.locator("#login-form input[type=submit]").first.click()
    expect(page.locator("#user-tools")).to_contain_text(staff.name)
    journey.check(page, "admin index")

    # The organisation from the registration form, with its kenmerken.
    page.goto("/admin/accounts/organisatie/add/")
    page.locator("select[name=type]").select_option("onderwijsinstelling")
    for name, value in ORGANISATIE.items():
        page.locator(f"input[name={name}]").fill(value)
    page.locator("select[name=kenmerken-0-type]").select_option(label="Instellingscode")
    page.locator("input[name=kenmerken-0-waarde]").fill(ORGANISATIE["instellingscode"])
    page.locator("input[name=kenmerken-0-omschrijving]").fill(ORGANISATIE["naam"])
    page.locator(".add-row a").first.click()
    page.locator("select[name=kenmerken-1-type]").select_option(label="Vestigingscode")
    page.locator("input[name=kenmerken-1-waarde]").fill(VESTIGINGSCODE)
    page.locator("input[name=kenmerken-1-omschrijving]").fill("Dependance Vlinderhof")
    journey.check(page, "admin organisation form")
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist")).to_contain_text(ORGANISATIE["naam"])

    # Its beheerder, holding Beheerder PO.
    beheerder = journey.beheerder
    page.goto("/admin/accounts/account/add/")
    page.locator("#id_organisatie + .select2 .select2-selection").click()
    page.locator(".select2-search__field").fill("Vlinder")
    page.locator(".select2-results__option", has_text=ORGANISATIE["naam"]).click()
    page.locator("input[name=name]").fill(beheerder.name)
    page.locator("input[name=job_title]").fill(beheerder.job_title)
    page.locator("input[name=phone]").fill("050 765 4321")
    page.locator("input[name=email]").fill(beheerder.email)
    page.get_by_label("Beheerder PO (Primair Onderwijs)").check()
    journey.check(page, "admin account form")
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist")).to_contain_text(beheerder.name)

    from accounts.models import Account

    account = Account.objects.get(email=beheerder.email)
    beheerder.username = account.username
    assert account.beheerautorisaties.filter(code="po").exists()


def helpdesk_sends_the_beheerder_his_code(journey: Journey, page: Page) -> None:
    """The helpdesk's admin action "send a new activation code" on the beheerder's account."""
    page.goto(f"/admin/accounts/account/?q={journey.beheerder.username}")
    row = page.locator("#result_list tbody tr", has_text=journey.beheerder.username)
    row.locator("input[name=_selected_action]").check()
    page.locator("select[name=action]").select_option("send_activation_code")
    journey.check(page, "admin account list")
    page.locator("button[name=index]").click()
    # Every bulk action first confirms what changes and asks the reason for the audit trail.
    expect(page.locator(".helpdesk-changes")).to_contain_text(journey.beheerder.name)
    page.locator("textarea[name=reason]").fill("Aanmeldformulier ontvangen, nieuwe organisatie")
    journey.check(page, "admin action confirmation")
    page.locator("#content-main input[type=submit]").click()
    expect(page.locator(".messagelist")).to_be_visible()


# --- eHerkenning through the dev broker ---------------------------------------------------------

LEVELS = {
    "EH2": "urn:etoegang:core:assurance-class:loa2",
    "EH3": "urn:etoegang:core:assurance-class:loa3",
}


def broker_login(
    journey: Journey,
    page: Page,
    person: Person,
    *,
    level: str = "EH3",
    screenshot=None,
    from_home: bool = True,
) -> None:
    """From the home page (or the broker page already open) through the dev broker, as ``person`` (own
    pseudonym, the organisation's KvK-nummer), back to the portal."""
    if from_home:
        page.goto("/")
        page.get_by_role("link", name="Inloggen met eHerkenning").click()
    page.wait_for_url("**/dev/broker/**")
    page.locator(f"input[name=level][value='{LEVELS[level]}']").check()
    page.locator("input[name=persona][value=own]").check()
    page.locator("input[name=acting_subject_id]").fill(person.pseudonym)
    page.locator("input[name=legal_subject_id]").fill(ORGANISATIE["kvk_nummer"])
    journey.check(page, "dev broker login", screenshot=screenshot)
    page.locator("main form").filter(has=page.locator("input[name=persona]")).locator(
        "button[type=submit]"
    ).click()
    # The broker's page posts the signed response to /saml2/acs/ (auto-submit): the portal redirects on, or
    # answers there with a refusal.
    page.wait_for_url(lambda url: "/dev/broker/" not in url)


# --- the koppel wizard --------------------------------------------------------------------------


def focus_is_visible(page: Page) -> bool:
    """WCAG 2.4.7: the focused element shows an outline or a focus ring (box-shadow)."""
    return page.evaluate(
        """() => {
            const style = getComputedStyle(document.activeElement);
            const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
            return outline || (style.boxShadow && style.boxShadow !== 'none');
        }"""
    )


def tab_to(journey: Journey, page: Page, locator, *, limit: int = 60) -> None:
    """Press Tab until ``locator`` has the focus, as a keyboard user would; check the focus is visible."""
    target = locator.element_handle()
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("element => element === document.activeElement", target):
            if not focus_is_visible(page):
                journey.a11y.violations.setdefault(f"keyboard focus ({page.url})", []).append(
                    {
                        "impact": "serious",
                        "id": "focus-visible",
                        "help": "WCAG 2.4.7: the focused element has no visible focus indicator",
                        "nodes": [{"target": [str(locator)], "html": target.evaluate("e => e.outerHTML")}],
                    }
                )
            return
    raise AssertionError(f"{locator} is not reachable with Tab on {page.url}")


def wizard_walk(journey: Journey, page: Page, person: Person, code: str, *, keyboard: bool = False) -> None:
    """Seed 002 §1.2: Voordat u begint → Disclaimer → Gebruikersvoorwaarden → Koppelen → Koppeling gelukt.

    With ``keyboard`` the whole wizard is done with Tab, Space, typing and Enter only, and every step is
    photographed.
    """

    def submit(form_action: str):
        button = page.locator(f"main form[action$='{form_action}'] button[type=submit]")
        if keyboard:
            tab_to(journey, page, button)
            page.keyboard.press("Enter")
        else:
            button.click()

    def tick(locator):
        if keyboard:
            tab_to(journey, page, locator)
            page.keyboard.press("Space")
        else:
            locator.check()
        expect(locator).to_be_checked()

    def shot(name):
        return name if keyboard else None

    expect(page).to_have_url(re.compile(r"/koppelen/$"))
    expect(page.locator("h1")).to_have_text("Voordat u begint")
    journey.check(
        page,
        f"wizard 1 voordat u begint ({person.name})",
        screenshot=shot("03-wizard-1-voordat-u-begint"),
        reflow=True,
    )
    tick(page.locator("input[name=situation][value=yes]"))
    submit("/koppelen/")

    expect(page).to_have_url(re.compile(r"/koppelen/disclaimer/$"))
    expect(page.locator("h1")).to_have_text("Disclaimer")
    journey.check(
        page, f"wizard 2 disclaimer ({person.name})", screenshot=shot("04-wizard-2-disclaimer"), reflow=True
    )
    tick(page.locator("input[name=accept]"))
    submit("/koppelen/disclaimer/")

    expect(page).to_have_url(re.compile(r"/koppelen/gebruikersvoorwaarden/$"))
    expect(page.locator("h1")).to_have_text("Gebruiksvoorwaarden")
    journey.check(
        page,
        f"wizard 3 gebruikersvoorwaarden ({person.name})",
        screenshot=shot("05-wizard-3-gebruikersvoorwaarden"),
        reflow=True,
    )
    tick(page.locator("input[name=accept]"))
    submit("/koppelen/gebruikersvoorwaarden/")

    expect(page).to_have_url(re.compile(r"/koppelen/koppel/$"))
    journey.check(page, f"wizard 4 koppelen ({person.name})", reflow=True)
    username, activation_code = (
        page.locator("input[name=username]"),
        page.locator("input[name=activation_code]"),
    )
    if keyboard:
        tab_to(journey, page, username)
        page.keyboard.type(person.username)
        tab_to(journey, page, activation_code)
        page.keyboard.type(code)
    else:
        username.fill(person.username)
        activation_code.fill(code)
    if keyboard:
        journey.screenshots.take(page, "06-wizard-4-koppelen")
    submit("/koppelen/koppel/")

    expect(page).to_have_url(re.compile(r"/koppelen/gelukt/$"))
    expect(page.locator("h1")).to_have_text("Koppeling gelukt")
    journey.check(
        page,
        f"wizard 5 koppeling gelukt ({person.name})",
        screenshot=shot("07-wizard-5-koppeling-gelukt"),
        reflow=True,
    )
    next_link = page.locator("main a[href$='/overzicht/']").first
    if keyboard:
        tab_to(journey, page, next_link)
        page.keyboard.press("Enter")
    else:
        next_link.click()
    expect(page).to_have_url(re.compile(r"/overzicht/$"))


def activation_code_from_mail(journey: Journey, person: Person, *, after: int = 0) -> str:
    message = journey.smtp.wait_for(to=person.email, body_pattern=CODE_PATTERN, after=after)
    body = journey.smtp.body(message)
    assert person.username not in body, "the username travels on paper, never with the code"
    return CODE_PATTERN.search(body).group(0)


# --- Autorisatiebeheer --------------------------------------------------------------------------


def beheerder_registers(journey: Journey, page: Page, person: Person, *, screenshot=None) -> None:
    page.goto("/beheer/")
    page.get_by_role("link", name="Gebruiker aanmelden").click()
    page.locator("input[name=name]").fill(person.name)
    page.locator("input[name=job_title]").fill(person.job_title)
    page.locator("input[name=email]").fill(person.email)
    page.locator("input[name=phone]").fill("050 111 2233")
    journey.check(page, "beheer register form", screenshot=screenshot, reflow=True)
    # Not "Aanmelden en nog een" (an empty form again): the new user's page, with the username.
    page.locator("main form").get_by_role("button", name="Gebruiker aanmelden", exact=True).click()
    expect(page.locator("h1")).to_have_text(person.name)
    person.username = page.locator("dl.beheer-details dd code").first.inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{6,12}", person.username), person.username
    journey.smtp.wait_for(to=person.email)  # the confirmation e-mail


def option_value(page: Page, select_name: str, text: str) -> str:
    return page.locator(f"select[name={select_name}] option", has_text=text).first.get_attribute("value")


def beheerder_assigns_role(journey: Journey, page: Page, *, rol_text: str, kenmerk_text: str) -> None:
    page.locator("select[name=rol]").select_option(option_value(page, "rol", rol_text))
    page.locator("select[name=kenmerk]").select_option(option_value(page, "kenmerk", kenmerk_text))
    page.get_by_role("button", name="Rol toekennen").click()
    expect(page.locator("main table")).to_contain_text(kenmerk_text)


def beheerder_downloads_letter(journey: Journey, page: Page, person: Person) -> None:
    """The username letter (PDF, a download): the username is in it, and its first page is photographed."""
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Brief downloaden").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".pdf"), download.suggested_filename
    pdf = journey.tmp_path / download.suggested_filename
    download.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    text = "\n".join(pdf_page.extract_text() for pdf_page in PdfReader(pdf).pages)
    assert person.username in text, text[:500]
    assert person.name in text
    journey.screenshots.save_pdf_page(pdf, "12-brief-gebruikersnaam")


def beheerder_sends_code(page: Page) -> None:
    page.get_by_role("button", name="Activatiecode versturen").click()
    expect(page.locator(".messages")).to_be_visible()


def status_in_list(page: Page, person: Person):
    """The status badge of ``person`` in the Autorisatiebeheer list (its class carries the status value)."""
    page.goto("/beheer/")
    return page.locator("main table tbody tr", has_text=person.username).locator(".status")


def beheerder_opens(page: Page, person: Person) -> None:
    page.goto("/beheer/")
    page.get_by_role("link", name=person.name).click()
    expect(page.locator("h1")).to_have_text(person.name)


# --- the journey --------------------------------------------------------------------------------


def test_journey_from_helpdesk_to_blocked_user(new_page, a11y, screenshots, smtp_server, tmp_path):
    journey = Journey(a11y=a11y, screenshots=screenshots, smtp=smtp_server, tmp_path=tmp_path)
    beheerder, gebruiker, indringer = journey.beheerder, journey.gebruiker, journey.indringer

    # 1. The helpdesk onboards the organisation and its beheerder, and sends them their activation code.
    helpdesk = new_page()
    helpdesk_onboards_the_organisation(journey, helpdesk)
    mails_before = len(smtp_server.messages)
    helpdesk_sends_the_beheerder_his_code(journey, helpdesk)
    beheerder_code = activation_code_from_mail(journey, beheerder, after=mails_before)

    # 2. The beheerder logs in with eHerkenning (EH3), links their account and lands on the overview.
    bas = beheerder.page = new_page()
    broker_login(journey, bas, beheerder, screenshot="02-dev-broker")
    wizard_walk(journey, bas, beheerder, beheerder_code)
    expect(bas.locator("h1")).to_have_text("Mijn DUO")
    expect(bas.get_by_role("link", name="Autorisatiebeheer")).to_be_visible()
    journey.check(bas, "overview (beheerder)", reflow=True)

    # 3. Autorisatiebeheer: register a user, give them a role with a kenmerk, print their letter, send a code.
    bas.get_by_role("link", name="Autorisatiebeheer").first.click()
    expect(bas.locator("h1")).to_have_text("Autorisatiebeheer")
    journey.check(bas, "beheer list", reflow=True)
    beheerder_registers(journey, bas, gebruiker, screenshot="10-autorisatiebeheer-aanmelden")
    beheerder_assigns_role(journey, bas, rol_text="Onderwijs Service Register", kenmerk_text=VESTIGINGSCODE)
    journey.check(bas, "beheer user detail", screenshot="11-autorisatiebeheer-gebruiker", reflow=True)
    beheerder_downloads_letter(journey, bas, gebruiker)
    mails_before = len(smtp_server.messages)
    beheerder_sends_code(bas)
    gebruiker_code = activation_code_from_mail(journey, gebruiker, after=mails_before)
    bas.goto("/beheer/")
    journey.check(bas, "beheer list with user", screenshot="09-autorisatiebeheer", reflow=True)

    # 4. The user logs in, walks the wizard with the keyboard only, and sees the Onderwerp of their role.
    gijs = gebruiker.page = new_page()
    gijs.goto("/")
    journey.check(gijs, "home")
    broker_login(journey, gijs, gebruiker)
    mails_before = len(smtp_server.messages)
    wizard_walk(journey, gijs, gebruiker, gebruiker_code, keyboard=True)
    smtp_server.wait_for(to=gebruiker.email, after=mails_before)  # the notice of the new link
    onderwerp = gijs.locator("main").get_by_role("link", name="Onderwijs Service Register").first
    expect(onderwerp).to_be_visible()
    expect(gijs.get_by_role("link", name="Autorisatiebeheer")).to_have_count(0)
    journey.check(gijs, "overview (user)", screenshot="08-overzicht", reflow=True)
    onderwerp.click()
    expect(gijs.locator("main")).to_contain_text(VESTIGINGSCODE)
    journey.check(gijs, "onderwerp page", reflow=True)
    gijs.goto("/overzicht/")
    gijs.get_by_role("link", name="Mijn gegevens").click()
    expect(gijs.locator("input[name=email]")).to_have_value(gebruiker.email)
    journey.check(gijs, "mijn gegevens", screenshot="13-mijn-gegevens", reflow=True)

    # 5. A second user types wrong codes five times: she is blocked, even the right code no longer works.
    beheerder_registers(journey, bas, indringer)
    mails_before = len(smtp_server.messages)
    beheerder_sends_code(bas)
    indringer_code = activation_code_from_mail(journey, indringer, after=mails_before)
    ilse = indringer.page = new_page()
    broker_login(journey, ilse, indringer)
    ilse.locator("main form[action$='/koppelen/'] button[type=submit]").click()  # no choice made
    expect(ilse.locator(".error-summary")).to_be_visible()
    journey.check(ilse, "wizard 1 without a choice (error summary)")
    ilse.locator("input[name=situation][value=yes]").check()
    ilse.locator("main form[action$='/koppelen/'] button[type=submit]").click()
    ilse.locator("input[name=accept]").check()
    ilse.locator("main form[action$='/koppelen/disclaimer/'] button[type=submit]").click()
    ilse.locator("input[name=accept]").check()
    ilse.locator("main form[action$='/koppelen/gebruikersvoorwaarden/'] button[type=submit]").click()
    expect(ilse).to_have_url(re.compile(r"/koppelen/koppel/$"))
    wrong_codes = ["AAAA-BBBB-CCCC", "DDDD-EEEE-FFFF", "GGGG-HHHH-JJJJ", "KKKK-MMMM-NNNN", "PPPP-QQQQ-RRRR"]
    for wrong in wrong_codes:
        ilse.locator("input[name=username]").fill(indringer.username)
        ilse.locator("input[name=activation_code]").fill(wrong)
        ilse.get_by_role("button", name="Koppel").click()
        expect(ilse).to_have_url(re.compile(r"/koppelen/koppel/$"))
        expect(ilse.locator(".error-summary")).to_be_visible()
    journey.check(ilse, "wizard koppelen with error")
    ilse.locator("input[name=username]").fill(indringer.username)
    ilse.locator("input[name=activation_code]").fill(indringer_code)
    ilse.get_by_role("button", name="Koppel").click()
    expect(ilse).to_have_url(re.compile(r"/koppelen/koppel/$"))
    expect(ilse.locator(".error-summary")).to_be_visible()
    expect(ilse.locator("main")).to_contain_text("15 minuten")
    journey.check(ilse, "wizard koppelen blocked")
    expect(status_in_list(bas, indringer)).to_have_class(re.compile(r"status--geblokkeerd"))

    # 6. The beheerder undoes the user's link (lost means); their next login starts the wizard again.
    expect(status_in_list(bas, gebruiker)).to_have_class(re.compile(r"status--gekoppeld"))
    beheerder_opens(bas, gebruiker)
    bas.get_by_role("link", name="Koppeling ongedaan maken").click()
    bas.locator("input[name=reason]").first.check()
    journey.check(bas, "beheer undo link", reflow=True)
    bas.locator("main form button[type=submit]").click()
    expect(bas.locator("h1")).to_have_text(gebruiker.name)
    expect(bas.get_by_role("button", name="Activatiecode versturen")).to_be_visible()
    expect(status_in_list(bas, gebruiker)).to_have_class(re.compile(r"status--ontkoppeld"))
    gijs.goto("/overzicht/")  # his session ended with the link: he is sent to eHerkenning
    broker_login(journey, gijs, gebruiker, from_home=False)
    expect(gijs).to_have_url(re.compile(r"/koppelen/$"))
    expect(gijs.locator("h1")).to_have_text("Voordat u begint")

    # 7. An EH2 login is refused with the explanation page.
    someone = new_page()
    broker_login(journey, someone, beheerder, level="EH2")
    expect(someone.locator("h1")).to_have_text("Uw eHerkenningsmiddel heeft niet het juiste niveau")
    expect(someone.get_by_role("link", name="Autorisatiebeheer")).to_have_count(0)
    journey.check(someone, "EH2 refused", screenshot="14-eh2-geweigerd", reflow=True)

    assert not a11y.violations, "WCAG 2.1 A/AA violations:\n" + a11y.report()
