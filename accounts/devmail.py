"""Development mailbox: mails are written as .eml files and read in the browser at /dev/mail/.

Only installed by the development profile (settings.DEV_MAILBOX_ENABLED); production refuses it.
"""

import uuid
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


def mail_dir() -> Path:
    path = Path(settings.DEV_MAIL_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


class DevMailboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        directory = mail_dir()
        for message in email_messages:
            name = f"{timezone.now():%Y%m%d-%H%M%S-%f}-{uuid.uuid4().hex[:8]}.eml"
            (directory / name).write_bytes(message.message().as_bytes())
        return len(email_messages)
