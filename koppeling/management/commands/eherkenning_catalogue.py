"""Write the signed eHerkenning dienstcatalogus (1.13) for the broker, or make the service UUIDs once."""

import sys

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from koppeling.saml.catalogue import catalogue_build, catalogue_uuids_new

UUID_WARNING = (
    "Set these once for this deployment and keep them forever: a ServiceUUID must never change and never "
    "be reused (the machtigingenregisters register every authorisation to it). Do not run --new-uuids "
    "again for a service that already has them."
)


class Command(BaseCommand):
    help = (
        "Write the signed eHerkenning service catalogue (urn:etoegang:1.13:service-catalog) the broker "
        "registers the service from, to stdout or -o FILE. --new-uuids prints a new ServiceUUID and "
        "service-instance UUID instead (once per deployment)."
    )

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", help="write the catalogue to this file instead of stdout")
        parser.add_argument(
            "--new-uuids",
            action="store_true",
            help="print a new EHERKENNING_SERVICE_UUID and EHERKENNING_SERVICE_INSTANCE_UUID (once!)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="with --new-uuids: print new ones even though UUIDs are configured (a new service only)",
        )

    def handle(self, *args, output=None, new_uuids=False, force=False, **options):
        if new_uuids:
            return self._new_uuids(force=force)
        try:
            document = catalogue_build()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from error
        if output:
            with open(output, "wb") as handle:
                handle.write(document)
            self.stderr.write(f"Wrote the signed dienstcatalogus to {output}")
        else:
            sys.stdout.buffer.write(document + b"\n")
            sys.stdout.flush()

    def _new_uuids(self, *, force: bool) -> None:
        configured = settings.EHERKENNING_SERVICE_UUID or settings.EHERKENNING_SERVICE_INSTANCE_UUID
        if configured and not force:
            raise CommandError(
                "EHERKENNING_SERVICE_UUID/EHERKENNING_SERVICE_INSTANCE_UUID are already set: they must never "
                "change. Use --force only to make UUIDs for a new, different service."
            )
        service_uuid, instance_uuid = catalogue_uuids_new()
        self.stdout.write(f"EHERKENNING_SERVICE_UUID={service_uuid}")
        self.stdout.write(f"EHERKENNING_SERVICE_INSTANCE_UUID={instance_uuid}")
        self.stderr.write(self.style.WARNING(UUID_WARNING))
