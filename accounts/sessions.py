"""Django's database sessions with one SQL statement per read or write (SESSION_ENGINE).

Same table (``django_session``), same encoding (Django's signed session data), same expiry, same
``clearsessions``: only the way the rows are read and written differs from Django's ``db`` backend,
which every logged-in request goes through:

- Django saves through the ORM's ``Model.save()`` inside ``transaction.atomic()``: BEGIN, the
  statement, COMMIT — three round trips and about half a millisecond of Python per write. Here a
  write is one INSERT or UPDATE, which PostgreSQL commits on its own in autocommit mode.
- Django's ``create()`` (also inside ``cycle_key()``, at every login) first SELECTs whether the random
  key is taken, inserts an empty row, and updates it with the data at the end of the request. Here
  ``create()`` only draws the key, and the row is inserted once, with its data, when the session
  middleware saves it. The key is 32 characters from 36 (165 bits), so it is unique without
  looking; the INSERT still refuses a taken key (ON CONFLICT DO NOTHING), and then a new key is
  drawn. Until the response is sent nobody but this request knows the key, so nothing can miss the
  row in the meantime.
- Loading and deleting are one SELECT and one DELETE, without building a model instance.
- A logged-in session's ``expire_date`` is its idle/absolute deadline (accounts/session_timeout.py);
  loading still reads an expired row (in the same SELECT), so that the request can be told its
  session expired rather than that it never had one.

On the ACS this is three statements instead of ten (design.md §7, P1). Sessions stay in PostgreSQL,
the one store design.md §8 keeps consistent state in, so a Redis outage delays e-mail but does not
log anybody out. The async methods are Django's own (the portal runs under WSGI).
"""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.db import connections, router
from django.utils import timezone
from django.utils.crypto import get_random_string

_INSERT_TRIES = 5


def _new_key() -> str:
    return get_random_string(32, VALID_KEY_CHARS)


class SessionStore(db.SessionStore):
    _row_pending = False

    @property
    def _connection(self):
        return connections[router.db_for_write(self.model)]

    def _sql(self, sql: str, params: list, *, fetch: bool = False):
        connection = self._connection
        table = connection.ops.quote_name(self.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(sql.format(table=table), params)
            return cursor.fetchone() if fetch else cursor.rowcount

    def _moment(self, value):
        return self._connection.ops.adapt_datetimefield_value(value)

    # (key, data) of a row found past its expire_date by load(): the session timeout middleware
    # (accounts/session_timeout.py) ends it with an explanation instead of treating it as absent.
    expired_row = None

    def load(self):
        # The same one statement; it also tells an expired row from a missing one.
        row = self._sql(
            "SELECT session_data, expire_date > %s FROM {table} WHERE session_key = %s",
            [self._moment(timezone.now()), self.session_key],
            fetch=True,
        )
        if row is None or not row[1]:
            if row is not None:
                self.expired_row = (self.session_key, self.decode(row[0]))
            self._session_key = None
            return {}
        return self.decode(row[0])

    def get_expiry_date(self, **kwargs):
        """A logged-in session's row expires at its idle or absolute deadline (session_timeout.py),
        so the store never loads it as live past that; other sessions as Django's."""
        if "expiry" not in kwargs and "_session_expiry" not in self._get_session():
            from .session_timeout import session_deadline_date

            deadline = session_deadline_date(self._get_session())
            if deadline is not None:
                return deadline
        return super().get_expiry_date(**kwargs)

    def create(self):
        self._session_key = _new_key()
        # Keep data already set (save() of a flushed session calls create(), as Django's does); a
        # new store starts empty without loading, since its row does not exist yet.
        if not hasattr(self, "_session_cache"):
            self._session_cache = {}
        self._row_pending = True
        self.modified = True

    def save(self, must_create=False):
        if self.session_key is None:
            self.create()
        creating = must_create or self._row_pending
        data = self.encode(self._get_session(no_load=creating))
        expire = self._moment(self.get_expiry_date())
        if not creating:
            updated = self._sql(
                "UPDATE {table} SET session_data = %s, expire_date = %s WHERE session_key = %s",
                [data, expire, self.session_key],
            )
            if not updated:  # deleted meanwhile (logout elsewhere, clearsessions): as Django does
                raise UpdateError
            return
        for _ in range(_INSERT_TRIES):
            inserted = self._sql(
                "INSERT INTO {table} (session_key, session_data, expire_date) VALUES (%s, %s, %s) "
                "ON CONFLICT (session_key) DO NOTHING",
                [self.session_key, data, expire],
            )
            if inserted:
                self._row_pending = False
                return
            if not self._row_pending:  # save(must_create=True) of a key the caller chose
                raise CreateError
            self._session_key = _new_key()
        raise CreateError

    def delete(self, session_key=None):
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
            if self._row_pending:  # flush() of a session whose row was never written
                self._row_pending = False
                return
        self._sql("DELETE FROM {table} WHERE session_key = %s", [session_key])
