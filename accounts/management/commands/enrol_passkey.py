"""Start the in-person enrolment of a passkey for a helpdesk staff member (accounts/passkeys.py).

Prints a one-time link, valid for 15 minutes. The staff member opens it in their own browser, in the
presence of whoever ran this command, confirms with their password and creates the passkey. The link
stops working once a passkey was made with it, when their password changes, or after 15 minutes.
"""

from django.core.management.base import BaseCommand, CommandError

from accounts.audit import audit_log
from accounts.constants import AuditAction
from accounts.models import Account
from accounts.passkeys import ENROLMENT_MAX_AGE, passkey_enrolment_url


class Command(BaseCommand):
    help = "Print a one-time link (15 minutes) for a helpdesk staff member to register a passkey."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        account = Account.objects.filter(username__iexact=username, is_staff=True, is_active=True).first()
        if account is None:
            raise CommandError(f"No active staff account {username!r}.")
        url = passkey_enrolment_url(account=account)
        audit_log(action=AuditAction.PASSKEY_LINK, obj=account)
        self.stdout.write(
            f"Let {account.name} open this link in their own browser within {ENROLMENT_MAX_AGE // 60} "
            f"minutes, confirm with their password and create the passkey:\n{url}\n"
        )
