"""The whole chain of a session expiry (issue 17 item 1 with issue 18): the request that finds the
session expired, or the beat sweep when its user is away, sends the back-channel logout to every Dienst
of that session — once."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.tasks import end_expired_sessions

from .test_backchannel_logout import _logout_claims, _with_backchannel, receiver_make  # noqa: F401
from .test_backchannel_triggers import handed_off  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_the_request_after_the_idle_timeout_logs_the_session_out_of_its_diensten(handed_off, client):  # noqa: F811
    case = handed_off()
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert "Uw sessie is verlopen" in client.get("/overzicht/").content.decode()
    assert len(case["osr"].tokens) == 1 and len(case["bron"].tokens) == 1


def test_the_sweep_logs_an_unattended_session_out_of_its_diensten_once(handed_off, client):  # noqa: F811
    case = handed_off()
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert end_expired_sessions()["ended"] == 1
        assert len(case["osr"].tokens) == 1 and len(case["bron"].tokens) == 1
        # The user returns: told of the expiry, no second logout.
        assert "Uw sessie is verlopen" in client.get("/overzicht/").content.decode()
    assert len(case["osr"].tokens) == 1
