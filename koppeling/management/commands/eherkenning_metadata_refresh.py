"""Fetch the broker metadata from EHERKENNING_IDP_METADATA_URL now (for deploys), as the hourly task does."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from koppeling.saml.idp_metadata import idp_metadata_refresh


class Command(BaseCommand):
    help = (
        "Fetch the eHerkenning broker metadata from EHERKENNING_IDP_METADATA_URL and store it as the last "
        "good copy when it passes every check; a refused document leaves the stored copy in use."
    )

    def handle(self, *args, **options):
        if not settings.EHERKENNING_IDP_METADATA_URL:
            raise CommandError("EHERKENNING_IDP_METADATA_URL is not set")
        result = idp_metadata_refresh()
        if not result.ok:
            raise CommandError(
                f"The broker metadata was refused ({result.reason}); the last good copy, if any, stays in use"
            )
        state = "stored a new copy" if result.changed else "unchanged"
        self.stdout.write(f"Broker metadata for {result.entity_id}: {state}")
