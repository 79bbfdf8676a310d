"""Reads for the OpenID Connect provider: which Dienst a client is, and what a Dienst may learn."""

import hashlib
import json
from dataclasses import dataclass

from django.db import InterfaceError, OperationalError, connections, router
from django.db.models import DEFERRED, Model, OuterRef, Subquery
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from oauth2_provider.models import Application, get_access_token_model, get_grant_model

from accounts.models import Account, Kenmerk, KenmerkType, Organisatie, Rol, RolToekenning
from koppeling.models import Koppeling

from .models import Dienst, Handoff


def dienst_for_client(*, client) -> Dienst | None:
    """The Dienst of an OAuth2 client (None for a client without a Dienst: it gets nothing)."""
    if client is None:
        return None
    try:
        return client.dienst
    except Dienst.DoesNotExist:
        return None


def launch_url_expression():
    """For the overview (accounts.selectors.onderwerp_url_register): on a Rol, the launch URL of an
    enabled Dienst that serves it (the first by name), or NULL."""
    return Subquery(
        Dienst.objects.filter(rollen=OuterRef("pk"), enabled=True)
        .order_by("naam_nl", "pk")
        .values("launch_url")[:1]
    )


def execute(connection, cursor, sql: str, params, *, prepared_as: str = "") -> None:
    """Run ``sql`` (``%s`` placeholders, no other ``%``) on ``cursor``; on PostgreSQL, with
    ``prepared_as``, as that prepared statement of the connection (made on first use).

    For the statements of every userinfo, token and authorization request (P9): PostgreSQL spent
    more time planning their joins (~0.3-0.4 ms each) than running them (<0.1 ms); a prepared
    statement is planned once per connection (a generic plan after its first five runs). The
    PREPARE is the connection's own setup, made on its raw cursor like Django's own setup
    statements (not among the request's statements); it survives a rolled-back transaction (also
    one it was made in), and a new connection prepares again.
    SQLite compiles each statement once per connection anyway (sqlite3's statement cache).
    """
    if not prepared_as or connection.vendor != "postgresql":
        cursor.execute(sql, params)
        return
    raw = connection.connection
    known = getattr(connection, "_diensten_prepared", None)
    if known is None or known[0] is not raw:
        with raw.cursor() as setup:
            setup.execute("SELECT name FROM pg_prepared_statements")
            known = (raw, {name for (name,) in setup.fetchall()})
        connection._diensten_prepared = known
    if prepared_as not in known[1]:
        numbered = sql % tuple(f"${number}" for number in range(1, len(params) + 1))
        with raw.cursor() as setup:
            setup.execute(f"PREPARE {prepared_as} AS {numbered}")
        known[1].add(prepared_as)
    cursor.execute(f"EXECUTE {prepared_as} ({', '.join(['%s'] * len(params))})", params)


_ROLLEN_CLAIM_SQL: dict[str, str] = {}  # per database alias, built on first use


