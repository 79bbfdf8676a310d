"""The koppel lockout: 5 wrong username/code combinations → 15 minutes blocked (seed 002 §1.3).

Why not django-axes: axes reads the failure count, decides, and writes it back in separate
statements (read-modify-write). Fifty parallel requests all read "4 failures" and all get their
code checked, so axes' limit is a throttle, not a bound. The koppel lockout must be a bound
(design.md §6: 50 parallel wrong attempts never yield more than 5 evaluated tries), so here every
attempt first *reserves* a try with one atomic statement::

    INSERT … VALUES (key, 1, …) ON CONFLICT (key) DO UPDATE SET failures = failures + 1, …
    RETURNING failures, blocked_until

The row lock that PostgreSQL takes for ON CONFLICT DO UPDATE serialises concurrent reservations,
so the n-th attempt in a window sees exactly n. Only an attempt whose reservation returns
n ≤ LIMIT may check the code ("evaluated"); every later one is refused without looking. The
reservation counts as a failure until the attempt succeeds, which resets the row.

Rules the statement encodes:

* the reservation that reaches LIMIT starts the block: ``blocked_until = now + BLOCK``;
* attempts during the block are counted but never move ``blocked_until`` (no extension);
* after the block ends, or when the first failure is older than WINDOW, counting starts afresh.

Keys are ``u:<normalised typed username>`` — the same for unknown usernames as for real ones, so
an attacker learns nothing from being blocked — and ``i:<identity.key>`` for the eHerkenning
identity, so one identity cannot spray guesses over many usernames.

The statement runs on PostgreSQL (production, tests) and SQLite ≥ 3.35 (the development profile).
"""

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from accounts.models import USERNAME_ALPHABET, USERNAME_LENGTH

from .models import KoppelAttemptCounter

LIMIT = 5
BLOCK = timedelta(minutes=15)
# Failures older than this (and not blocked) are forgotten, so that a typo last month does not
# leave a legitimate user with fewer tries. A day is the life of an activation code.
WINDOW = timedelta(hours=24)
_MAX_COUNT = 1_000_000  # attempts during a block are counted; keep the integer far from overflow


_USERNAME_FORM = re.compile(rf"[{USERNAME_ALPHABET}]{{{USERNAME_LENGTH}}}")


def username_text(username: str) -> str:
    """What may be stored of a typed (normalised) username: itself if it has a username's form,
    otherwise only a keyed hash — people type their activation code into the username field, and
    a code must never be stored in plain text (design.md §6)."""
    if _USERNAME_FORM.fullmatch(username):
        return username
    digest = hmac.new(settings.SECRET_KEY.encode(), username.encode(), hashlib.sha256).hexdigest()
    return f"#{digest[:32]}"


def username_key(username: str) -> str:
    return f"u:{username_text(username)}"


def identity_key(key: str) -> str:
    return f"i:{key}"


def pseudonym_short(pseudonym: str) -> str:
    """Enough of the pseudonym to compare with what the caller reads out, not the whole identifier."""
    return pseudonym if len(pseudonym) <= 12 else f"{pseudonym[:6]}…{pseudonym[-4:]}"


def identity_key_label(key: str) -> str:
    """``EHerkenningIdentity.key`` as the helpdesk reads it: legal subject / short pseudonym."""
    legal, _sep, pseudonym = key.partition(":")
    return f"{legal} / {pseudonym_short(pseudonym)}"


def identities_kept_message(keys: Iterable[str]) -> str:
    """The warning after a lift of koppel blocks: the identities that stay blocked because they also
    tried other usernames (an attacker's signature), each named once, in the order given.

    Here and not in ``beheer`` because both the koppel counters' admin (this app) and the helpdesk
    screens in ``beheer`` show it, and ``beheer`` uses ``koppeling``, never the other way round."""
    return _("Not lifted: %(identities)s — tried other usernames too.") % {
        "identities": ", ".join(identity_key_label(key) for key in dict.fromkeys(keys))
    }


@dataclass(frozen=True)
class Reservation:
    key: str
    count: int  # this attempt's number within the window (attempts during a block included)
    blocked_until: datetime | None

    @property
    def allowed(self) -> bool:
        """Whether this attempt may be evaluated (its code checked)."""
        return self.count <= LIMIT

    @property
    def started_block(self) -> bool:
        """Whether this attempt was the one that reached the limit (and so started the block)."""
        return self.count == LIMIT


class Lockout:
    """The lockout with an injectable clock (override ``_now`` in tests, like contrib.auth's tokens)."""

    limit = LIMIT
    block = BLOCK
    window = WINDOW

    def _now(self) -> datetime:
        return timezone.now()

    def reserve(self, key: str) -> Reservation:
        """Reserve one try for ``key`` atomically; see the module docstring."""
        now = self._now()
        table = connection.ops.quote_name(KoppelAttemptCounter._meta.db_table)
        adapt = connection.ops.adapt_datetimefield_value
        fresh = "(c.blocked_until IS NOT NULL AND c.blocked_until <= %(now)s) OR (c.blocked_until IS NULL AND c.window_started_at <= %(cutoff)s)"  # noqa: E501
        sql = f"""
            INSERT INTO {table} AS c (key, failures, window_started_at, blocked_until, updated_at)
            VALUES (%(key)s, 1, %(now)s, %(first_block)s, %(now)s)
            ON CONFLICT (key) DO UPDATE SET
                failures = CASE
                    WHEN {fresh} THEN 1
                    WHEN c.failures >= {_MAX_COUNT} THEN c.failures
                    ELSE c.failures + 1 END,
                window_started_at = CASE WHEN {fresh} THEN %(now)s ELSE c.window_started_at END,
                blocked_until = CASE
                    WHEN {fresh} THEN %(first_block)s
                    WHEN c.blocked_until IS NOT NULL THEN c.blocked_until
                    WHEN c.failures + 1 >= %(limit)s THEN %(block_until)s
                    ELSE NULL END,
                updated_at = %(now)s
            RETURNING failures, blocked_until
        """  # noqa: S608 (the table name is ours; every value is a parameter)
        params = {
            "key": key,
            "now": adapt(now),
            "cutoff": adapt(now - self.window),
            "limit": self.limit,
            "block_until": adapt(now + self.block),
            "first_block": adapt(now + self.block) if self.limit <= 1 else None,
        }
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            count, blocked_until = cursor.fetchone()
        return Reservation(key=key, count=count, blocked_until=_as_datetime(blocked_until))

    def reset(self, key: str) -> bool:
        """Forget the failures of ``key``; return whether it was blocked at that moment."""
        now = self._now()
        was_blocked = KoppelAttemptCounter.objects.filter(key=key, blocked_until__gt=now).exists()
        KoppelAttemptCounter.objects.filter(key=key).update(
            failures=0, blocked_until=None, window_started_at=now, updated_at=now
        )
        return was_blocked

    def blocked_keys(self, keys: list[str]) -> set[str]:
        return set(
            KoppelAttemptCounter.objects.filter(key__in=keys, blocked_until__gt=self._now()).values_list(
                "key", flat=True
            )
        )


def _as_datetime(value) -> datetime | None:
    """PostgreSQL returns an aware datetime; SQLite a naive one or the stored text (both UTC)."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(value)
    if parsed is not None and timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


lockout = Lockout()
