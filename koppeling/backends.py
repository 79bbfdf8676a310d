"""The authentication backend recorded on sessions that an eHerkenning response started."""

from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.backends import BaseBackend, ModelBackend

EHERKENNING_BACKEND = "koppeling.backends.EHerkenningBackend"


class EHerkenningBackend(BaseBackend):
    """Marks a login by a verified eHerkenning response (the ACS for a linked identity, the koppel
    wizard after a correct code), so that password-login machinery (axes, Django's last_login
    receiver) can leave it alone.

    It authenticates nothing: :meth:`authenticate` is BaseBackend's, which returns None for any
    credentials, so nobody can log in through it with ``authenticate()``. Django only uses it to load
    the user of such a session (:meth:`get_user`, with ModelBackend's check that the account is
    active). It grants no permissions; ModelBackend still answers those for every user.
    """

    def get_user(self, user_id):
        return ModelBackend().get_user(user_id)


def is_eherkenning_login(request) -> bool:
    """Is the session of ``request`` logged in with our backend? (In a ``user_logged_in`` receiver:
    was this login an eHerkenning login? :func:`django.contrib.auth.login` records the backend in
    the session before it sends the signal.)"""
    session = getattr(request, "session", None)
    return session is not None and session.get(BACKEND_SESSION_KEY) == EHERKENNING_BACKEND
