"""Audit of password logins (helpdesk admin, legacy token) and the Helpdesk group's permissions."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_migrate
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
