"""Issue 18 item 5: the hand-off to a DUO service on the embedded default, walked in Chromium.

``make run`` (scripts/run-dev.sh in its own process, as test_embedded_default.py starts it) serves the demo
Dienst at /dev/dienst/, registered by demo_data for the OSR rol. A newcomer logs in as Dirk Visser, clicks
"Onderwijs Service Register" on the overview and is in the demo Dienst, logged in, with their rol and kenmerk;
when they log out of the portal, the demo Dienst hears it by back-channel logout."""

from playwright.sync_api import expect

from .test_embedded_default import (  # noqa: F401  (fixtures)
    arrive,
    chromium,
    eherkenning_login,
    overview_reached,
    portal,
    walk,
)


def test_a_newcomer_clicks_onderwijs_service_register_and_is_in_the_demo_dienst(portal, walk):  # noqa: F811
    dirk = walk()
    with portal.step("Dirk Visser logs in with eHerkenning EH3"):
        eherkenning_login(dirk, "Dirk Visser")
        overview_reached(dirk, "Dirk Visser")

    with portal.step("He clicks Onderwijs Service Register: the demo Dienst shows him logged in"):
        dirk.get_by_role("link", name="Onderwijs Service Register").first.click()
        arrive(dirk, "/dev/dienst/")
        expect(dirk.locator("#demo-status")).to_have_text("Aangemeld als Dirk Visser.")
        expect(dirk.locator("#demo-rollen")).to_contain_text("Onderwijs Service Register (OSR) (osr)")
        expect(dirk.locator("#demo-rollen")).to_contain_text("instellingscode 12AB")
        expect(dirk.locator("#demo-claims")).to_contain_text("urn:etoegang:core:assurance-class:loa3")

    with portal.step("He logs out of the portal; the demo Dienst ended his session there"):
        dirk.goto("/overzicht/")
        dirk.get_by_role("button", name="Uitloggen").click()
        arrive(dirk, "/uitgelogd/")
        dirk.goto("/dev/dienst/")
        arrive(dirk, "/dev/dienst/")
        expect(dirk.locator("#demo-status")).to_contain_text("back-channel logout")
