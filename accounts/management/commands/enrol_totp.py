"""Enrol a TOTP device for a helpdesk staff member (the admin requires password + TOTP).

Prints the otpauth:// URI and a QR code in the terminal; the device is confirmed only after the
staff member enters a valid code from their authenticator app, so a mistyped enrolment never locks
anyone in or out. Run it on the server in the staff member's presence.
"""

import segno
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.audit import audit_log
from accounts.constants import AuditAction
from accounts.models import Account


class Command(BaseCommand):
    help = "Enrol (or replace) the TOTP device of a helpdesk staff account."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--token", help="The current 6-digit code (otherwise asked interactively).")
        parser.add_argument("--no-qr", action="store_true", help="Do not print the QR code.")

    def handle(self, *args, username, token=None, no_qr=False, **options):
        try:
            account = Account.objects.get(username__iexact=username, is_staff=True)
        except Account.DoesNotExist as error:
            raise CommandError(f"No staff account {username!r}.") from error
        device = TOTPDevice.objects.create(user=account, name="helpdesk", confirmed=False)
        uri = device.config_url
        self.stdout.write(f"Add this to the authenticator app of {account.name}:\n{uri}\n")
        if not no_qr:
            segno.make(uri, error="m").terminal(out=self.stdout, compact=True)
        token = token or input("Code from the app to confirm: ").strip()
        if not device.verify_token(token):
            device.delete()
            raise CommandError("That code is not valid; nothing was enrolled. Try again.")
        with transaction.atomic():
            TOTPDevice.objects.filter(user=account).exclude(pk=device.pk).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            audit_log(action=AuditAction.TOTP_ENROL, obj=account)
        self.stdout.write(self.style.SUCCESS(f"TOTP device confirmed for {account.username}."))
