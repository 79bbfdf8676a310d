"""Access ends when rights end (issue 18 item 4), when the catalogue's coverage itself changes.

A beheerder hands out only the rollen the beheerautorisaties of the organisation cover. When the
helpdesk removes a rol from a Beheerautorisatie in the admin, every organisation that holds that
beheerautorisatie and has no other one covering the rol loses the rol: its users' assignments are
revoked, audited per account, and the DUO services are told (accounts/hooks.py). The same rule as
``services.uncovered_rollen_withdraw`` (a beheerautorisatie taken from an account), over many
organisations at once: set-based, so a change touching thousands of accounts costs a few queries.
"""

from dataclasses import dataclass, field

from django.db import router
from django.db.models import Count, Exists, F, OuterRef, QuerySet, Window
from django.db.models.functions import DenseRank
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from mijnduo.middleware import client_ip

from .audit import AuditObject, audit_log, audit_log_bulk
from .constants import AuditAction
from .hooks import access_withdrawn_send
from .models import Account, Beheerautorisatie, BeheerautorisatieToekenning, RolToekenning

# The confirmation page lists one line per organisation and rol up to this many, and names at most
# SAMPLE_NAMES users on each: a catalogue change may touch thousands of accounts, the page stays short.
PREVIEW_LINES = 100
SAMPLE_NAMES = 5
DELETE_CHUNK = 1000
REASON_CODE = "rol_coverage_changed"


def rol_coverage_loss(*, beheerautorisatie: Beheerautorisatie, rol_ids) -> QuerySet:
    """The RolToekenningen that go when ``beheerautorisatie`` no longer covers the rollen ``rol_ids``.

    Only organisations holding the beheerautorisatie (an account of theirs holds it) are concerned,
    and only for a rol no *other* beheerautorisatie held in the organisation covers. The coverage
    check leaves ``beheerautorisatie`` out, so the answer is the same before the change is saved
    (the confirmation page) and after it (the withdrawal).
    """
    holders = BeheerautorisatieToekenning.objects.filter(beheerautorisatie=beheerautorisatie).values(
        "account__organisatie_id"
    )
    covered_elsewhere = BeheerautorisatieToekenning.objects.filter(
        account__organisatie_id=OuterRef("account__organisatie_id"),
        beheerautorisatie__rollen=OuterRef("rol_id"),
    ).exclude(beheerautorisatie=beheerautorisatie)
    return RolToekenning.objects.filter(
        rol_id__in=list(rol_ids), account__organisatie_id__in=holders
    ).exclude(Exists(covered_elsewhere))


@dataclass
class CoveragePreview:
    """What the confirmation page shows: totals per rol, then per organisation and rol (bounded)."""

    totals: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    more: str = ""

    @property
    def changes(self) -> list[str]:
        return [*self.totals, *self.lines, *([self.more] if self.more else [])]


def rol_coverage_preview(*, beheerautorisatie: Beheerautorisatie, rol_ids) -> CoveragePreview:
    """Which rollen of how many users of which organisations go, in a constant number of queries."""
    loss = rol_coverage_loss(beheerautorisatie=beheerautorisatie, rol_ids=rol_ids)
    preview = CoveragePreview()
    totals = (
        loss.values("rol_id", "rol__naam")
        .annotate(
            users=Count("account_id", distinct=True),
            organisaties=Count("account__organisatie_id", distinct=True),
        )
        .order_by("rol__naam")
    )
    for row in totals:
        organisaties = ngettext("%(count)s organisation", "%(count)s organisations", row["organisaties"]) % {
            "count": row["organisaties"]
        }
        preview.totals.append(
            ngettext(
                "The role %(rol)s is revoked from %(users)s user of %(organisaties)s: "
                "no other beheerautorisatie of theirs covers it.",
                "The role %(rol)s is revoked from %(users)s users of %(organisaties)s: "
                "no other beheerautorisatie of theirs covers it.",
                row["users"],
            )
            % {"rol": row["rol__naam"], "users": row["users"], "organisaties": organisaties}
        )
    if not preview.totals:
        preview.totals.append(_("No user loses a role: every organisation concerned still has it covered."))
        return preview
    groups = list(
        loss.values("account__organisatie_id", "account__organisatie__naam", "rol_id", "rol__naam")
        .annotate(users=Count("account_id", distinct=True))
        .order_by("account__organisatie__naam", "account__organisatie_id", "rol__naam")[: PREVIEW_LINES + 1]
    )
    shown = groups[:PREVIEW_LINES]
    # A bounded sample of names per (organisation, rol): dense rank over the account, so a user
    # holding the rol on several kenmerken counts once.
    samples: dict[tuple[int, int], list[str]] = {}
    sample_rows = (
        loss.filter(account__organisatie_id__in={row["account__organisatie_id"] for row in shown})
        .annotate(
            rank=Window(
                DenseRank(),
                partition_by=[F("account__organisatie_id"), F("rol_id")],
                order_by=[F("account__name").asc(), F("account_id").asc()],
            )
        )
        .filter(rank__lte=SAMPLE_NAMES)
        .values_list("account__organisatie_id", "rol_id", "account_id", "account__name", "account__username")
        .order_by("account__organisatie_id", "rol_id", "account__name", "account_id")
    )
    seen = set()
    for organisatie_id, rol_id, account_id, name, username in sample_rows:
        if (organisatie_id, rol_id, account_id) in seen:
            continue
        seen.add((organisatie_id, rol_id, account_id))
        samples.setdefault((organisatie_id, rol_id), []).append(f"{name} ({username})")
    for row in shown:
        names = samples.get((row["account__organisatie_id"], row["rol_id"]), [])
        count = row["users"]
        text = ngettext(
            "%(organisatie)s: %(count)s user loses the role %(rol)s: %(names)s",
            "%(organisatie)s: %(count)s users lose the role %(rol)s: %(names)s",
            count,
        ) % {
            "organisatie": row["account__organisatie__naam"],
            "count": count,
            "rol": row["rol__naam"],
            "names": ", ".join(names),
        }
        if count > len(names):
            text += " " + _("and %(more)s more") % {"more": count - len(names)}
        preview.lines.append(text)
    if len(groups) > PREVIEW_LINES:
        rest = loss.values("account__organisatie_id", "rol_id").distinct().count() - PREVIEW_LINES
        preview.more = _("… and %(more)s more lines (organisation and role) not shown.") % {"more": rest}
    return preview