def _rollen_claim_sql(quote) -> str:
    """The rollen claim's query, with the tables and columns of the models (no input in it).

    The rol's code and name and the kenmerk's type are scalar subqueries by primary key, not joins:
    the rows are the same (the foreign keys are NOT NULL), and PostgreSQL plans a three-table join
    in well under half the time of a five-table one. Planning was most of this query's time (P9:
    ~1.1 -> ~0.7 ms per token request and per userinfo request)."""
    toekenning, rol, kenmerk = RolToekenning._meta, Rol._meta, Kenmerk._meta
    soort, dienst_rol = KenmerkType._meta, Dienst.rollen.through._meta

    def column(meta, name):
        return quote(meta.get_field(name).column)

    def of_rol(name):
        return (
            f"(SELECT r.{column(rol, name)} FROM {quote(rol.db_table)} r "  # noqa: S608  (names from _meta)
            f"WHERE r.{quote(rol.pk.column)} = rt.{column(toekenning, 'rol')})"
        )

    return (
        f"SELECT {of_rol('code')}, {of_rol('naam')}, "  # noqa: S608  (names from _meta)
        f"(SELECT t.{column(soort, 'code')} FROM {quote(soort.db_table)} t "
        f"WHERE t.{quote(soort.pk.column)} = k.{column(kenmerk, 'type')}), k.{column(kenmerk, 'waarde')} "
        f"FROM {quote(toekenning.db_table)} rt "
        f"INNER JOIN {quote(dienst_rol.db_table)} dr "
        f"ON dr.{column(dienst_rol, 'rol')} = rt.{column(toekenning, 'rol')} "
        f"INNER JOIN {quote(kenmerk.db_table)} k "
        f"ON k.{quote(kenmerk.pk.column)} = rt.{column(toekenning, 'kenmerk')} "
        f"WHERE rt.{column(toekenning, 'account')} = %s AND dr.{column(dienst_rol, 'dienst')} = %s "
        f"AND k.{column(kenmerk, 'organisatie')} = %s "
        "ORDER BY 1, 3, 4"
    )


def rollen_claim(*, account: Account, dienst: Dienst) -> list[dict]:
    """The account's rollen that ``dienst`` serves, each with its kenmerken, in one query.

    Only kenmerken of the account's own organisation: whatever a faulty assignment says, a Dienst
    never learns another organisation's numbers (AVG data minimisation, issue 18).

    Hand-written SQL (plain joins, the same on PostgreSQL and SQLite), read on every token
    exchange and every userinfo request: the ORM spent about three times the query's own time
    resolving and compiling the four-table lookup (P9, docs/benchmarks.md).
    """
    if account.organisatie_id is None:
        return []  # kenmerk.organisatie_id = NULL matches nothing
    connection = connections[router.db_for_read(RolToekenning)]
    sql = _ROLLEN_CLAIM_SQL.get(connection.alias)
    if sql is None:
        sql = _ROLLEN_CLAIM_SQL[connection.alias] = _rollen_claim_sql(connection.ops.quote_name)
    with connection.cursor() as cursor:
        execute(
            connection,
            cursor,
            sql,
            [account.pk, dienst.pk, account.organisatie_id],
            prepared_as="diensten_rollen_claim",
        )
        rows = cursor.fetchall()
    return _rollen_from_rows(rows)


def _rollen_from_rows(rows) -> list[dict]:
    """The claim from rows (rol code, rol name, kenmerk type code, kenmerk value) in claim order."""
    rollen: dict[str, dict] = {}
    for code, naam, kenmerk_type, waarde in rows:
        rol = rollen.setdefault(code, {"code": code, "naam": naam, "kenmerken": []})
        rol["kenmerken"].append({"type": kenmerk_type, "waarde": waarde})
    return list(rollen.values())


