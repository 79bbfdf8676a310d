"""Reads for the OpenID Connect provider: which Dienst a client is, and what a Dienst may learn."""

from django.db import connections, router
from django.db.models import OuterRef, Subquery

from accounts.models import Account, Kenmerk, KenmerkType, Rol, RolToekenning

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


_ROLLEN_CLAIM_SQL: dict[str, str] = {}  # per database alias, built on first use


def _rollen_claim_sql(quote) -> str:
    """The rollen claim's query, with the tables and columns of the models (no input in it)."""
    toekenning, rol, kenmerk = RolToekenning._meta, Rol._meta, Kenmerk._meta
    soort, dienst_rol = KenmerkType._meta, Dienst.rollen.through._meta

    def column(meta, name):
        return quote(meta.get_field(name).column)

    return (
        f"SELECT r.{column(rol, 'code')}, r.{column(rol, 'naam')}, "  # noqa: S608  (names from _meta)
        f"t.{column(soort, 'code')}, k.{column(kenmerk, 'waarde')} "
        f"FROM {quote(toekenning.db_table)} rt "
        f"INNER JOIN {quote(rol.db_table)} r ON r.{quote(rol.pk.column)} = rt.{column(toekenning, 'rol')} "
        f"INNER JOIN {quote(dienst_rol.db_table)} dr "
        f"ON dr.{column(dienst_rol, 'rol')} = r.{quote(rol.pk.column)} "
        f"INNER JOIN {quote(kenmerk.db_table)} k "
        f"ON k.{quote(kenmerk.pk.column)} = rt.{column(toekenning, 'kenmerk')} "
        f"INNER JOIN {quote(soort.db_table)} t ON t.{quote(soort.pk.column)} = k.{column(kenmerk, 'type')} "
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
        cursor.execute(sql, [account.pk, dienst.pk, account.organisatie_id])
        rows = cursor.fetchall()
    rollen: dict[str, dict] = {}
    for code, naam, kenmerk_type, waarde in rows:
        rol = rollen.setdefault(code, {"code": code, "naam": naam, "kenmerken": []})
        rol["kenmerken"].append({"type": kenmerk_type, "waarde": waarde})
    return list(rollen.values())


def account_holds_dienst_rol(*, account: Account, dienst: Dienst) -> bool:
    """Whether the account holds any rol of ``dienst`` (for a kenmerk of his own organisation)."""
    return RolToekenning.objects.filter(
        account=account, rol__diensten=dienst, kenmerk__organisatie_id=account.organisatie_id
    ).exists()


def organisatie_claim(*, account: Account) -> dict:
    """The account's organisation: its name, type and numbers (no address: the Dienst does not need it)."""
    organisatie = account.organisatie
    if organisatie is None:
        return {}
    claim = {"naam": organisatie.naam, "type": organisatie.type}
    for field in (
        "instellingscode",
        "bestuursnummer",
        "gemeentecode",
        "crediteurnummer",
        "kvk_nummer",
        "rsin",
    ):
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
