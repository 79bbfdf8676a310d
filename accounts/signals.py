"""Audit of password logins (helpdesk admin, legacy token), the Helpdesk group's permissions, and
the overview's per-process snapshots of the rol catalogue and the mededelingen."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save
from django.dispatch import receiver

from .constants import AuditAction, AuditResult


def _is_admin(request) -> bool:
    return request is not None and request.path.startswith("/admin/")


@receiver(user_logged_in)
def audit_admin_login(sender, request, user, **kwargs):
    if _is_admin(request):
        from .audit import audit_log

        audit_log(action=AuditAction.ADMIN_LOGIN, actor=user, obj=user, request=request)


@receiver(user_logged_out)
def audit_admin_logout(sender, request, user, **kwargs):
    if _is_admin(request) and user is not None:
        from .audit import audit_log

        audit_log(action=AuditAction.ADMIN_LOGOUT, actor=user, obj=user, request=request)


@receiver(user_login_failed)
def audit_admin_login_failed(sender, credentials, request=None, **kwargs):
    if _is_admin(request):
        from .audit import audit_log

        # credentials are already cleansed by Django; keep only the username.
        audit_log(
            action=AuditAction.ADMIN_LOGIN_FAILED,
            result=AuditResult.FAILURE,
            request=request,
            detail={"username": str(credentials.get("username", ""))[:150]},
        )


@receiver(post_migrate)
def ensure_helpdesk_group(sender, app_config=None, **kwargs):
    # Runs after every app's migrations (cheap and idempotent), so that permissions of apps
    # migrated after accounts are included too. Not after ``flush`` (which sends post_migrate
    # without a ``plan``): a test database restored by serialized_rollback brings the group back
    # with its original primary key, and a group recreated here first would collide with it.
    if "plan" not in kwargs:
        return
    from .helpdesk import helpdesk_group_sync

    helpdesk_group_sync()


def _snapshots_clear(sender, **kwargs):
    """A rol or a mededeling changed in this process: drop the overview's copies now, and again at
    commit (a request in between might have reloaded them before the change was committed)."""
    from . import selectors

    for snapshot in (selectors.rollen_snapshot, selectors.mededelingen_snapshot):
        snapshot.clear()
        transaction.on_commit(snapshot.clear)


def snapshot_receivers_connect() -> None:
    from .models import Mededeling, Rol

    for model in (Rol, Mededeling):
        post_save.connect(_snapshots_clear, sender=model, dispatch_uid=f"snapshots_save_{model.__name__}")
        post_delete.connect(_snapshots_clear, sender=model, dispatch_uid=f"snapshots_delete_{model.__name__}")
    for through in (Mededeling.beheerautorisaties.through, Mededeling.rollen.through):
        m2m_changed.connect(_snapshots_clear, sender=through, dispatch_uid=f"m2m_{through.__name__}")