def _bearer_rollen(quote, *, as_json: bool) -> dict:
    """A bearer read's rollen claim on the read's account (a) and hand-off (h): the account's
    toekenningen whose rol the hand-off's Dienst serves, with a kenmerk of the account's own
    organisation (``rollen_claim``'s rows: the rol's code and name, the kenmerk's type and value),
    in the claim's order. No input in it: names from the models.

    ``as_json`` (PostgreSQL): ``_JoinedRead``'s ``extra``, one more column of the read's single
    row, a scalar subquery whose JSON array holds those rows as arrays (``json_agg``, ordered as
    the claim; NULL for none). Else (SQLite, whose json_group_array takes no ORDER BY before 3.44)
    ``_JoinedRead``'s ``join_after``, ``tail`` and ``suffix``: the same tables as one LEFT JOIN
    after the read's, the rows repeating the read's columns, one row with NULLs for none. The
    rows way sent the ~40 columns of the token, account, organisation, hand-off and Dienst once
    per rol and kenmerk, and Python parsed them each time (P9: ~15 µs of the round trip)."""
    toekenning, rol, kenmerk = RolToekenning._meta, Rol._meta, Kenmerk._meta
    soort, dienst_rol = KenmerkType._meta, Dienst.rollen.through._meta

    def column(meta, name):
        return quote(meta.get_field(name).column)

    code, naam = f"rr.{column(rol, 'code')}", f"rr.{column(rol, 'naam')}"
    kenmerk_type, waarde = f"rkt.{column(soort, 'code')}", f"rk.{column(kenmerk, 'waarde')}"
    tables = (
        f"{quote(toekenning.db_table)} rrt "
        f"INNER JOIN {quote(dienst_rol.db_table)} rdr "
        f"ON rdr.{column(dienst_rol, 'rol')} = rrt.{column(toekenning, 'rol')} "
        f"INNER JOIN {quote(kenmerk.db_table)} rk "
        f"ON rk.{quote(kenmerk.pk.column)} = rrt.{column(toekenning, 'kenmerk')} "
        f"INNER JOIN {quote(rol.db_table)} rr ON rr.{quote(rol.pk.column)} = rrt.{column(toekenning, 'rol')} "
        f"INNER JOIN {quote(soort.db_table)} rkt "
        f"ON rkt.{quote(soort.pk.column)} = rk.{column(kenmerk, 'type')}"
    )
    on = (
        f"rrt.{column(toekenning, 'account')} = a.{quote(Account._meta.pk.column)} "
        f"AND rdr.{column(dienst_rol, 'dienst')} = h.{quote(Handoff._meta.get_field('dienst').column)} "
        f"AND rk.{column(kenmerk, 'organisatie')} = a.{quote(Account._meta.get_field('organisatie').column)}"
    )
    if as_json:
        return {
            "extra": (
                f"(SELECT json_agg(json_build_array({code}, {naam}, {kenmerk_type}, {waarde}) "  # noqa: S608
                f"ORDER BY {code}, {kenmerk_type}, {waarde})::text FROM {tables} WHERE {on})",
            ),
        }
    return {
        "join_after": f" LEFT OUTER JOIN ({tables}) ON {on}",
        "tail": (code, naam, kenmerk_type, waarde),
        "suffix": f" ORDER BY {code}, {kenmerk_type}, {waarde}",
    }


_HOLDS_DIENST_ROL_SQL: dict[str, str] = {}  # per database alias, built on first use


def _holds_dienst_rol_sql(quote) -> str:
    """The authorization check's query: a toekenning of the account whose rol the Dienst serves, with a
    kenmerk of the account's organisation (no input in it: names from the models)."""
    toekenning, kenmerk, dienst_rol = RolToekenning._meta, Kenmerk._meta, Dienst.rollen.through._meta

    def column(meta, name):
        return quote(meta.get_field(name).column)

    return (
        f"SELECT 1 FROM {quote(toekenning.db_table)} rt "  # noqa: S608  (names from _meta)
        f"INNER JOIN {quote(dienst_rol.db_table)} dr "
        f"ON dr.{column(dienst_rol, 'rol')} = rt.{column(toekenning, 'rol')} "
        f"INNER JOIN {quote(kenmerk.db_table)} k "
        f"ON k.{quote(kenmerk.pk.column)} = rt.{column(toekenning, 'kenmerk')} "
        f"WHERE rt.{column(toekenning, 'account')} = %s AND dr.{column(dienst_rol, 'dienst')} = %s "
        f"AND k.{column(kenmerk, 'organisatie')} = %s "
        "LIMIT 1"
    )


