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
    """Five wrong koppel attempts on the username and on the persona's eHerkenning identity: both blocked
    for 15 minutes from now. Renewed at every run of demo_data (so at every start of ``make run``) when
    the block has worn off; a block still running is left alone (attempts never extend it)."""
    from accounts.demo import PERSONAS
    from koppeling.identity import EHerkenningIdentity
    from koppeling.lockout import LIMIT, identity_key, lockout, username_key

    keys = [username_key(account.username)]
    persona = next((p for p in PERSONAS if p.key == _key(account)), None)
    if persona is not None:
        identity = EHerkenningIdentity(
            acting_subject_id=persona.acting_subject_id, legal_subject_id=persona.legal_subject_id, level=""
        )
        keys.append(identity_key(identity.key))
    blocked = lockout.blocked_keys(keys)
    unblocked = [key for key in keys if key not in blocked]
    for key in unblocked:
        for _attempt in range(LIMIT):
            lockout.reserve(key)
    if unblocked:
        stdout.write(f"  {account.username}: koppel blocked for 15 minutes ({LIMIT} wrong attempts)")


def _key(account) -> str:
    """The demo key (accounts.demo.ACCOUNTS) of a demo account."""
    from accounts.demo import ACCOUNTS

    return next((row[0] for row in ACCOUNTS if row[4] == account.email), "")


STATES = {
    "code_sent": _code_sent,
    "blocked": _blocked,
}
# States that wear off and that demo_data brings back at every run.
RENEWED = {"blocked"}


def _token_state(*, account, stdout) -> None:
    """An existing user with the legacy token (seed 001): password + a confirmed TOTP device.

    The seed's switch dates lie in the past, so for the demo the user's sector's date is moved a year
    ahead (development data only); the helpdesk can edit it in the admin.
    """
    import datetime

    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.demo import TOKEN_DEMO_PASSWORD, manage_command
    from accounts.models import OverstapPlanning

    account.set_password(TOKEN_DEMO_PASSWORD)
    account.save(update_fields=["password"])
    device = TOTPDevice.objects.create(user=account, name="Demo token", confirmed=True)
    today = timezone.localdate()
    planning, _created = OverstapPlanning.objects.get_or_create(
        organisatie_type=account.organisatie.type, defaults={"switch_date": today}
    )
    if planning.switch_date <= today:
        planning.switch_date = today + datetime.timedelta(days=365)
        planning.save(update_fields=["switch_date"])
    stdout.write(
        f"  Token demo: log in at /token/ as {account.username} with password {TOKEN_DEMO_PASSWORD!r}\n"
        f"    TOTP key (base32): {_base32(device.bin_key)}\n"
        f"    otpauth URL (scan or paste into an authenticator app): {device.config_url}\n"
        f"    or print the current code: {manage_command('totp_now', account.username)}\n"
        f"    token login allowed for {planning.get_organisatie_type_display()} until "
        f"{planning.switch_date:%d-%m-%Y} (demo switch date)"
    )


def _base32(key: bytes) -> str:
    from base64 import b32encode

    return b32encode(key).decode()


def _token_switching(*, account, stdout) -> None:
    """A token user whose beheerder has sent them an activation code: they can still use their token,
    or link their eHerkenning means — after which the token is refused and its device removed (seed 001)."""
    _token_state(account=account, stdout=stdout)
    _code_sent(account=account, stdout=stdout)


STATES["token"] = _token_switching
