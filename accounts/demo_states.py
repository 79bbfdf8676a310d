"""Demo account states that depend on later features. Each feature adds its state here."""


def apply(*, account, state, stdout) -> None:
    """Bring ``account`` into a demo ``state`` that needs a feature service (codes, blocks, tokens)."""
    handler = STATES.get(state)
    if handler is not None:
        handler(account=account, stdout=stdout)
    return None


def _code_sent(*, account, stdout) -> None:
    """Issue a code the real way (e-mail with the code, readable in the dev mailbox /dev/mail/)."""
    from koppeling.services import activation_code_send

    activation_code_send(account=account, issued_by=None)
    stdout.write(f"  {account.username}: activation code e-mailed to {account.email} (see /dev/mail/)")


def _blocked(*, account, stdout) -> None:
    """Five wrong koppel attempts on the username: blocked for 15 minutes from now."""
    from koppeling.lockout import LIMIT, lockout, username_key

    for _attempt in range(LIMIT):
        lockout.reserve(username_key(account.username))
    stdout.write(f"  {account.username}: koppel blocked for 15 minutes ({LIMIT} wrong attempts)")


STATES = {
    "code_sent": _code_sent,
    "blocked": _blocked,
}