def account_holds_dienst_rol(*, account: Account, dienst: Dienst) -> bool:
    """Whether the account holds any rol of ``dienst`` (for a kenmerk of his own organisation).

    Hand-written SQL like ``rollen_claim`` (plain joins, the same on PostgreSQL and SQLite), asked on
    every authorization request: the ORM's version joined the rol table as well, which the check does
    not need, and spent more time building the four-table lookup than PostgreSQL spent answering it
    (P9: ~1.5-2 ms of the authorize redirect; now a few tenths of a millisecond).
    """
    if account.organisatie_id is None:
        return False  # kenmerk.organisatie_id = NULL matches nothing
    connection = connections[router.db_for_read(RolToekenning)]
    sql = _HOLDS_DIENST_ROL_SQL.get(connection.alias)
    if sql is None:
        sql = _HOLDS_DIENST_ROL_SQL[connection.alias] = _holds_dienst_rol_sql(connection.ops.quote_name)
    with connection.cursor() as cursor:
        execute(
            connection,
            cursor,
            sql,
            [account.pk, dienst.pk, account.organisatie_id],
            prepared_as="diensten_holds_dienst_rol",
        )
        return cursor.fetchone() is not None


ORGANISATIE_CLAIM_FIELDS = (
    "instellingscode",
    "bestuursnummer",
    "gemeentecode",
    "crediteurnummer",
    "kvk_nummer",
    "rsin",
)


def organisatie_claim(*, account: Account) -> dict:
    """The account's organisation: its name, type and numbers (no address: the Dienst does not need it)."""
    organisatie = account.organisatie
    if organisatie is None:
        return {}
    claim = {"naam": organisatie.naam, "type": organisatie.type}
    for field in ORGANISATIE_CLAIM_FIELDS:
        value = getattr(organisatie, field)
        if value:
            claim[field] = value
    return claim


def handoff_for_access_token(*, access_token) -> Handoff | None:
    if access_token is None or access_token.pk is None:
        return None
    if "handoff" in access_token._state.fields_cache:  # read with the token (validators.py)
        return access_token._state.fields_cache["handoff"]
    return Handoff.objects.filter(access_token=access_token).select_related("dienst").first()


# --- the token request's and the authorization request's own reads ----------------------------------
#
# The client with its Dienst (every authorization and token request) and the grant of a code with its
# user and organisation (every token request) are one row each, read by primary or unique key; the
# ORM spent two to three times PostgreSQL's time on them building and compiling the joined SELECT of
# 30-45 columns anew each time (P9, ~1 ms per read). Here the SQL is built once per database from the
# models' own fields, and the rows become model instances as the ORM makes them (``Model.from_db``,
# the fields' database converters, the relations cached on both sides), so the callers see the same
# objects as ``select_related`` gives. Plain joins: the same on PostgreSQL and SQLite.


@dataclass(frozen=True)
class _Part:
    model: type
    alias: str
    join: str = ""  # "" for the first table, else the JOIN clause with {t} for the quoted table name
    fields: tuple[str, ...] = ()  # only these attnames (the primary key among them); () for all


