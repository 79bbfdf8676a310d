"""Shared fixtures. Tests run on PostgreSQL (settings profile ``test``)."""

import subprocess
from pathlib import Path


def pytest_sessionstart(session):
    """Compile the Dutch catalogue from its fragments, so screens render in Dutch as in production."""
    subprocess.run([str(Path(__file__).resolve().parents[1] / "scripts" / "messages.sh")], check=True)
