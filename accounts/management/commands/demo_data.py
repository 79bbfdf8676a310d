"""Load the demo organisations, accounts and links of ``accounts.demo`` (development only).

Idempotent: running it again changes nothing. Prints the generated usernames, so a newcomer can
walk the koppel wizard; activation codes appear in the dev mailbox at /dev/mail/.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts import demo
from accounts.models import (
    Account,
    Beheerautorisatie,
    BeheerautorisatieToekenning,
    Kenmerk,
    KenmerkType,
    Organisatie,
    Rol,
    RolToekenning,
)
from koppeling.models import Koppeling, UnlinkReason


class Command(BaseCommand):
    help = "Load demo organisations, beheerders and users (development profile only)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Allow outside the development profile.")

    def handle(self, *args, force=False, **options):
        if settings.IS_PRODUCTION and not force:
            raise CommandError("demo_data refuses to run with production settings.")
        if Account.objects.filter(email="anna@regenboog.example").exists():
            self.stdout.write("Demo data already present.")
        else:
            with transaction.atomic():
                self._load()
        self._report()

    def _load(self):
        organisaties = {}
        for key, fields in demo.ORGANISATIES:
            organisatie = Organisatie(**fields)
            organisatie.full_clean()
            organisatie.save()
            organisaties[key] = organisatie
        kenmerken = {}
        for org_key, type_code, waarde, omschrijving in demo.KENMERKEN:
            kenmerk = Kenmerk.objects.create(
                organisatie=organisaties[org_key],
                type=KenmerkType.objects.get(code=type_code),
                waarde=waarde,
                omschrijving=omschrijving,
            )
            kenmerken[(org_key, waarde)] = kenmerk
        personas = {persona.key: persona for persona in demo.PERSONAS}
        now = timezone.now()
        for key, org_key, name, job_title, email, autorisaties, rollen, state in demo.ACCOUNTS:
            account = Account.objects.create_user(
                organisatie=organisaties[org_key],
                name=name,
                job_title=job_title,
                email=email,
                phone="050 123 4567",
            )
            for code in autorisaties:
                BeheerautorisatieToekenning.objects.create(
                    account=account, beheerautorisatie=Beheerautorisatie.objects.get(code=code)
                )
            for rol_code, waarde in rollen:
                RolToekenning.objects.create(
                    account=account, rol=Rol.objects.get(code=rol_code), kenmerk=kenmerken[(org_key, waarde)]
                )
            if state in {"linked", "unlinked"}:
                persona = personas.get(key)
                Koppeling.objects.create(
                    account=account,
                    acting_subject_id=persona.acting_subject_id if persona else f"demo-pseudonym-{key}-old",
                    legal_subject_id=organisaties[org_key].kvk_nummer,
                    level="urn:etoegang:core:assurance-class:loa3",
                    created_at=now - timezone.timedelta(days=200),
                    last_login_at=now - timezone.timedelta(days=3),
                    ended_at=now - timezone.timedelta(days=1) if state == "unlinked" else None,
                    ended_reason=UnlinkReason.LOST if state == "unlinked" else "",
                )
                if state == "linked":
                    account.last_login = now - timezone.timedelta(days=3)
                    account.save(update_fields=["last_login"])
            if state == "removed":
                account.is_active = False
                account.removed_at = now - timezone.timedelta(days=10)
                account.save(update_fields=["is_active", "removed_at"])
            self._extra_state(account=account, state=state)
        self._helpdesk()

    def _helpdesk(self):
        """A helpdesk member with a known password and TOTP key, so a newcomer can open the admin."""
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from accounts.helpdesk import helpdesk_group_sync

        staff = Account.objects.create_user(
            username=demo.HELPDESK_USERNAME,
            password=demo.HELPDESK_PASSWORD,
            name="Hélène Helpdesk",
            email="helpdesk@duo.example",
            is_staff=True,
        )
        staff.groups.add(helpdesk_group_sync())
        TOTPDevice.objects.create(user=staff, name="demo", key=demo.HELPDESK_TOTP_KEY, confirmed=True)

    def _extra_state(self, *, account, state):
        """States that need the koppel and token services (activation codes, blocks, TOTP)."""
        from accounts import demo_states

        demo_states.apply(account=account, state=state, stdout=self.stdout)

    def _report(self):
        self.stdout.write(self.style.MIGRATE_HEADING("Helpdesk (admin at /admin/):"))
        self.stdout.write(
            f"  username {demo.HELPDESK_USERNAME}, password {demo.HELPDESK_PASSWORD}, "
            f"TOTP code: python manage.py totp_now {demo.HELPDESK_USERNAME}"
        )
        self.stdout.write(self.style.MIGRATE_HEADING("Demo accounts (log in through the dev broker):"))
        for _key, _org_key, name, *_rest, state in demo.ACCOUNTS:
            account = Account.objects.filter(name=name).select_related("organisatie").first()
            if account:
                self.stdout.write(
                    f"  {account.username:<10} {name:<22} {account.organisatie.naam:<32} {state}"
                )
