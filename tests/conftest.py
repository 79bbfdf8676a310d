"""Shared fixtures. Tests run on PostgreSQL (settings profile ``test``), and a second time on SQLite,
the database of ``make run`` (scripts/test.sh), except those marked ``postgresql``."""

import subprocess
from pathlib import Path

import pytest


def pytest_sessionstart(session):
    """Compile the Dutch catalogue from its fragments, so screens render in Dutch as in production."""
    subprocess.run([str(Path(__file__).resolve().parents[1] / "scripts" / "messages.sh")], check=True)


def pytest_collection_modifyitems(session, config, items):
    """Run the browser tests last.

    They run inside Playwright's event loop, where Django hands out context-local database
    connections; whatever state they leave behind must not reach the other transactional tests.
    """
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        # The SQLite pass (scripts/test.sh): everything but what only PostgreSQL can show.
        skip = pytest.mark.skip(reason="needs PostgreSQL (the SQLite pass runs the rest)")
        for item in items:
            if item.get_closest_marker("postgresql"):
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def overview_snapshots_clear():
    """The overview keeps the rol catalogue and the mededelingen per process (accounts/selectors.py);
    a test's rolled-back rows must not reach the next test through them."""
    from accounts import selectors

    selectors.rollen_snapshot.clear()
    selectors.mededelingen_snapshot.clear()
    yield
    selectors.rollen_snapshot.clear()
    selectors.mededelingen_snapshot.clear()


@pytest.fixture(scope="session")
def dev_broker_ars_server():
    """The dev broker's ArtifactResolutionService over mutual TLS on loopback, for the whole run.

    Every eHerkenning login in the tests takes the real path: the dev broker answers the browser
    with SAMLart, and the portal resolves it here with its signed ArtifactResolve and its client
    certificate (pinned by this server), trusting the server through EHERKENNING_TLS_CA_FILE.
    Tests with key pairs of their own start their own server (koppeling.dev_broker.testing.ars_loopback).
    """
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    from koppeling.dev_broker.tls import tls_files_ensure, tls_server
    from koppeling.saml import artifact

    files = tls_files_ensure(directory=Path(settings.EHERKENNING_KEY_DIR))
    with tls_server(
        get_wsgi_application(), server=files, client_ca_file=artifact.tls_client_pair()[0]
    ) as base:
        yield f"{base}/dev/broker/ars/", files.ca_file


@pytest.fixture(autouse=True)
def dev_broker_ars(request, dev_broker_ars_server):
    """Point the dev broker's metadata and the portal's TLS trust at the session's resolution service."""
    from django.conf import settings as django_settings

    url, ca_file = dev_broker_ars_server
    if django_settings.EHERKENNING_TLS_CA_FILE and django_settings.EHERKENNING_TLS_CA_FILE != ca_file:
        yield  # a test with its own broker setup
        return
    settings = request.getfixturevalue("settings")
    settings.EHERKENNING_DEV_BROKER_ARS_URL = url
    settings.EHERKENNING_TLS_CA_FILE = ca_file
    yield


@pytest.fixture
def helpdesk(db):
    """A member of the Helpdesk group (staff, not a superuser) with the test password and no device yet."""
    from accounts.helpdesk import helpdesk_group_sync
    from tests.accounts.test_admin import PASSWORD
    from tests.factories import StaffFactory

    staff = StaffFactory()
    staff.set_password(PASSWORD)
    staff.save()
    staff.groups.add(helpdesk_group_sync())
    return staff


@pytest.fixture
def helpdesk_client(helpdesk):
    """A test client logged in to the admin as ``helpdesk``, through the real password + TOTP login."""
    from django.test import Client
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.accounts.test_admin import admin_login, current_code

    client = Client()
    device = TOTPDevice.objects.create(user=helpdesk, name="app", confirmed=True)
    assert admin_login(client, helpdesk, token=current_code(device)).status_code == 302
    return client
