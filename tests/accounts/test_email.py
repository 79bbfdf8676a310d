"""The e-mail outbox: scheduled on commit, secrets added at send time only, never sent twice."""

import pytest
from django.core import mail

from accounts import email as email_service
from accounts.email import email_queue, email_send
from accounts.models import EmailOutbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret_hook(monkeypatch, settings, tmp_path):
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "secret_subject.txt").write_text("Uw code")
    (tmp_path / "test" / "secret.txt").write_text("Hallo {{ name }}, uw code is {{ activation_code }}.")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    monkeypatch.setitem(email_service.SECRET_HOOKS, "test/secret", "tests.accounts.test_email.fake_hook")


def fake_hook(*, outbox):
    return {"activation_code": "ABCD-EFGH-JKMN"}


def test_mail_is_sent_only_after_commit(django_capture_on_commit_callbacks, secret_hook):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        email_queue(to="a@example.nl", template="test/secret", context={"name": "Anna"})
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Uw code"


def test_secret_is_in_the_message_but_never_in_the_outbox_row(
    django_capture_on_commit_callbacks, secret_hook
):
    with django_capture_on_commit_callbacks(execute=True):
        outbox = email_queue(to="a@example.nl", template="test/secret", context={"name": "Anna"})
    assert "ABCD-EFGH-JKMN" in mail.outbox[0].body
    outbox.refresh_from_db()
    row = EmailOutbox.objects.filter(pk=outbox.pk).values().get()
    assert "ABCD-EFGH-JKMN" not in repr(row)
    assert outbox.sent_at is not None


def test_a_sent_mail_is_never_sent_again(django_capture_on_commit_callbacks, secret_hook):
    with django_capture_on_commit_callbacks(execute=True):
        outbox = email_queue(to="a@example.nl", template="test/secret", context={"name": "Anna"})
    assert email_send(outbox_id=outbox.pk) is False
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_deferred_publishing_sends_committed_mails_when_the_block_ends(secret_hook):
    """Batch jobs publish in chunks at the end (P7); each mail is in the outbox from its commit on."""
    from django.db import transaction

    from accounts.email import email_publish_deferred

    with email_publish_deferred():
        for number in range(3):
            with transaction.atomic():
                email_queue(to=f"b{number}@school.example", template="test/secret", context={"name": "Anna"})
        with pytest.raises(RuntimeError), transaction.atomic():
            email_queue(to="rolled-back@school.example", template="test/secret", context={"name": "Anna"})
            raise RuntimeError  # this row never commits, so its mail is neither kept nor published
        assert mail.outbox == []
        assert EmailOutbox.objects.count() == 3
    assert sorted(message.to[0] for message in mail.outbox) == [f"b{n}@school.example" for n in range(3)]
    assert EmailOutbox.objects.filter(sent_at__isnull=True).count() == 0
