"""Reads for the OpenID Connect provider: which Dienst a client is, and what a Dienst may learn."""

from django.db.models import OuterRef, Subquery

from accounts.models import Account, RolToekenning

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


def rollen_claim(*, account: Account, dienst: Dienst) -> list[dict]:
    """The account's rollen that ``dienst`` serves, each with its kenmerken, in one query.

    Only kenmerken of the account's own organisation: whatever a faulty assignment says, a Dienst
    never learns another organisation's numbers (AVG data minimisation, issue 18).
    """
    rows = (
        RolToekenning.objects.filter(
            account=account,
            rol__diensten=dienst,
            kenmerk__organisatie_id=account.organisatie_id,
        )
        .order_by("rol__code", "kenmerk__type__code", "kenmerk__waarde")
        .values_list("rol__code", "rol__naam", "kenmerk__type__code", "kenmerk__waarde")
    )
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
