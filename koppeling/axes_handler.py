"""django-axes' database handler (settings.AXES_HANDLER), minus its work on eHerkenning logins."""

from axes.handlers.database import AxesDatabaseHandler

from .backends import is_eherkenning_login


class AxesHandler(AxesDatabaseHandler):
    """axes counts failed password logins (the token login, the helpdesk admin). On a successful
    login it cleans up expired failures and resets the user's counter: two queries. An eHerkenning
    login involves no password, so it neither proves the user knows one (no reason to reset a
    token-login lockout) nor has failures of its own; it skips that work (design.md §7, P1)."""

    def user_logged_in(self, sender, request, user, **kwargs):
        if is_eherkenning_login(request):
            return
        super().user_logged_in(sender, request, user, **kwargs)