class _JoinedRead:
    """One row of ``parts[0]`` with its to-one relations in ``parts[1:]`` (possibly NULL: LEFT JOIN)."""

    def __init__(
        self,
        connection,
        parts: list[_Part],
        where: str,
        *,
        suffix: str = "",
        extra: tuple[str, ...] = (),
        join_after: str = "",
        tail: tuple[str, ...] = (),
    ):
        quote = connection.ops.quote_name
        self.parts = []
        columns = []
        for part in parts:
            fields = list(part.model._meta.concrete_fields)
            if part.fields:  # the others deferred, as with .only(): read when first used
                unknown = set(part.fields) - {field.attname for field in fields}
                assert not unknown, unknown
                # In the model's order, the primary key first: as Model.from_db takes them.
                fields = [field for field in fields if field.attname in part.fields]
                assert fields[0].primary_key
            converters = []
            for index, field in enumerate(fields):
                columns.append(f"{part.alias}.{quote(field.column)}")
                col = field.get_col(part.alias)
                functions = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
                if functions:  # most columns have none
                    converters.append((index, functions, col))
            # Where each read column goes among all the model's concrete fields (the others
            # DEFERRED), so that Model.from_db takes the values as they are instead of matching
            # every field's name against the list of read names (P9: ~10 µs per instance).
            concrete = part.model._meta.concrete_fields
            places = [concrete.index(field) for field in fields]
            self.parts.append(
                (part.model, [field.attname for field in fields], converters, places, len(concrete))
            )
        tables = " ".join(
            (
                part.join.format(t=quote(part.model._meta.db_table))
                if part.join
                else f"{quote(part.model._meta.db_table)} {part.alias}"
            )
            for part in parts
        )
        columns += extra  # plain values after the instances (expressions with no input in them)
        self.width = len(columns)
        columns += tail  # fetch_all's per-row values
        self.sql = f"SELECT {', '.join(columns)} FROM {tables}{join_after} WHERE {where}{suffix}"  # noqa: S608

    def fetch(self, connection, params, *, prepared_as: str = "") -> list | None:
        """The row's instances, one per part (None for a part whose LEFT JOIN found nothing), then
        the values of the ``extra`` columns. ``prepared_as``: a PostgreSQL prepared statement's name
        (``execute``)."""
        with connection.cursor() as cursor:
            execute(connection, cursor, self.sql, params, prepared_as=prepared_as)
            row = cursor.fetchone()
        return None if row is None else self.instances(connection, row)

    def fetch_all(self, connection, params, *, prepared_as: str = "") -> list | None:
        """As ``fetch`` for a statement whose rows repeat the parts' columns (a to-many join after
        them): the first row's instances and ``extra`` values, then the list of every row's values
        after the ``extra`` columns."""
        with connection.cursor() as cursor:
            execute(connection, cursor, self.sql, params, prepared_as=prepared_as)
            rows = cursor.fetchall()
        if not rows:
            return None
        after = self.width
        return [*self.instances(connection, rows[0]), [row[after:] for row in rows]]

    def instances(self, connection, row) -> list:
        instances, start, alias = [], 0, connection.alias
        signals = bool(pre_init.receivers or post_init.receivers)
        for model, names, converters, places, width in self.parts:
            values = row[start : start + len(names)]
            start += len(names)
            if values[0] is None:  # the primary key: no row joined
                instances.append(None)
                continue
            if converters:
                values = list(values)
                for index, functions, col in converters:
                    for function in functions:
                        values[index] = function(values[index], col, connection)
            if (
                model.__init__ is Model.__init__  # nor a from_db or __init__ of the model's own
                and model.from_db.__func__ is Model.from_db.__func__
                and (not signals or not (pre_init.has_listeners(model) or post_init.has_listeners(model)))
            ):
                # What Model.from_db makes, without Model.__init__'s walk over every field and
                # its two signals, which nothing receives for this model: the read values in the
                # instance's __dict__ (the others deferred: absent, read when first used), the
                # state of a saved row of ``alias`` (P9: ~30 µs of a bearer read's ~40).
                instance = model.__new__(model)
                state = ModelState()
                state.adding, state.db = False, alias
                instance.__dict__.update(zip(names, values, strict=True))
                instance._state = state
                instances.append(instance)
                continue
            if len(places) != width:
                every = [DEFERRED] * width
                for place, value in zip(places, values, strict=True):
                    every[place] = value
                values = every
            instances.append(model.from_db(alias, names, values))
        instances.extend(row[start : self.width])
        return instances


_READS: dict[tuple[str, str], _JoinedRead] = {}


def _read(connection, name: str, build) -> _JoinedRead:
    read = _READS.get((connection.alias, name))
    if read is None:
        read = _READS[(connection.alias, name)] = build(connection)
    return read


