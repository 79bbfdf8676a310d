"""Database triggers that keep ``Account.progress`` (accounts.models.Progress) true, and its backfill.

The progress is the user list's status as it is without an active link and without the block
(beheer.selectors.account_status checks those two live): removed; else "activation code sent" (a
code, or a code mail, with no undone link at or after it); else unlinked (an undone link, or an
active one: see RULE); else registered. The history's tables are written from many places: the
koppel wizard, the beheer and helpdesk screens, the set-based 18-month unlinking in raw SQL, bulk
inserts, the admin. Triggers keep the stored value in step with every one of them, in the same
transaction.

PostgreSQL: one SQL function computes the rule for an account. Links, which the 18-month job ends
20,000 to a statement, have statement-level triggers with transition tables that recompute, in one
UPDATE, only the accounts whose value the statement can have changed (for an ended link: only when
a code is newer than the end, so the job writes no account); codes and code mails, written one or a
few at a time, have row triggers (for mails with a WHEN on the template, so the job's notices cost
nothing). An account's own UPDATE recomputes when Django writes a stale ``progress`` (a full
``save()`` of an instance read before a code was sent) or a removal. The UPDATEs only touch rows
whose value changes: an unchanged account row is not locked, so a code mail queued while the mail
worker holds the account (FOR NO KEY UPDATE during the SMTP exchange,
koppeling.services.activation_code_issue) does not wait for it.

SQLite (the embedded default of ``make run``): row-level triggers with the same rule.
"""

# ruff: noqa: S608  (every SQL text here is made of this file's constants; nothing comes from input)
from django.db import migrations

CODE_MAIL = "koppeling/email/activation_code"

# The rule, for the account ``{account}`` whose removal time is ``{removed}``. An account with an
# active link stores 3 (unlinked): what it is the moment that link ends, because an end is later
# than every code sent so far. So undoing a link changes nothing stored, and the 18-month job, which
# undoes 100,000 links in five statements, does not rewrite 100,000 accounts (+5 s in bench P4).
# The list sees the active link itself (uniq_active_account).
RULE = """
CASE
  WHEN {removed} IS NOT NULL THEN 5
  WHEN EXISTS (SELECT 1 FROM koppeling_koppeling k WHERE k.account_id = {account} AND k.ended_at IS NULL)
    THEN 3
  WHEN EXISTS (
      SELECT 1 FROM accounts_emailoutbox m
      WHERE m.account_id = {account} AND m.template = '{mail}'
        AND NOT EXISTS (
          SELECT 1 FROM koppeling_koppeling k WHERE k.account_id = {account} AND k.ended_at >= m.created_at
        )
    ) OR EXISTS (
      SELECT 1 FROM koppeling_activationcode c
      WHERE c.account_id = {account}
        AND NOT EXISTS (
          SELECT 1 FROM koppeling_koppeling k WHERE k.account_id = {account} AND k.ended_at >= c.created_at
        )
    )
    THEN 1
  WHEN EXISTS (SELECT 1 FROM koppeling_koppeling k WHERE k.account_id = {account} AND k.ended_at IS NOT NULL)
    THEN 3
  ELSE 0
END
""".replace("{mail}", CODE_MAIL)

