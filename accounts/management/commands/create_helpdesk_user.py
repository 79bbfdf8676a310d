"""Create a helpdesk staff account in the Helpdesk group (no superuser needed for daily work)."""

import getpass
import sys

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.audit import audit_log
from accounts.constants import AuditAction
from accounts.helpdesk import helpdesk_group_sync
from accounts.models import Account


class Command(BaseCommand):
    help = "Create a helpdesk staff account; then enrol its TOTP device with `enrol_totp USERNAME`."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--password-stdin", action="store_true", help="Read the password from standard input."
        )

    def handle(self, *args, name, email, password_stdin, **options):
        password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass("Password: ")
        account = Account(name=name, email=email, is_staff=True)
        try:
            validate_password(password, user=account)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        with transaction.atomic():
            account = Account.objects.create_user(password=password, name=name, email=email, is_staff=True)
            account.groups.add(helpdesk_group_sync())
            audit_log(action=AuditAction.ACCOUNT_CREATE, obj=account, detail={"via": "create_helpdesk_user"})
        self.stdout.write(
            f"Created helpdesk account {account.username}. Now run: manage.py enrol_totp {account.username}"
        )