def application_with_dienst(*, client_id: str) -> Application | None:
    """The OAuth2 client ``client_id`` with its Dienst (``client.dienst``; DoesNotExist without one),
    as ``Application.objects.select_related("dienst").get(client_id=…)``."""
    connection = connections[router.db_for_read(Application)]

    def build(connection):
        quote = connection.ops.quote_name
        return _JoinedRead(
            connection,
            [
                _Part(Application, "c"),
                _Part(
                    Dienst,
                    "d",
                    f"LEFT OUTER JOIN {{t}} d ON d.{quote(Dienst._meta.get_field('application').column)} "
                    f"= c.{quote(Application._meta.pk.column)}",
                ),
            ],
            f"c.{quote(Application._meta.get_field('client_id').column)} = %s",
        )

    found = _read(connection, "application_with_dienst", build).fetch(
        connection, [client_id], prepared_as="diensten_application_with_dienst"
    )
    if found is None:
        return None
    application, dienst = found
    field = Dienst._meta.get_field("application")
    field.remote_field.set_cached_value(application, dienst)
    if dienst is not None:
        field.set_cached_value(dienst, application)
    return application


@dataclass(frozen=True)
class CodeRead:
    """What a token request reads for its code (``code_read``)."""

    grant: object  # the grant, with its user and the user's organisation (grant.user.organisatie)
    handoff: Handoff | None  # the code's hand-off (by the code's hash), without its relations
    rollen: list[dict] | None  # the rollen claim for the hand-off's Dienst; None: not read (SQLite)


def code_read(*, code: str, lock: bool) -> CodeRead | None:
    """The grant of ``code`` with its user and the user's organisation (as
    ``Grant.objects.select_related("user__organisatie").filter(code=…).order_by("pk").first()``),
    the code's hand-off, and on PostgreSQL the rollen claim of the grant's user for the hand-off's
    Dienst (``rollen_claim``'s, as one JSON column: ``_bearer_rollen``), in one statement; None
    without a grant: one round trip of every token request instead of three (P9).

    ``lock``: inside a transaction, lock the grant row until it ends (``SELECT … FOR UPDATE OF`` the
    grant only; databases without row locks, SQLite, serialise writers anyway).
    """
    grant_model = get_grant_model()
    connection = connections[router.db_for_read(grant_model)]
    lock = lock and connection.features.has_select_for_update_of
    with_rollen = connection.vendor == "postgresql"

    def build(connection, *, for_update: bool):
        quote = connection.ops.quote_name
        user_column = quote(grant_model._meta.get_field("user").column)
        organisatie_column = quote(Account._meta.get_field("organisatie").column)
        return _JoinedRead(
            connection,
            [
                _Part(grant_model, "g"),
                _Part(
                    Account,
                    "a",
                    f"INNER JOIN {{t}} a ON a.{quote(Account._meta.pk.column)} = g.{user_column}",
                ),
                _Part(
                    Organisatie,
                    "o",
                    f"LEFT OUTER JOIN {{t}} o "
                    f"ON o.{quote(Organisatie._meta.pk.column)} = a.{organisatie_column}",
                ),
                _Part(  # the first parameter: the code's hash
                    Handoff,
                    "h",
                    f"LEFT OUTER JOIN {{t}} h ON h.{quote(Handoff._meta.get_field('code_hash').column)} = %s",
                ),
            ],
            f"g.{quote(grant_model._meta.get_field('code').column)} = %s",
            suffix=f" ORDER BY g.{quote(grant_model._meta.pk.column)} LIMIT 1"
            + (" FOR UPDATE OF g" if for_update else ""),
            extra=_bearer_rollen(quote, as_json=True)["extra"] if with_rollen else (),
        )

    name = "code_read_locked" if lock else "code_read"
    found = _read(connection, name, lambda c: build(c, for_update=lock)).fetch(
        connection, [hashlib.sha256(code.encode()).hexdigest(), code], prepared_as=f"diensten_{name}"
    )
    if found is None:
        return None
    if with_rollen:
        grant, account, organisatie, handoff, rollen_json = found
        rollen = _rollen_from_rows(json.loads(rollen_json)) if rollen_json is not None else []
        if handoff is None:
            rollen = None  # no Dienst to read them for
    else:
        grant, account, organisatie, handoff = found
        rollen = None
    grant_model._meta.get_field("user").set_cached_value(grant, account)
    Account._meta.get_field("organisatie").set_cached_value(account, organisatie)
    return CodeRead(grant=grant, handoff=handoff, rollen=rollen)


