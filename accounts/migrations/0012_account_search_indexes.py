"""PostgreSQL: indexes for the user list's search (name and e-mail contain, username equals), room for updates.

The search (beheer.selectors._accounts_base) is ``name__icontains | username__iexact |
email__icontains``: on PostgreSQL ``UPPER(col) LIKE UPPER('%…%')`` and ``UPPER(username) =
UPPER(…)``. A b-tree cannot serve a pattern with a leading wildcard, so every search read all the
organisation's accounts, twice (count and page): ~20 ms at 10,000 users (design.md §7 P3). Trigram
GIN indexes on the upper-cased columns serve the LIKE, a b-tree on UPPER(username) the equality, and
PostgreSQL combines the three with a BitmapOr.

The table also gets a fill factor of 85: the stored progress (Account.progress, koppeling
migration 0007) changes on every link, undone link and code, and ``last_login`` on every login;
with room left on each page PostgreSQL makes such an update a heap-only tuple (no new entry in any
of the table's indexes). On full pages each of the 18-month job's 100,000 account updates wrote an
entry into every index: 45 µs a row against 6 µs (bench P4). New and rewritten pages get the room.

pg_trgm ships with PostgreSQL and is a trusted extension (PostgreSQL 13 and later): the database's
owner may create it without superuser rights. SQLite (``make run``) gets no index: its organisation is
the demo's few users.
"""

from django.db import migrations

INDEXES = [
    "CREATE INDEX IF NOT EXISTS account_name_upper_trgm ON accounts_account "
    "USING gin (UPPER(name) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS account_email_upper_trgm ON accounts_account "
    "USING gin (UPPER(email) gin_trgm_ops)",
    'CREATE INDEX IF NOT EXISTS account_username_upper ON accounts_account (UPPER("username"::text))',
]


def indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm", params=None)
    for statement in INDEXES:
        schema_editor.execute(statement, params=None)
    schema_editor.execute("ALTER TABLE accounts_account SET (fillfactor = 85)", params=None)


def indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in ("account_name_upper_trgm", "account_email_upper_trgm", "account_username_upper"):
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}", params=None)
    schema_editor.execute("ALTER TABLE accounts_account RESET (fillfactor)", params=None)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0011_account_progress")]

    operations = [migrations.RunPython(indexes_create, indexes_drop)]
