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


def _token_state(*, account, stdout) -> None:
    """An existing user with the legacy token (seed 001): password + a confirmed TOTP device.

    The seed's switch dates lie in the past, so for the demo his sector's date is moved a year
    ahead (development data only); the helpdesk can edit it in the admin.
    """
    import datetime

    from django.utils import timezone
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.demo import TOKEN_DEMO_PASSWORD
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
        f"    or print the current code: python manage.py totp_now {account.username}\n"
        f"    token login allowed for {planning.get_organisatie_type_display()} until "
        f"{planning.switch_date:%d-%m-%Y} (demo switch date)"
    )


def _base32(key: bytes) -> str:
    from base64 import b32encode

    return b32encode(key).decode()


STATES["token"] = _token_state