def handoff_for_code_hash(*, code_hash: str) -> Handoff | None:
    """The hand-off of a code's hash (unique), without its relations: the token request has the
    client's Dienst and the grant's user loaded already (services.handoff_for_code)."""
    connection = connections[router.db_for_read(Handoff)]

    def build(connection):
        quote = connection.ops.quote_name
        return _JoinedRead(
            connection,
            [_Part(Handoff, "h")],
            f"h.{quote(Handoff._meta.get_field('code_hash').column)} = %s",
        )

    found = _read(connection, "handoff_for_code_hash", build).fetch(
        connection, [code_hash], prepared_as="diensten_handoff_for_code_hash"
    )
    return found[0] if found is not None else None


def _as_health_check(connection, read):
    """``read()``, a request's first statement outside a transaction, as the connection's health
    check: Django sends ``SELECT 1`` before a request's first statement on a reused connection
    (CONN_HEALTH_CHECKS), a round trip of its own for a bearer request whose whole work is one
    statement (P9 userinfo). Here the statement itself is the check, with Django's outcome: should
    it fail while the connection no longer answers (closed by the server meanwhile), the connection
    is closed and the statement runs once more on a new one; any other error is raised as it is.
    Without a check pending (a new connection, or one already checked in this request) it is just
    ``read()``."""
    pending = (
        getattr(connection, "health_check_enabled", False)
        and getattr(connection, "health_check_done", True) is False
        and connection.connection is not None
        and not connection.in_atomic_block
    )
    if not pending:
        return read()
    connection.health_check_done = True
    try:
        return read()
    except (InterfaceError, OperationalError, connection.Database.Error):
        if connection.is_usable():
            raise  # the statement's own error, not the connection's
        connection.close()
    return read()


# What a bearer request reads of each row (the rest deferred, read only if used): the token's
# validity and scopes, the account's state and claims (and its str() for the audit trail), the
# organisation claim, the hand-off's login and link, the Dienst's pairwise key, state and name.
_BEARER_FIELDS = {
    "token": ("id", "user_id", "application_id", "expires", "scope", "resource"),
    "account": ("id", "username", "name", "email", "is_active", "removed_at", "organisatie_id"),
    "organisatie": ("id", "naam", "type", *ORGANISATIE_CLAIM_FIELDS),
    "handoff": (
        "id",
        "dienst_id",
        "account_id",
        "access_token_id",
        "sid",
        "acr",
        "amr",
        "koppeling_id",
        "intermediair",
    ),
    "dienst": ("id", "application_id", "code", "naam_nl", "naam_en", "enabled", "sub_secret"),
}


