from django.conf import settings


def site(request):
    return {
        "SITE_URL": settings.SITE_URL,
        "DEV_BROKER_ENABLED": settings.EHERKENNING_DEV_BROKER,
        "DEV_MAILBOX_ENABLED": settings.DEV_MAILBOX_ENABLED,
        "TERMS_VERSION": settings.TERMS_VERSION,
    }
