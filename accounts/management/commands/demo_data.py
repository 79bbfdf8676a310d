"""Load the demo organisations, accounts and links of ``accounts.demo`` (development only).

Idempotent: running it again creates nothing (an older demo database gains the accounts added since);
only the koppel block of the "blocked" demo user, which lasts 15 minutes, is renewed at every run.
Prints the generated usernames, so a newcomer can walk the koppel wizard; activation codes appear in
the dev mailbox at /dev/mail/.
"""

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q
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

# A demo account with a history: registered this long ago, linked later, last logged in recently.
REGISTERED_AGO = timezone.timedelta(days=210)
LINKED_AGO = timezone.timedelta(days=200)
LAST_LOGIN_AGO = timezone.timedelta(days=3)
PERSONAS = {persona.key: persona for persona in demo.PERSONAS}


class Command(BaseCommand):
    help = "Load demo organisations, beheerders and users (development profile only)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Allow outside the development profile.")

    def handle(self, *args, force=False, **options):
        if settings.IS_PRODUCTION and not force:
            raise CommandError("demo_data refuses to run with production settings.")
        with transaction.atomic():
            created = self._load()
        if not created:
            self.stdout.write("Demo data already present.")
        self._renew()
        self._demo_dienst()
        self._report()

    def _demo_dienst(self) -> None:
        """Register the demo Dienst for the OSR rol (issue 18): "Onderwijs Service Register" on the
        overview then opens it. Imported here only, a development tool: accounts' code never uses diensten."""
        if not (apps.is_installed("diensten") and settings.DEMO_DIENST_ENABLED):
            return
        from diensten.demo import demo_dienst_ensure

        dienst = demo_dienst_ensure()
        self.stdout.write(f"Demo Dienst for the OSR rol at {dienst.launch_url}")

    def _load(self) -> int:
        """Create what is missing, by natural key: an older demo database gains the newer accounts, and a
        second run creates nothing. An existing account is left as it is (the tester may have changed it)."""
        organisaties = {key: self._organisatie(fields) for key, fields in demo.ORGANISATIES}
        kenmerken = {}
        for org_key, type_code, waarde, omschrijving in demo.KENMERKEN:
            kenmerk, _created = Kenmerk.objects.get_or_create(
                organisatie=organisaties[org_key],
                type=KenmerkType.objects.get(code=type_code),
                waarde=waarde,
                defaults={"omschrijving": omschrijving},
            )
            kenmerken[(org_key, waarde)] = kenmerk
        created = 0
        for key, org_key, name, job_title, email, autorisaties, rollen, state in demo.ACCOUNTS:
            # Known by e-mail address or by name (the tester may have changed one of them).
            known = Q(email=email) | Q(organisatie=organisaties[org_key], name=name)
            if Account.objects.filter(known).exists():
                continue
            account = self._account(
                key=key,
                organisatie=organisaties[org_key],
                name=name,
                job_title=job_title,
                email=email,
                autorisaties=autorisaties,
                rollen=[(rol_code, kenmerken[(org_key, waarde)]) for rol_code, waarde in rollen],
                state=state,
            )
            self._extra_state(account=account, state=state)
            created += 1
        if not Account.objects.filter(username=demo.HELPDESK_USERNAME).exists():
            self._helpdesk()
            created += 1
        return created

    def _organisatie(self, fields: dict) -> Organisatie:
        organisatie = Organisatie.objects.filter(naam=fields["naam"], kvk_nummer=fields["kvk_nummer"]).first()
        if organisatie is None:
            organisatie = Organisatie(**fields)
            organisatie.full_clean()
            organisatie.save()
        return organisatie

    def _account(self, *, key, organisatie, name, job_title, email, autorisaties, rollen, state) -> Account:
        now = timezone.now()
        account = Account.objects.create_user(
            organisatie=organisatie, name=name, job_title=job_title, email=email, phone="050 123 4567"
        )
        for code in autorisaties:
            BeheerautorisatieToekenning.objects.create(
                account=account, beheerautorisatie=Beheerautorisatie.objects.get(code=code)
            )
        for rol_code, kenmerk in rollen:
            RolToekenning.objects.create(account=account, rol=Rol.objects.get(code=rol_code), kenmerk=kenmerk)
        persona = None if state == "unlinked" else PERSONAS.get(key)
        identity_free = (
            persona is None
            or not Koppeling.objects.filter(
                acting_subject_id=persona.acting_subject_id,
                legal_subject_id=persona.legal_subject_id,
                ended_at__isnull=True,
            ).exists()
        )
        if state in {"linked", "unlinked", "removed"} and identity_free:
            # The user linked their eHerkenning means and last logged in with it 3 days ago. The account's
            # last_login and the link's last_login_at are the same moment, as an eHerkenning login
            # writes them (koppeling.saml.services.login_record): Autorisatiebeheer and the admin agree.
            # An undone link was made with the means the user lost (their persona is the new one); a removed
            # account keeps its link, which the portal must refuse all the same.
            last_login = now - LAST_LOGIN_AGO
            Koppeling.objects.create(
                account=account,
                acting_subject_id=persona.acting_subject_id if persona else f"demo-pseudonym-{key}-old",
                legal_subject_id=organisatie.kvk_nummer,
                intermediate_entity_id=persona.intermediate_entity_id if persona else "",
                level="urn:etoegang:core:assurance-class:loa3",
                created_at=now - LINKED_AGO,
                last_login_at=last_login,
                ended_at=now - timezone.timedelta(days=1) if state == "unlinked" else None,
                ended_reason=UnlinkReason.LOST if state == "unlinked" else "",
                terms_version=settings.TERMS_VERSION,
                terms_accepted_at=now - LINKED_AGO,
            )
            account.last_login = last_login
            account.date_joined = now - REGISTERED_AGO
            account.save(update_fields=["last_login", "date_joined"])
        if state == "removed":
            account.is_active = False
            account.removed_at = now - timezone.timedelta(days=10)
            account.save(update_fields=["is_active", "removed_at"])
        return account

    def _renew(self):
        """States that wear off are brought back on every run (run-dev.sh runs this at each start)."""
        from accounts import demo_states

        for _key, _org_key, _name, _job_title, email, *_rest, state in demo.ACCOUNTS:
            account = Account.objects.filter(email=email).first() if state in demo_states.RENEWED else None
            if account is not None:
                demo_states.apply(account=account, state=state, stdout=self.stdout)

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
            f"TOTP code: {demo.manage_command('totp_now', demo.HELPDESK_USERNAME)}"
        )
        self.stdout.write(self.style.MIGRATE_HEADING("Demo accounts (log in through the dev broker):"))
        for _key, _org_key, name, *_rest, state in demo.ACCOUNTS:
            account = Account.objects.filter(name=name).select_related("organisatie").first()
            if account:
                self.stdout.write(
                    f"  {account.username:<10} {name:<22} {account.organisatie.naam:<42} {state}"
                )
