"""The authentication backend recorded on sessions that an eHerkenning response started."""

from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.core.exceptions import ValidationError
from django.db import connections, router

from mijnduo import rows

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
        """ModelBackend's ``get_user`` (the account by primary key; None when it does not exist or
        is not active), with the statement written once instead of compiled by the ORM on every
        request (mijnduo/rows.py): this runs for every page a portal user opens."""
        from accounts.models import Account  # the backend module is imported before the models

        try:
            user_id = Account._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        connection = connections[router.db_for_read(Account)]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {rows.columns(Account, 'a', connection)} FROM {quote(Account._meta.db_table)} a "  # noqa: S608
                f"WHERE a.{quote(Account._meta.pk.column)} = %s",
                [user_id],
            )
            row = cursor.fetchone()
        if row is None:
            return None
        account = rows.instance(Account, row, connection)
        return account if ModelBackend().user_can_authenticate(account) else None


def is_eherkenning_login(request) -> bool:
    """Is the session of ``request`` logged in with our backend? (In a ``user_logged_in`` receiver:
    was this login an eHerkenning login? :func:`django.contrib.auth.login` records the backend in
    the session before it sends the signal.)"""
    session = getattr(request, "session", None)
    return session is not None and session.get(BACKEND_SESSION_KEY) == EHERKENNING_BACKEND
