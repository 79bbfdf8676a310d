"""Reads of the koppel app that other parts share."""

from collections.abc import Iterable

from .lockout import lockout, username_key
from .services import username_normalise


def blocked_usernames(*, usernames: Iterable[str]) -> set[str]:
    """The usernames among ``usernames`` that the koppel lockout blocks right now (one query).

    The lockout counts typed usernames in their normalised form; the usernames are returned as
    given, so the caller can match them against its own list.
    """
    keys: dict[str, list[str]] = {}
    for username in usernames:
        keys.setdefault(username_key(username_normalise(username)), []).append(username)
    if not keys:
        return set()
    return {username for key in lockout.blocked_keys(list(keys)) for username in keys[key]}
