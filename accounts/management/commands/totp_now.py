"""Print the current TOTP code of a staff account — development profile only, for demos."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Print the current TOTP code of an account's device (development only)."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        if not settings.IS_DEVELOPMENT:
            raise CommandError("totp_now exists for demos and only runs with DJANGO_ENV=development.")
        device = TOTPDevice.objects.filter(user__username__iexact=username, confirmed=True).first()
        if device is None:
            raise CommandError(f"No confirmed TOTP device for {username!r}.")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=device.drift)
        self.stdout.write(f"{code:0{device.digits}d}")