def access_token_for_bearer(*, token: str, with_rollen: bool = False):
    """The access token whose value is ``token``, with everything a bearer request checks, in one
    statement: ``(access_token, account, handoff, link_in_place, rollen)`` or None for an unknown
    token. ``rollen`` is None, or with ``with_rollen`` the rollen claim of the account for the
    hand-off's Dienst, as ``rollen_claim`` gives it (``[]`` without a hand-off), read in the same
    statement (userinfo, P9: one round trip instead of two).

    ``access_token.user`` is the account (None for a token without one) with its organisation
    (``account.organisatie``); ``access_token.handoff`` the hand-off that issued it (None without
    one) with its Dienst; ``link_in_place`` whether the hand-off's eHerkenning link
    (``handoff.koppeling_id``) exists and has not ended. The same objects as
    ``AccessToken.objects.select_related("user__organisatie", "handoff__dienst")`` gives, plus the
    link's check that services.account_may_use_dienst asks in a query of its own.

    django-oauth-toolkit stores the token's SHA-256 (``token_checksum``, unique), so the lookup is
    by that. Userinfo reads this on every request (P9): the ORM's joined SELECT was compiled anew
    each time, and the link's check was a second round trip.
    """
    access_token_model = get_access_token_model()
    connection = connections[router.db_for_read(access_token_model)]

    def build(connection, *, with_rollen: bool):
        quote = connection.ops.quote_name

        def column(model, name):
            return quote(model._meta.get_field(name).column)

        def pk(model):
            return quote(model._meta.pk.column)

        link = (
            f"CASE WHEN EXISTS (SELECT 1 FROM {quote(Koppeling._meta.db_table)} k "  # noqa: S608
            f"WHERE k.{pk(Koppeling)} = h.{column(Handoff, 'koppeling_id')} "
            f"AND k.{column(Koppeling, 'ended_at')} IS NULL) THEN 1 ELSE 0 END"
        )
        rollen = {}
        if with_rollen:
            rollen = _bearer_rollen(quote, as_json=connection.vendor == "postgresql")
        return _JoinedRead(
            connection,
            [
                _Part(access_token_model, "t", fields=_BEARER_FIELDS["token"]),
                _Part(
                    Account,
                    "a",
                    f"LEFT OUTER JOIN {{t}} a ON a.{pk(Account)} = t.{column(access_token_model, 'user')}",
                    fields=_BEARER_FIELDS["account"],
                ),
                _Part(
                    Organisatie,
                    "o",
                    f"LEFT OUTER JOIN {{t}} o ON o.{pk(Organisatie)} = a.{column(Account, 'organisatie')}",
                    fields=_BEARER_FIELDS["organisatie"],
                ),
                _Part(
                    Handoff,
                    "h",
                    f"LEFT OUTER JOIN {{t}} h "
                    f"ON h.{column(Handoff, 'access_token')} = t.{pk(access_token_model)}",
                    fields=_BEARER_FIELDS["handoff"],
                ),
                _Part(
                    Dienst,
                    "d",
                    f"LEFT OUTER JOIN {{t}} d ON d.{pk(Dienst)} = h.{column(Handoff, 'dienst')}",
                    fields=_BEARER_FIELDS["dienst"],
                ),
            ],
            f"t.{column(access_token_model, 'token_checksum')} = %s",
            # The rollen claim (rollen_claim's rows in its order): on PostgreSQL one more column
            # after the link's, else rows after the token's columns (_bearer_rollen).
            extra=(link, *rollen.pop("extra", ())),
            **rollen,
        )

    checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
    rows_way = with_rollen and connection.vendor != "postgresql"
    if with_rollen:
        read = _read(connection, "access_token_for_bearer_rollen", lambda c: build(c, with_rollen=True))
        prepared_as = "diensten_access_token_for_bearer_rollen"
    else:
        read = _read(connection, "access_token_for_bearer", lambda c: build(c, with_rollen=False))
        prepared_as = "diensten_access_token_for_bearer"
    fetch = read.fetch_all if rows_way else read.fetch
    found = _as_health_check(connection, lambda: fetch(connection, [checksum], prepared_as=prepared_as))
    if found is None:
        return None
    if rows_way:
        access_token, account, organisatie, handoff, dienst, link_in_place, rows = found
        rollen = _rollen_from_rows(row for row in rows if row[0] is not None)
    elif with_rollen:
        access_token, account, organisatie, handoff, dienst, link_in_place, rollen_json = found
        rollen = _rollen_from_rows(json.loads(rollen_json)) if rollen_json is not None else []
    else:
        access_token, account, organisatie, handoff, dienst, link_in_place = found
        rollen = None
    access_token_model._meta.get_field("user").set_cached_value(access_token, account)
    if account is not None:
        Account._meta.get_field("organisatie").set_cached_value(account, organisatie)
    handoff_field = Handoff._meta.get_field("access_token")
    handoff_field.remote_field.set_cached_value(access_token, handoff)
    if handoff is not None:
        handoff_field.set_cached_value(handoff, access_token)
        Handoff._meta.get_field("dienst").set_cached_value(handoff, dienst)
    return access_token, account, handoff, bool(link_in_place), rollen
