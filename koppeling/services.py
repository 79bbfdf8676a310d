"""Koppel services: activation codes, links, blocks.

CONTRACT (other parts call these; the koppel issue implements them). Until implemented they raise
NotImplementedError.
"""

from django.http import HttpRequest

from accounts.models import Account, EmailOutbox

from .identity import EHerkenningIdentity
from .models import Koppeling, UnlinkReason


def activation_code_send(
    *, account: Account, issued_by: Account | None, request: HttpRequest | None = None
) -> EmailOutbox:
    """Queue the activation-code e-mail for ``account`` (the code itself is issued at send time)."""
    raise NotImplementedError


def activation_code_email_context(*, outbox: EmailOutbox) -> dict:
    """E-mail secret hook (accounts.email.SECRET_HOOKS): issue a fresh code, return {"activation_code": …}."""
    raise NotImplementedError


def activation_code_issue(*, account: Account, issued_by: Account | None = None) -> str:
    """Create a new code for ``account`` (invalidating the previous one) and return it in plain text."""
    raise NotImplementedError


def link_create(*, account: Account, identity: EHerkenningIdentity, ip: str | None) -> Koppeling:
    raise NotImplementedError


def link_undo(
    *, koppeling: Koppeling, reason: UnlinkReason, actor: Account | None, request: HttpRequest | None = None
) -> None:
    """End an active link (the account and its roles stay), audit it and e-mail the user a notice."""
    raise NotImplementedError


def koppel_block_lift(*, username: str, actor: Account, request: HttpRequest | None = None) -> bool:
    """Lift the koppel block of ``username`` (helpdesk), audited. Returns whether a block was lifted."""
    raise NotImplementedError