POSTGRESQL = [
    f"""
    CREATE FUNCTION mijnduo_account_progress(account bigint, removed timestamptz) RETURNS smallint
    LANGUAGE sql STABLE AS $$ SELECT ({RULE.format(account="account", removed="removed")})::smallint $$;
    """,
    # An account's own UPDATE recomputes; the UPDATE of the refresh below (from inside a trigger)
    # has computed the value already, and does not even call the function.
    """
    CREATE FUNCTION mijnduo_account_progress_own() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        NEW.progress := CASE WHEN NEW.removed_at IS NULL THEN 0 ELSE 5 END;
      ELSE
        NEW.progress := mijnduo_account_progress(NEW.id, NEW.removed_at);
      END IF;
      RETURN NEW;
    END $$;
    """,
    """
    CREATE TRIGGER account_progress_insert BEFORE INSERT ON accounts_account
    FOR EACH ROW EXECUTE FUNCTION mijnduo_account_progress_own();
    """,
    """
    CREATE TRIGGER account_progress_update BEFORE UPDATE ON accounts_account FOR EACH ROW
    WHEN (
      (NEW.progress IS DISTINCT FROM OLD.progress OR NEW.removed_at IS DISTINCT FROM OLD.removed_at)
      AND pg_trigger_depth() < 1
    )
    EXECUTE FUNCTION mijnduo_account_progress_own();
    """,
    # The accounts a statement touched are in its transition table ``changed`` (and, for an UPDATE,
    # ``changed_before``). The rule is computed once per account, and only accounts whose value
    # changes are written: a login, which updates its link's last_login_at, writes nothing.
    """
    CREATE FUNCTION mijnduo_account_progress_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      touched bigint[];
    BEGIN
      IF TG_OP = 'UPDATE' THEN
        -- Links updated: only the accounts whose value can change. An active link (a login touches
        -- it) is recomputed, cheaply; a link that ended changes it only when a code is newer than
        -- the end (two joins, not EXISTS … OR EXISTS, which the planner could only run as a
        -- subplan per row). Moved links and edited ends: the row trigger below.
        SELECT array_agg(DISTINCT account_id) INTO touched FROM (
          SELECT n.account_id FROM changed n WHERE n.ended_at IS NULL
          UNION ALL
          SELECT n.account_id FROM changed n JOIN accounts_emailoutbox m
            ON m.account_id = n.account_id AND m.template = '{mail}' AND m.created_at > n.ended_at
          UNION ALL
          SELECT n.account_id FROM changed n JOIN koppeling_activationcode c
            ON c.account_id = n.account_id AND c.created_at > n.ended_at
        ) accounts;
      ELSE
        SELECT array_agg(DISTINCT account_id) INTO touched FROM changed;
      END IF;
      IF touched IS NOT NULL THEN
        UPDATE accounts_account a SET progress = computed.progress
        FROM (
          SELECT s.id, mijnduo_account_progress(s.id, s.removed_at) AS progress
          FROM unnest(touched) AS t (id) JOIN accounts_account s ON s.id = t.id
        ) computed
        WHERE a.id = computed.id AND a.progress IS DISTINCT FROM computed.progress;
      END IF;
      RETURN NULL;
    END $$;
    """.replace("{mail}", CODE_MAIL),
]
# One account (a row's, and for an UPDATE also the row's former account): for the rare and the
# single-row writes.
POSTGRESQL.append(
    """
    CREATE FUNCTION mijnduo_account_progress_row() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE accounts_account a SET progress = mijnduo_account_progress(a.id, a.removed_at)
      WHERE a.id IN (
          CASE WHEN TG_OP <> 'DELETE' THEN NEW.account_id END,
          CASE WHEN TG_OP <> 'INSERT' THEN OLD.account_id END
        )
        AND a.progress IS DISTINCT FROM mijnduo_account_progress(a.id, a.removed_at);
      RETURN NULL;
    END $$;
    """
)
# Links: inserted and deleted in sets (statement triggers); updated by every login and, in
# batches of 20,000, by the 18-month job: a statement trigger with the new rows only (capturing the
# old rows too cost the job's batch ~0.15 s), and a row trigger for the updates that need the old
# row: a link moved to another account, the end of an ended link edited.
POSTGRESQL += [
    "CREATE TRIGGER account_progress_insert AFTER INSERT ON koppeling_koppeling REFERENCING NEW TABLE AS "
    "changed FOR EACH STATEMENT EXECUTE FUNCTION mijnduo_account_progress_refresh();",
    "CREATE TRIGGER account_progress_delete AFTER DELETE ON koppeling_koppeling REFERENCING OLD TABLE AS "
    "changed FOR EACH STATEMENT EXECUTE FUNCTION mijnduo_account_progress_refresh();",
    "CREATE TRIGGER account_progress_update AFTER UPDATE ON koppeling_koppeling REFERENCING NEW TABLE AS "
    "changed FOR EACH STATEMENT EXECUTE FUNCTION mijnduo_account_progress_refresh();",
    "CREATE TRIGGER account_progress_update_row AFTER UPDATE ON koppeling_koppeling FOR EACH ROW "
    "WHEN (OLD.account_id IS DISTINCT FROM NEW.account_id "
    "OR (OLD.ended_at IS NOT NULL AND OLD.ended_at IS DISTINCT FROM NEW.ended_at)) "
    "EXECUTE FUNCTION mijnduo_account_progress_row();",
]
# Codes: one at a time (the mail worker). Mails: only the code mails count; the 18-month job
# inserts 20,000 notices in one statement, which a row trigger's WHEN passes over for nothing and a
# statement trigger would have captured whole.
for table, when in (
    (
        "koppeling_activationcode",
        "(OLD.account_id IS DISTINCT FROM NEW.account_id OR OLD.created_at IS DISTINCT FROM NEW.created_at)",
    ),
    ("accounts_emailoutbox", None),
):
    for event in ("INSERT", "UPDATE", "DELETE"):
        if table == "accounts_emailoutbox":
            row = {"INSERT": "NEW", "UPDATE": "NEW", "DELETE": "OLD"}[event]
            condition = f"{row}.template = '{CODE_MAIL}'"
            if event == "UPDATE":
                condition = (
                    f"(NEW.template = '{CODE_MAIL}' OR OLD.template = '{CODE_MAIL}') AND (OLD.account_id "
                    "IS DISTINCT FROM NEW.account_id OR OLD.created_at IS DISTINCT FROM NEW.created_at "
                    "OR OLD.template IS DISTINCT FROM NEW.template)"
                )
        else:
            condition = when if event == "UPDATE" else None
        POSTGRESQL.append(
            f"CREATE TRIGGER account_progress_{event.lower()} AFTER {event} ON {table} FOR EACH ROW "
            + (f"WHEN ({condition}) " if condition else "")
            + "EXECUTE FUNCTION mijnduo_account_progress_row();"
        )

POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS account_progress_insert ON accounts_account;",
    "DROP TRIGGER IF EXISTS account_progress_update ON accounts_account;",
    *(
        f"DROP TRIGGER IF EXISTS account_progress_{event} ON {table};"
        for table in ("koppeling_koppeling", "koppeling_activationcode", "accounts_emailoutbox")
        for event in ("insert", "update", "delete", "update_row")
    ),
    "DROP FUNCTION IF EXISTS mijnduo_account_progress_row();",
    "DROP FUNCTION IF EXISTS mijnduo_account_progress_refresh();",
    "DROP FUNCTION IF EXISTS mijnduo_account_progress_own();",
    "DROP FUNCTION IF EXISTS mijnduo_account_progress(bigint, timestamptz);",
]


def _sqlite_refresh(name: str, timing: str, accounts: str, when: str = "") -> str:
    rule = RULE.format(account="accounts_account.id", removed="accounts_account.removed_at")
    return (
        f"CREATE TRIGGER {name} {timing} {when} BEGIN "
        f"UPDATE accounts_account SET progress = ({rule}) WHERE id IN ({accounts}); END;"
    )


SQLITE = [
    _sqlite_refresh("account_progress_insert", "AFTER INSERT ON accounts_account", "NEW.id"),
    # SQLite's triggers do not fire themselves again (recursive_triggers is off): the inner UPDATE
    # of this one does not re-enter it.
    _sqlite_refresh(
        "account_progress_update",
        "AFTER UPDATE OF progress, removed_at ON accounts_account",
        "NEW.id",
        when="FOR EACH ROW WHEN NEW.progress IS NOT ({})".format(
            RULE.format(account="NEW.id", removed="NEW.removed_at")
        ),
    ),
    _sqlite_refresh("link_progress_insert", "AFTER INSERT ON koppeling_koppeling", "NEW.account_id"),
    _sqlite_refresh(
        "link_progress_update",
        "AFTER UPDATE OF ended_at, account_id ON koppeling_koppeling",
        "NEW.account_id, OLD.account_id",
    ),
    _sqlite_refresh("link_progress_delete", "AFTER DELETE ON koppeling_koppeling", "OLD.account_id"),
    _sqlite_refresh("code_progress_insert", "AFTER INSERT ON koppeling_activationcode", "NEW.account_id"),
    _sqlite_refresh(
        "code_progress_update",
        "AFTER UPDATE OF account_id, created_at ON koppeling_activationcode",
        "NEW.account_id, OLD.account_id",
    ),
    _sqlite_refresh("code_progress_delete", "AFTER DELETE ON koppeling_activationcode", "OLD.account_id"),
    _sqlite_refresh(
        "mail_progress_insert",
        "AFTER INSERT ON accounts_emailoutbox",
        "NEW.account_id",
        when=f"FOR EACH ROW WHEN NEW.template = '{CODE_MAIL}'",
    ),
    _sqlite_refresh(
        "mail_progress_update",
        "AFTER UPDATE OF account_id, created_at ON accounts_emailoutbox",
        "NEW.account_id, OLD.account_id",
        when=f"FOR EACH ROW WHEN NEW.template = '{CODE_MAIL}'",
    ),
    _sqlite_refresh(
        "mail_progress_delete",
        "AFTER DELETE ON accounts_emailoutbox",
        "OLD.account_id",
        when=f"FOR EACH ROW WHEN OLD.template = '{CODE_MAIL}'",
    ),
]

SQLITE_REVERSE = [
    f"DROP TRIGGER IF EXISTS {name};"
    for name in (
        "account_progress_insert",
        "account_progress_update",
        "link_progress_insert",
        "link_progress_update",
        "link_progress_delete",
        "code_progress_insert",
        "code_progress_update",
        "code_progress_delete",
        "mail_progress_insert",
        "mail_progress_update",
        "mail_progress_delete",
    )
]

BACKFILL = "UPDATE accounts_account SET progress = ({rule})".format(
    rule=RULE.format(account="accounts_account.id", removed="accounts_account.removed_at")
)


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise RuntimeError(
                f"Account.progress has no triggers for {schema_editor.connection.vendor}: "
                "the project supports PostgreSQL and SQLite."
            )
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_account_progress"),
        ("koppeling", "0006_unlink_reason_wording"),
    ]

    operations = [
        migrations.RunPython(
            _run({"postgresql": [*POSTGRESQL, BACKFILL], "sqlite": [*SQLITE, BACKFILL]}),
            _run({"postgresql": POSTGRESQL_REVERSE, "sqlite": SQLITE_REVERSE}),
        ),
    ]
