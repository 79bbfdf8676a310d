"""Shared fixtures. Tests run on PostgreSQL (settings profile ``test``)."""

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
