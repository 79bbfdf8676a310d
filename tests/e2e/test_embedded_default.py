"""Issue 13 item 2: the embedded default — what ``make run`` serves — walked in a real browser.

``scripts/run-dev.sh`` itself runs as a separate process (its own process group), as ``make run`` runs it:
``DJANGO_ENV=development``, SQLite, eager Celery, the dev eHerkenning broker at /dev/broker/, the dev mailbox
at /dev/mail/ and the demo data. Only what a newcomer may choose differs: a free ``PORT`` (run-dev.sh derives
``SITE_URL`` from it) and a temporary ``MIJNDUO_DEV_DIR`` (database, SAML keys, mailbox). The variables the
settings read are removed from the environment, so the test profile's (``DJANGO_ENV=test``, a
``DATABASE_URL``…) cannot leak in, and ``HOME`` is an empty temporary directory that must stay empty: nothing
may be written outside ``MIJNDUO_DEV_DIR``.

There is no test database here: the portal process keeps its own SQLite. Chromium (Playwright) walks it as
the README says a newcomer can: Dirk logs in; Fatima links her account with the code from /dev/mail/ and the
username from the ``demo_data`` output, logs out and in again; Anna registers a user in Autorisatiebeheer
and downloads their letter; the helpdesk opens /admin/ with password and the code of ``manage.py totp_now``.
Each test ends by checking that the server answered none of its requests with a 5xx; a failure carries the
server's log.
"""

import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, FAILURE_DIR, REPO, VIEWPORT, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HELPDESK_USERNAME = "HELPDESK"
HELPDESK_PASSWORD = "demo-helpdesk-wachtwoord"  # noqa: S105  (the README's demo password)
CODE_PATTERN = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")
# runserver logs every request as: [29/Nov/2026 00:09:01] "GET / HTTP/1.1" 200 3809
REQUEST_LINE = re.compile(r'^\[[^\]]+\] "(?P<request>[^"]*)" (?P<status>\d{3}) ', re.MULTILINE)
# Starting may migrate a new SQLite database and load the demo data: generous, it only bounds a hang.
START_DEADLINE_SECONDS = 180
LOG_TAIL_LINES = 200


def settings_variables() -> set[str]:
    """Every environment variable mijnduo/settings.py reads (``env.str("NAME", …)``, ``env("NAME")``…)."""
    source = (REPO / "mijnduo" / "settings.py").read_text()
    return set(re.findall(r"\benv(?:\.\w+)?\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", source))


