"""Fixtures for the end-to-end journey: Debian's Chromium through Playwright, axe-core, a real SMTP server.

The portal runs in pytest-django's ``live_server`` (a real HTTP server in a thread, PostgreSQL, Celery eager).
``SITE_URL`` is pointed at that server, because the SAML endpoints, the dev broker's metadata and the links in
e-mails are built from it. E-mail goes over SMTP to an aiosmtpd server the test reads. The tests use a
transactional database with ``serialized_rollback``, like the other transactional tests of the suite: the
catalogue and the Helpdesk group's permissions are migration data, restored before each test.

Chromium is required: when it is missing the tests fail (CI installs it with ``scripts/setup.sh test``).
Screenshots go to docs/screenshots/ with ``E2E_SCREENSHOTS=1``; on a failure every open page is photographed
to ``E2E_FAILURE_DIR`` (default /tmp/mijnduo-e2e-failures).
"""

import email
import os
import shutil
import socket
import subprocess
import threading
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO / "docs" / "screenshots"
SCREENSHOT_MAX_BYTES = 200 * 1024


# --- Chromium -----------------------------------------------------------------------------------


@pytest.fixture
def browser(e2e_site):
    """A headless Chromium for one test. Missing Chromium is a failure, never a skip.

    Playwright's sync API keeps an event loop running on the main thread while it is started. Django then
    sees an "async context": it refuses ORM calls unless DJANGO_ALLOW_ASYNC_UNSAFE is set, and it hands out
    context-local database connections. So the browser starts only after the database fixtures (through
    ``e2e_site``: the serialized rollback must restore the data on the real connection, and the flush after
    the test must run there too), and stops, closing its connections, before they are torn down.
    """
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the end-to-end tests need it (scripts/setup.sh test installs it)",
            pytrace=False,
        )
    from django.db import connections
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                yield chromium
            finally:
                chromium.close()
                connections.close_all()  # the context-local connections the test body opened
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.e2e_failed = report.failed
    return report


FAILURE_DIR = Path(os.environ.get("E2E_FAILURE_DIR", "/tmp/mijnduo-e2e-failures"))