def rol_toekenningen_withdraw(
    *, toekenningen: QuerySet, reason_code: str, actor: Account | None = None, request=None, detail=None
) -> int:
    """Revoke the RolToekenningen ``toekenningen`` (a query) set-based; return how many.

    Each assignment is audited as a ``rol.revoke`` of its account (one multi-row INSERT per 5,000);
    the DUO services are told once per account, with only the rollen that account lost
    (``access_withdrawn``, grouped by that set of rollen: one signal per group, not per row), and
    their back-channel logouts are queued in this transaction and published after the commit. Runs in
    the caller's transaction; the rows are locked while read.
    """
    rows = list(
        toekenningen.select_for_update(of=("self",))
        .order_by("account_id", "pk")
        .values_list(
            "pk", "account_id", "rol_id", "rol__code", "kenmerk__waarde", "account__name", "account__username"
        )
    )
    if not rows:
        return 0
    lost: dict[int, set[int]] = {}
    for _pk, account_id, rol_id, *_rest in rows:
        lost.setdefault(account_id, set()).add(rol_id)
    by_rollen: dict[frozenset, list[int]] = {}
    for account_id, rol_ids in lost.items():
        by_rollen.setdefault(frozenset(rol_ids), []).append(account_id)
    for rol_ids, account_ids in by_rollen.items():
        access_withdrawn_send(account_ids=account_ids, rol_ids=rol_ids, reason=reason_code)
    label = Account._meta.label
    audit_log_bulk(
        action=AuditAction.ROL_REVOKE,
        actor=actor if actor is not None else getattr(request, "user", None),
        ip=client_ip(request) if request is not None else None,
        detail={"reason": reason_code, **(detail or {})},
        objects=[
            AuditObject(
                type=label,
                id=str(account_id),
                repr=f"{name} ({username})",
                detail={"rol_code": rol_code, "kenmerk": kenmerk},
            )
            for _pk, account_id, _rol_id, rol_code, kenmerk, name, username in rows
        ],
    )
    # A raw DELETE: the Collector would load every row again and send post_delete for each, whose
    # only receiver (diensten.signals) queues the logouts access_withdrawn has just queued — a query
    # per row for nothing. Nothing references a RolToekenning by foreign key (checked: models).
    using = router.db_for_write(RolToekenning)
    pks = [row[0] for row in rows]
    for start in range(0, len(pks), DELETE_CHUNK):
        RolToekenning.objects.filter(pk__in=pks[start : start + DELETE_CHUNK])._raw_delete(using)
    return len(rows)


def rol_coverage_withdraw(
    *, beheerautorisatie: Beheerautorisatie, rol_ids, reason: str, actor: Account | None = None, request=None
) -> int:
    """``beheerautorisatie`` no longer covers the rollen ``rol_ids`` (the helpdesk changed the
    catalogue, confirmed with ``reason``): revoke them where no other beheerautorisatie of the
    organisation covers them. Audited: one ``admin.change`` on the beheerautorisatie with the reason
    and the count, one ``rol.revoke`` per assignment naming the beheerautorisatie and the reason."""
    count = rol_toekenningen_withdraw(
        toekenningen=rol_coverage_loss(beheerautorisatie=beheerautorisatie, rol_ids=rol_ids),
        reason_code=REASON_CODE,
        actor=actor,
        request=request,
        detail={"beheerautorisatie_code": beheerautorisatie.code, "helpdesk_reason": reason},
    )
    audit_log(
        action=AuditAction.ADMIN_CHANGE,
        actor=actor,
        obj=beheerautorisatie,
        request=request,
        detail={
            "change": "action:rollen_removed",
            "reason": reason,
            "rol_ids": ",".join(str(pk) for pk in sorted(rol_ids)),
            "revoked": count,
        },
    )
    return count
