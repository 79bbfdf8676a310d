"""Login bookkeeping that differs for eHerkenning logins."""

from django.contrib.auth.models import update_last_login
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from .backends import is_eherkenning_login


@receiver(user_logged_in, dispatch_uid="mijnduo_update_last_login")
def last_login_update(sender, request, user, **kwargs):
    """Django's own update_last_login (disconnected in apps.py), except for eHerkenning logins:
    for those, login_record() writes Account.last_login together with the link's last_login_at in
    one statement (design.md §7, P1)."""
    if is_eherkenning_login(request):
        return
    update_last_login(sender, user, **kwargs)
