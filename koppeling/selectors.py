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


def link_undone_for_identity(*, identity):
    """The last undone link of this eHerkenning identity, when it has no active one.

    A person whose link was undone (18 months without login, or by the beheerder or the helpdesk)
    lands in the koppel wizard again on the next login; the wizard tells why and what to do, so it
    reads how the link ended (seed 002 §1.5). Only the identity's own links: nobody learns anything
    about another person's account.
    """
    from .models import Koppeling

    links = Koppeling.objects.filter(
        acting_subject_id=identity.acting_subject_id, legal_subject_id__in=identity.legal_subject_ids
    )
    if links.filter(ended_at__isnull=True).exists():
        return None
    return links.filter(ended_at__isnull=False).order_by("-ended_at").only("ended_at", "ended_reason").first()