@pytest.fixture
def new_page(request, browser, e2e_site):
    """A factory of pages, each in its own browser context (its own cookies: one person each).

    When the test fails, every open page is photographed to ``E2E_FAILURE_DIR`` (the path is printed).
    """
    contexts = []

    def make():
        context = browser.new_context(
            viewport=VIEWPORT,
            locale="nl-NL",
            timezone_id="Europe/Amsterdam",
            base_url=e2e_site.url,
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
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


# --- accessibility and screenshots --------------------------------------------------------------


class A11y:
    """Runs axe-core on a page and collects WCAG 2.1 A/AA violations; the journey asserts none at the end.

    Collecting (rather than failing on the first page) makes one run report every page that needs work.
    """

    def __init__(self):
        from axe_playwright_python.sync_playwright import Axe

        self._axe = Axe()
        self.checked: list[str] = []
        self.violations: dict[str, list[dict]] = {}

    def check(self, page, name: str) -> list[dict]:
        page.wait_for_load_state("load")
        results = self._axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
        violations = results.response["violations"]
        self.checked.append(name)
        if violations:
            self.violations[f"{name} ({page.url})"] = violations
        return violations

    def check_reflow(self, page, name: str, *, width: int = 320) -> bool:
        """WCAG 1.4.10 (reflow): at 320 CSS pixels wide (400% zoom) the page needs no horizontal scrolling.

        axe-core cannot test this, so it is measured here; a failure is collected like an axe violation.
        """
        viewport = page.viewport_size
        page.set_viewport_size({"width": width, "height": viewport["height"]})
        try:
            overflow = page.evaluate(
                """width => {
                    const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                        + (el.className ? '.' + String(el.className).trim().split(/\\s+/).join('.') : '');
                    const wide = [...document.querySelectorAll('body *')]
                        .filter(el => el.getBoundingClientRect().right > width + 1
                                      || el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible')
                        .map(el => name(el) + ': ' + (el.textContent || '').trim().slice(0, 60));
                    return {scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 6)};
                }""",
                width,
            )
        finally:
            page.set_viewport_size(viewport)
        if overflow["scrollWidth"] <= width + 1:
            return True
        self.violations.setdefault(f"{name} at {width}px ({page.url})", []).append(
            {
                "impact": "serious",
                "id": "reflow",
                "help": f"WCAG 1.4.10: horizontal scrolling at {width}px (page is {overflow['scrollWidth']}px wide)",
                "nodes": [{"target": [element], "html": ""} for element in overflow["wide"]],
            }
        )
        return False

    def report(self) -> str:
        lines = []
        for where, violations in self.violations.items():
            lines.append(f"{where}:")
            for violation in violations:
                lines.append(f"  [{violation['impact']}] {violation['id']}: {violation['help']}")
                for node in violation["nodes"][:5]:
                    lines.append(f"      {', '.join(map(str, node['target']))}: {node['html'][:160]}")
        return "\n".join(lines)


@pytest.fixture
def a11y():
    return A11y()


class Screenshots:
    """Saves viewport screenshots (1280x900 PNG).

    They go to docs/screenshots/ only when ``E2E_SCREENSHOTS=1`` (to refresh the committed ones; usernames
    and dates differ per run, so an ordinary test run must not dirty the working tree), else to a temporary
    directory.
    """

    def __init__(self, directory: Path):
        self.directory = directory
        self.saved: list[Path] = []

    def take(self, page, name: str) -> Path:
        path = self.directory / f"{name}.png"
        # The screen as a newcomer sees it: from the top, no focus ring left by the test's last action.
        page.evaluate(
            "() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }"
        )
        page.screenshot(path=str(path), full_page=False, animations="disabled", caret="hide")
        self._shrink(path)
        self.saved.append(path)
        return path

    def save_pdf_page(self, pdf: Path, name: str) -> Path:
        """Render the first page of a PDF to PNG with pdftoppm (poppler-utils)."""
        path = self.directory / f"{name}.png"
        pdftoppm = shutil.which("pdftoppm")
        assert pdftoppm, "pdftoppm missing: install poppler-utils (scripts/setup.sh test does)"
        subprocess.run(
            [
                pdftoppm,
                "-png",
                "-r",
                "80",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(pdf),
                str(path.with_suffix("")),
            ],
            check=True,
        )
        self._shrink(path)
        self.saved.append(path)
        return path

    @staticmethod
    def _shrink(path: Path) -> None:
        """Keep committed PNGs small: quantize to a palette when one is larger than ~200 KB."""
        if path.stat().st_size <= SCREENSHOT_MAX_BYTES:
            return
        from PIL import Image

        with Image.open(path) as image:
            image.convert("RGB").quantize(colors=128).save(path, optimize=True)


@pytest.fixture
def screenshots(tmp_path):
    if os.environ.get("E2E_SCREENSHOTS") == "1":
        directory = SCREENSHOT_DIR
    else:
        directory = tmp_path / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return Screenshots(directory)


# --- a real SMTP server -------------------------------------------------------------------------


class Mailbox:
    """The aiosmtpd handler: keeps every message it receives, and lets the test wait for one."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self._condition = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's hook name)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._condition:
            self.messages.append(message)
            self._condition.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, *, to: str, body_pattern=None, after: int = 0, timeout: float = 15) -> EmailMessage:
        """The first message (from index ``after`` on) to ``to`` whose body matches ``body_pattern``."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for message in self.messages[after:]:
                    if to.lower() in str(message["To"]).lower() and (
                        body_pattern is None or body_pattern.search(self.body(message))
                    ):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(str(m["To"]), str(m["Subject"])) for m in self.messages]
                    raise AssertionError(f"No e-mail to {to!r} matching {body_pattern!r}; received: {seen}")
                self._condition.wait(remaining)

    @staticmethod
    def body(message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.host, mailbox.port = controller.hostname, controller.port
    yield mailbox
    controller.stop()


# --- the live site ------------------------------------------------------------------------------


@pytest.fixture
def e2e_site(live_server, settings, smtp_server, tmp_path_factory):
    """The live server, configured as the site: SITE_URL, SAML entity id, SMTP delivery, fresh SAML keys
    (and a dev broker ArtifactResolutionService that trusts them)."""
    url = live_server.url
    settings.SITE_URL = url
    settings.EHERKENNING_SP_ENTITY_ID = f"{url}/saml2/metadata/"
    settings.EHERKENNING_IDP_METADATA = ""
    settings.EHERKENNING_DEV_BROKER = True
    settings.EHERKENNING_KEY_DIR = tmp_path_factory.mktemp("saml-keys")
    settings.CSRF_TRUSTED_ORIGINS = [url]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from mijnduo.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    try:  # the SP configuration is cached per settings key; start clean all the same
        from koppeling.saml.config import sp_config_reset

        sp_config_reset()
    except ImportError:
        pass
    # The dev broker's ArtifactResolutionService over mutual TLS, pinned to the client certificate of
    # these fresh keys (the session's server trusts the suite's own key directory only).
    from koppeling.dev_broker.testing import ars_loopback

    with ars_loopback(settings):
        yield live_server