@dataclass
class Portal:
    """The portal as ``make run`` serves it, in its own process group, logging to ``log_path``."""

    url: str
    dev_dir: Path
    home: Path
    log_path: Path
    env: dict
    process: subprocess.Popen | None = None
    checked_to: int = 0  # the log up to here has been checked for 5xx answers

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self) -> str:
        lines = self.log().splitlines()
        skipped = len(lines) - LOG_TAIL_LINES
        head = [f"[… {skipped} earlier lines in {self.log_path}]"] if skipped > 0 else []
        return "\n".join(head + lines[-LOG_TAIL_LINES:])

    @contextmanager
    def step(self, name: str):
        """Any failure inside becomes an AssertionError naming the step, with the server's log."""
        try:
            yield
        except Exception as error:
            raise AssertionError(
                f"{name}: {error}\n\n--- server log (scripts/run-dev.sh) ---\n{self.log_tail()}"
            ) from error

    def server_errors_unchecked(self) -> list[str]:
        """The 5xx answers in the part of the log not checked yet (whole lines only); marks it checked.

        runserver writes a request's line just after the answer, so the ranges are contiguous: a line that
        arrives after one test's check is seen by the next check, the last ones after the server stopped.
        """
        with self.log_path.open("rb") as log:
            log.seek(self.checked_to)
            text = log.read()
        text = text[: text.rfind(b"\n") + 1]
        self.checked_to += len(text)
        return [
            f"{match['status']} {match['request']}"
            for match in REQUEST_LINE.finditer(text.decode(errors="replace"))
            if match["status"].startswith("5")
        ]

    def check_clean(self, *, running: bool = True) -> None:
        """No 5xx answers, the server still runs, and nothing was written to the home directory."""
        errors = self.server_errors_unchecked()
        assert not errors, f"5xx answers in the server log: {errors}\n\n{self.log_tail()}"
        if running:
            assert self.process.poll() is None, (
                f"the server stopped (exit {self.process.returncode})\n\n{self.log_tail()}"
            )
        stray = sorted(str(path.relative_to(self.home)) for path in self.home.rglob("*"))
        assert not stray, f"files written to the home directory instead of MIJNDUO_DEV_DIR: {stray}"

    def demo_username(self, name: str) -> str:
        """The username ``demo_data`` printed for ``name`` (its table: username, name, organisation, state)."""
        match = re.search(rf"^[ \t]+(\S+)[ \t]+{re.escape(name)}[ \t]", self.log(), re.MULTILINE)
        assert match, f"demo_data printed no username for {name!r}\n\n{self.log_tail()}"
        return match.group(1)

    def manage(self, *args: str) -> str:
        """``.venv/bin/python manage.py …`` with the server's environment (DJANGO_ENV=development, its
        MIJNDUO_DEV_DIR), as the README tells a newcomer; its standard output."""
        result = subprocess.run(
            [str(REPO / ".venv" / "bin" / "python"), "manage.py", *args],
            cwd=REPO,
            env={**self.env, "DJANGO_ENV": "development"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, (
            f"manage.py {' '.join(args)} failed (exit {result.returncode}):\n{result.stderr[-3000:]}"
        )
        return result.stdout


def portal_start(portal: Portal) -> None:
    log = portal.log_path.open("wb")
    try:
        portal.process = subprocess.Popen(
            [str(REPO / "scripts" / "run-dev.sh")],
            cwd=REPO,
            env=portal.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: runserver's autoreloader starts a child
        )
    finally:
        log.close()
    deadline = time.monotonic() + START_DEADLINE_SECONDS
    while True:
        if portal.process.poll() is not None:
            raise AssertionError(
                f"scripts/run-dev.sh exited with {portal.process.returncode} before answering\n\n"
                f"{portal.log_tail()}"
            )
        try:
            with urllib.request.urlopen(f"{portal.url}/", timeout=10) as response:  # noqa: S310  (our own http URL)
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the portal did not answer on {portal.url} within {START_DEADLINE_SECONDS} s\n\n"
                f"{portal.log_tail()}"
            )
        time.sleep(0.25)


def portal_stop(portal: Portal) -> None:
    """Stop the whole process group (runserver and its autoreloader child) and wait until it is gone."""
    process = portal.process
    if process is None:
        return
    group = process.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; wait for the rest of the group (the reloader's child) too.
        for _ in range(80):
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.25)


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    root = tmp_path_factory.mktemp("embedded")
    dev_dir, home = root / "dev", root / "home"
    home.mkdir()
    port = free_port()
    env = {name: value for name, value in os.environ.items() if name not in settings_variables()}
    env.pop("SITE_URL", None)  # run-dev.sh derives it from PORT
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(
        PORT=str(port),
        MIJNDUO_DEV_DIR=str(dev_dir),
        HOME=str(home),
        PYTHONUNBUFFERED="1",  # the log in the order things happened
    )
    portal = Portal(
        url=f"http://localhost:{port}", dev_dir=dev_dir, home=home, log_path=root / "server.log", env=env
    )
    try:
        portal_start(portal)
        portal.server_errors_unchecked()  # starting is not part of the walk (its log has no requests)
        yield portal
    finally:
        portal_stop(portal)
    portal.check_clean(running=False)  # the last requests' lines, written after the last test's check


@pytest.fixture(scope="module")
def chromium():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the end-to-end tests need it (scripts/setup.sh test installs it)",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def walk(request, portal, chromium):
    """Pages in their own browser contexts (one person each); the test's requests must get no 5xx.

    Every response with a 5xx status is recorded on the page's context, so a step fails on the spot with the
    request that got it. On a failure every open page is photographed to ``E2E_FAILURE_DIR``.
    """
    contexts = []

    def new_page() -> Page:
        context = chromium.new_context(
            viewport=VIEWPORT,
            locale="nl-NL",
            timezone_id="Europe/Amsterdam",
            base_url=portal.url,
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        context.server_errors = []
        context.on(
            "response",
            lambda response: (
                response.status >= 500
                and context.server_errors.append(
                    f"{response.status} {response.request.method} {response.url}"
                )
            ),
        )
        contexts.append(context)
        return context.new_page()

    yield new_page
    if getattr(request.node, "e2e_failed", False):
        FAILURE_DIR.mkdir(parents=True, exist_ok=True)
        for number, context in enumerate(contexts):
            for page_number, page in enumerate(context.pages):
                path = FAILURE_DIR / f"{request.node.name}-{number}-{page_number}.png"
                try:
                    page.screenshot(path=str(path), full_page=True)
                    print(f"failure screenshot of {page.url}: {path}")
                except Exception as error:  # noqa: BLE001  (a closed page must not hide the failure)
                    print(f"no failure screenshot of context {number}: {error}")
    for context in contexts:
        context.close()
    if getattr(request.node, "e2e_failed", False):
        portal.server_errors_unchecked()  # reported with the failure already; not the next test's fault
    else:
        portal.check_clean()


# --- steps as a person takes them ---------------------------------------------------------------


def arrive(page: Page, path: str) -> None:
    """The page has loaded ``path``, and no request on the way got a 5xx."""
    page.wait_for_load_state("load")
    errors = page.context.server_errors
    assert not errors, f"the server answered {errors} (now on {page.url})"
    expect(page).to_have_url(re.compile(rf"^https?://[^/]+{re.escape(path)}(\?.*)?$"))


def eherkenning_login(page: Page, persona: str, *, level: str = "EH3", start: str = "/") -> None:
    """From ``start`` to the dev broker (from the home page through "Inloggen met eHerkenning", from a page
    behind the login directly): level and persona → back to the portal."""
    page.goto(start)
    if start == "/":
        page.get_by_role("link", name="Inloggen met eHerkenning").click()
    page.wait_for_url("**/dev/broker/**")
    page.get_by_role("radio", name=level, exact=True).check()
    page.get_by_role("radio", name=re.compile(rf"^{re.escape(persona)} —")).check()
    page.get_by_role("button", name="Verder").click()
    # However the response travels (a page that posts it, or a redirect with an artifact): back on the portal.
    page.wait_for_url(lambda url: "/dev/broker/" not in url)


def activation_code_from_mailbox(page: Page, email: str) -> str:
    """The newest mail to ``email`` in the dev mailbox (newest first), opened and read."""
    page.goto("/dev/mail/")
    arrive(page, "/dev/mail/")
    page.locator("main table tbody tr", has_text=email).first.get_by_role("link").click()
    expect(page.locator("main dl")).to_contain_text(email)
    body = page.locator("main pre").inner_text()
    code = CODE_PATTERN.search(body)
    assert code, f"no activation code in the mail to {email}:\n{body}"
    return code.group(0)


def overview_reached(page: Page, name: str) -> None:
    arrive(page, "/overzicht/")
    expect(page.locator("h1")).to_have_text("Mijn DUO")
    expect(page.locator("main")).to_contain_text(name)


# --- the walk -----------------------------------------------------------------------------------


def test_linked_persona_logs_in_to_the_overview(portal, walk):
    dirk = walk()
    with portal.step("Dirk Visser (linked) logs in with eHerkenning EH3"):
        eherkenning_login(dirk, "Dirk Visser")
        overview_reached(dirk, "Dirk Visser")


def test_unlinked_persona_links_with_the_code_from_the_mailbox_then_logs_out_and_in(portal, walk):
    username = portal.demo_username("Fatima el Amrani")
    with portal.step("Fatima's activation code from /dev/mail/"):
        code = activation_code_from_mailbox(walk(), "fatima@noordercollege.example")

    fatima = walk()
    with portal.step("Fatima el Amrani (not linked) logs in and walks the koppel wizard"):
        eherkenning_login(fatima, "Fatima el Amrani")
        arrive(fatima, "/koppelen/")
        expect(fatima.locator("h1")).to_have_text("Voordat u begint")
        fatima.locator("input[name=situation][value=yes]").check()
        fatima.locator("main form[action$='/koppelen/'] button[type=submit]").click()

        arrive(fatima, "/koppelen/disclaimer/")
        expect(fatima.locator("h1")).to_have_text("Disclaimer")
        fatima.locator("input[name=accept]").check()
        fatima.locator("main form[action$='/koppelen/disclaimer/'] button[type=submit]").click()

        arrive(fatima, "/koppelen/gebruikersvoorwaarden/")
        expect(fatima.locator("h1")).to_have_text("Gebruiksvoorwaarden")
        fatima.locator("input[name=accept]").check()
        fatima.locator("main form[action$='/koppelen/gebruikersvoorwaarden/'] button[type=submit]").click()

        arrive(fatima, "/koppelen/koppel/")
        fatima.locator("input[name=username]").fill(username)
        fatima.locator("input[name=activation_code]").fill(code)
        fatima.get_by_role("button", name="Koppel").click()

        arrive(fatima, "/koppelen/gelukt/")
        expect(fatima.locator("h1")).to_have_text("Koppeling gelukt")
        fatima.locator("main a[href$='/overzicht/']").first.click()
        overview_reached(fatima, "Fatima el Amrani")

    with portal.step("Fatima logs out"):
        fatima.get_by_role("button", name="Uitloggen").click()
        fatima.wait_for_url(lambda url: "/dev/broker/" not in url and "/saml2/" not in url)
        arrive(fatima, "/uitgelogd/")
        expect(fatima.locator("h1")).to_have_text("U bent uitgelogd")

    with portal.step("Fatima opens her overview again: logged out, she logs in, now linked"):
        eherkenning_login(fatima, "Fatima el Amrani", start="/overzicht/")
        overview_reached(fatima, "Fatima el Amrani")


def test_beheerder_registers_a_user_and_downloads_his_letter(portal, walk, tmp_path):
    anna = walk()
    with portal.step("Anna de Vries (beheerder) logs in and opens Autorisatiebeheer"):
        eherkenning_login(anna, "Anna de Vries")
        overview_reached(anna, "Anna de Vries")
        anna.get_by_role("link", name="Autorisatiebeheer").first.click()
        arrive(anna, "/beheer/")
        expect(anna.locator("h1")).to_have_text("Autorisatiebeheer")

    name, email = "Emma Embedded", "emma.embedded@regenboog.example"
    with portal.step("Anna registers a new user"):
        anna.get_by_role("link", name="Gebruiker aanmelden").click()
        anna.locator("input[name=name]").fill(name)
        anna.locator("input[name=job_title]").fill("Leerkracht")
        anna.locator("input[name=email]").fill(email)
        anna.locator("input[name=phone]").fill("050 111 2233")
        # Two submit buttons: "Gebruiker aanmelden" opens the new user's page, "Aanmelden en nog een" an
        # empty form again.
        anna.locator("main form").get_by_role("button", name="Gebruiker aanmelden", exact=True).click()
        anna.wait_for_load_state("load")
        assert not anna.context.server_errors, anna.context.server_errors
        expect(anna.locator("h1")).to_have_text(name)
        username = anna.locator("dl.beheer-details dd code").first.inner_text().strip()
        assert re.fullmatch(r"[A-Z0-9]{6,12}", username), username

    with portal.step("Anna downloads the username letter"):
        with anna.expect_download() as download_info:
            anna.get_by_role("link", name="Brief downloaden").click()
        pdf = tmp_path / "brief.pdf"
        download_info.value.save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF-"), pdf.read_bytes()[:200]
        text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
        assert username in text, text[:1000]
        assert name in text, text[:1000]


def test_helpdesk_logs_in_to_the_admin_with_password_and_totp(portal, walk):
    helpdesk = walk()
    with portal.step("the helpdesk opens /admin/ and logs in with password and TOTP code"):
        helpdesk.goto("/admin/")
        arrive(helpdesk, "/admin/login/")
        helpdesk.locator("input[name=username]").fill(HELPDESK_USERNAME)
        helpdesk.locator("input[name=password]").fill(HELPDESK_PASSWORD)
        # The code of the moment, as the README says: manage.py totp_now with the same environment.
        code = portal.manage("totp_now", HELPDESK_USERNAME).strip().splitlines()[-1]
        assert re.fullmatch(r"\d{6,8}", code), code
        helpdesk.locator("input[name=otp_token]").fill(code)
        helpdesk.locator("#login-form [type=submit]").click()
        arrive(helpdesk, "/admin/")
        expect(helpdesk.locator("#login-form")).to_have_count(0)
        expect(helpdesk.locator("#user-tools")).to_be_visible()
