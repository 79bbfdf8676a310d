"""Access review (BIO 9.2.5, the AVG's accountability): reads and writes.

Once per ``ACCESS_REVIEW_INTERVAL_DAYS`` the beheerders of an organisation decide, for every role of
its users, to keep or to revoke it. A beheerder reviews only the roles her own beheerautorisaties
cover, within her own organisation: she could not have given the others, so she cannot vouch for
them. A revoke goes through ``services.rol_revoke``, the one revoke path, so whatever hangs on it
(audit, back-channel logout) happens here too. Nothing is ever revoked for want of a decision: an
organisation past its due date and grace period is shown to the helpdesk as overdue, and the
helpdesk decides.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.audit import AuditObject, audit_log, audit_log_bulk
from accounts.constants import AuditAction, AuditResult
from accounts.email import email_queue
from accounts.models import Account, Organisatie, Rol, RolToekenning

from . import services
from .models import AccessReview, AccessReviewDecision

DUE_EMAIL_TEMPLATE = "beheer/email/access_review_due"
OVERDUE_EMAIL_TEMPLATE = "beheer/email/access_review_overdue"


class ReviewStatus(models.TextChoices):
    NOT_DUE = "not_due", gettext_lazy("not yet due")
    DUE = "due", gettext_lazy("due")
    OVERDUE = "overdue", gettext_lazy("overdue")
    COMPLETED = "completed", gettext_lazy("completed")


def _days(name: str) -> timedelta:
    return timedelta(days=getattr(settings, name))


def review_status(*, review: AccessReview, now: datetime | None = None) -> ReviewStatus:
    """Due from ``ACCESS_REVIEW_REMINDER_DAYS`` before the due date; overdue after the grace period."""
    now = now or timezone.now()
    if review.completed_at is not None:
        return ReviewStatus.COMPLETED
    if now >= review.due_at + _days("ACCESS_REVIEW_GRACE_DAYS"):
        return ReviewStatus.OVERDUE
    if now >= review.due_at - _days("ACCESS_REVIEW_REMINDER_DAYS"):
        return ReviewStatus.DUE
    return ReviewStatus.NOT_DUE


def _next_due_at(*, created_at: datetime, last_completed_at: datetime | None, now: datetime) -> datetime:
    """One interval after the last completed review, or after the organisation was registered.

    A first cycle is never due sooner than the reminder period from now: an organisation registered
    years before this feature existed gets its month's notice like everyone else.
    """
    if last_completed_at is not None:
        return last_completed_at + _days("ACCESS_REVIEW_INTERVAL_DAYS")
    return max(created_at + _days("ACCESS_REVIEW_INTERVAL_DAYS"), now + _days("ACCESS_REVIEW_REMINDER_DAYS"))


def access_review_open(*, organisatie: Organisatie, now: datetime | None = None) -> AccessReview:
    """The organisation's open cycle; start it when there is none (at most one open, by constraint)."""
    review = AccessReview.objects.filter(organisatie=organisatie, completed_at__isnull=True).first()
    if review is not None:
        return review
    now = now or timezone.now()
    last = (
        AccessReview.objects.filter(organisatie=organisatie, completed_at__isnull=False)
        .order_by("-completed_at")
        .values_list("completed_at", flat=True)
        .first()
    )
    due_at = _next_due_at(created_at=organisatie.created_at, last_completed_at=last, now=now)
    try:
        with transaction.atomic():
            return AccessReview.objects.create(organisatie=organisatie, started_at=now, due_at=due_at)
    except IntegrityError:  # started by a concurrent request
        return AccessReview.objects.get(organisatie=organisatie, completed_at__isnull=True)


def _organisaties_with_beheerders() -> QuerySet[Organisatie]:
    return Organisatie.objects.filter(
        Exists(
            Account.objects.filter(
                organisatie=OuterRef("pk"),
                is_active=True,
                removed_at__isnull=True,
                beheerautorisatie_toekenningen__isnull=False,
            )
        )
    )


def access_reviews_start(*, now: datetime | None = None) -> int:
    """Start the open cycle of every organisation with a beheerder that has none; return how many.

    Three queries whatever the number of organisations (the daily beat task runs this first).
    """
    now = now or timezone.now()
    last_completed = (
        AccessReview.objects.filter(organisatie=OuterRef("pk"), completed_at__isnull=False)
        .order_by("-completed_at")
        .values("completed_at")[:1]
    )
    organisaties = (
        _organisaties_with_beheerders()
        .exclude(Exists(AccessReview.objects.filter(organisatie=OuterRef("pk"), completed_at__isnull=True)))
        .annotate(last_completed_at=Subquery(last_completed))
        .values_list("pk", "created_at", "last_completed_at")
    )
    reviews = [
        AccessReview(
            organisatie_id=pk,
            started_at=now,
            due_at=_next_due_at(created_at=created_at, last_completed_at=last_completed_at, now=now),
        )
        for pk, created_at, last_completed_at in organisaties
    ]
    AccessReview.objects.bulk_create(reviews, ignore_conflicts=True)
    return len(reviews)


# --- What a beheerder reviews ---------------------------------------------------------------------


def _covered_rollen(*, beheerder: Account) -> QuerySet[Rol]:
    return Rol.objects.filter(beheerautorisaties__accounts=beheerder)


def _organisatie_toekenningen(*, organisatie_id: int) -> QuerySet[RolToekenning]:
    return RolToekenning.objects.filter(
        account__organisatie_id=organisatie_id, account__removed_at__isnull=True
    )


def review_toekenningen(*, beheerder: Account) -> QuerySet[RolToekenning]:
    """The role assignments she reviews: her organisation's, of roles her beheerautorisaties cover."""
    return _organisatie_toekenningen(organisatie_id=beheerder.organisatie_id).filter(
        rol__in=_covered_rollen(beheerder=beheerder)
    )


def _decision_of(review: AccessReview) -> QuerySet[AccessReviewDecision]:
    return AccessReviewDecision.objects.filter(review=review, toekenning_id=OuterRef("pk"))


def review_rows(
    *, beheerder: Account, review: AccessReview, open_only: bool = False
) -> QuerySet[RolToekenning]:
    """Her role assignments with this cycle's decision on each, in one query (any number of users)."""
    decision = _decision_of(review)
    rows = (
        review_toekenningen(beheerder=beheerder)
        .select_related("account", "rol", "kenmerk__type")
        .annotate(
            decision=Subquery(decision.values("decision")[:1]),
            decided_at=Subquery(decision.values("decided_at")[:1]),
            decided_by_name=Subquery(decision.values("decided_by__name")[:1]),
        )
        .order_by("account__name", "account_id", "rol__naam", "kenmerk__waarde", "pk")
    )
    if open_only:
        rows = rows.filter(decision__isnull=True)
    return rows


@dataclass(frozen=True)
class Progress:
    reviewed: int
    total: int

    @property
    def open(self) -> int:
        return self.total - self.reviewed

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else self.reviewed * 100 // self.total


def review_progress(*, beheerder: Account, review: AccessReview) -> Progress:
    """x of y of her roles reviewed; a role revoked in this cycle counts as reviewed (two queries)."""
    counts = review_toekenningen(beheerder=beheerder).aggregate(
        total=Count("pk"), kept=Count("pk", filter=Q(Exists(_decision_of(review))))
    )
    revoked = AccessReviewDecision.objects.filter(
        review=review,
        decision=AccessReviewDecision.Decision.REVOKE,
        rol__in=_covered_rollen(beheerder=beheerder),
    ).count()
    return Progress(reviewed=counts["kept"] + revoked, total=counts["total"] + revoked)


def _pending_count() -> Coalesce:
    """Subquery: the organisation's role assignments without a decision in the outer review."""
    pending = (
        RolToekenning.objects.filter(
            account__organisatie_id=OuterRef("organisatie_id"), account__removed_at__isnull=True
        )
        .exclude(
            Exists(
                AccessReviewDecision.objects.filter(
                    review_id=OuterRef(OuterRef("pk")), toekenning_id=OuterRef("pk")
                )
            )
        )
        .order_by()
        .values("account__organisatie_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(pending), Value(0))


def reviews_with_progress(queryset: QuerySet[AccessReview] | None = None) -> QuerySet[AccessReview]:
    """Cycles with ``pending`` (roles without a decision) and ``decided`` counts: the helpdesk's view."""
    queryset = AccessReview.objects.all() if queryset is None else queryset
    decided = (
        AccessReviewDecision.objects.filter(review=OuterRef("pk"))
        .order_by()
        .values("review")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return queryset.select_related("organisatie", "completed_by").annotate(
        pending=_pending_count(), decided=Coalesce(Subquery(decided), Value(0))
    )


def review_for_beheerder_get(*, beheerder: Account, pk: int) -> AccessReview:
    """A cycle of her own organisation (``DoesNotExist`` for anyone else's: 404)."""
    return AccessReview.objects.get(pk=pk, organisatie_id=beheerder.organisatie_id)


def review_decisions(*, beheerder: Account, review: AccessReview) -> QuerySet[AccessReviewDecision]:
    """The record of one cycle, limited to the roles her beheerautorisaties cover."""
    return (
        AccessReviewDecision.objects.filter(review=review, rol__in=_covered_rollen(beheerder=beheerder))
        .select_related("account", "decided_by")
        .order_by("account__name", "account_id", "rol_naam", "kenmerk_waarde", "pk")
    )


# --- Decisions ---------------------------------------------------------------------------------------


def _refuse(*, beheerder: Account, request: HttpRequest | None, error_code: str, ids, obj=None) -> None:
    audit_log(
        action=AuditAction.ACCESS_REVIEW_DECIDE,
        result=AuditResult.REFUSED,
        actor=beheerder,
        obj=obj,
        request=request,
        detail={"error_code": error_code, "toekenning_ids": ",".join(str(pk) for pk in sorted(ids))[:500]},
    )


def review_check(
    *, beheerder: Account, ids: set[int], request: HttpRequest | None = None
) -> dict[int, RolToekenning]:
    """Her role assignments with these ids, or an audited refusal.

    An id of another organisation's role (or of none) raises ``RolToekenning.DoesNotExist`` (404, as if
    it did not exist); a role her beheerautorisaties do not cover raises ``PermissionDenied``.
    """
    toekenningen = {
        toekenning.pk: toekenning
        for toekenning in _organisatie_toekenningen(organisatie_id=beheerder.organisatie_id)
        .filter(pk__in=ids)
        .select_related("account", "rol", "kenmerk__type")
    }
    missing = ids - toekenningen.keys()
    if missing:
        _refuse(beheerder=beheerder, request=request, error_code="not_in_organisation", ids=missing)
        raise RolToekenning.DoesNotExist
    covered = set(_covered_rollen(beheerder=beheerder).values_list("pk", flat=True))
    uncovered = {pk for pk, toekenning in toekenningen.items() if toekenning.rol_id not in covered}
    if uncovered:
        _refuse(beheerder=beheerder, request=request, error_code="rol_not_covered", ids=uncovered)
        raise PermissionDenied(_("Your beheerautorisaties do not cover every role you chose."))
    return toekenningen


def review_decide(
    *,
    beheerder: Account,
    keep_ids: list[int],
    revoke_ids: list[int],
    request: HttpRequest | None = None,
) -> AccessReview:
    """Record her decisions in the open cycle: keep these roles, revoke those; complete the cycle when
    every role of the organisation has a decision.

    All or nothing, and checked here whatever the screen offered: an id of another organisation's
    role (or no role) raises ``RolToekenning.DoesNotExist`` (404, as if it did not exist), a role her
    beheerautorisaties do not cover raises ``PermissionDenied``; both refusals are audited first.
    """
    organisatie = beheerder.organisatie
    if organisatie is None:
        raise PermissionDenied(_("Only a beheerder of an organisation can review access."))
    keep, revoke = set(keep_ids), set(revoke_ids)
    if keep & revoke:
        raise ValidationError(_("Choose either keep or revoke for each role, not both."))
    if not keep and not revoke:
        raise ValidationError(_("Choose keep or revoke for at least one role."))
    toekenningen = review_check(beheerder=beheerder, ids=keep | revoke, request=request)
    review = access_review_open(organisatie=organisatie)
    now = timezone.now()
    with transaction.atomic():
        for pk in sorted(revoke):
            services.rol_revoke(beheerder=beheerder, toekenning=toekenningen[pk], request=request)
        for decision, chosen in (
            (AccessReviewDecision.Decision.KEEP, keep),
            (AccessReviewDecision.Decision.REVOKE, revoke),
        ):
            if not chosen:
                continue
            rows = [(pk, toekenningen[pk]) for pk in sorted(chosen)]  # a revoked row's pk is None now
            AccessReviewDecision.objects.bulk_create(
                [
                    AccessReviewDecision(
                        review=review,
                        toekenning_id=pk,
                        account=toekenning.account,
                        rol=toekenning.rol,
                        kenmerk=toekenning.kenmerk,
                        rol_naam=toekenning.rol.naam,
                        kenmerk_waarde=f"{toekenning.kenmerk.type.naam} {toekenning.kenmerk.waarde}",
                        decision=decision,
                        decided_by=beheerder,
                        decided_at=now,
                    )
                    for pk, toekenning in rows
                ],
                update_conflicts=True,
                unique_fields=["review", "toekenning_id"],
                update_fields=["decision", "decided_by", "decided_at"],
            )
            audit_log_bulk(
                action=AuditAction.ACCESS_REVIEW_DECIDE,
                objects=[
                    AuditObject(type="accounts.RolToekenning", id=str(pk), repr=str(toekenning))
                    for pk, toekenning in rows
                ],
                actor=beheerder,
                ip=_client_ip(request),
                detail={"decision": decision.value, "review_id": review.pk},
            )
        _complete_if_done(review=review, by=beheerder, now=now, request=request)
    return review


def review_helpdesk_keep(
    *, review: AccessReview, helpdesk: Account, request: HttpRequest | None = None, reason: str = ""
) -> int:
    """The helpdesk's decision on an overdue cycle: keep every role nobody decided on, and close it.

    Only past the grace period: before that the roles are the beheerders' to review. A role the
    helpdesk finds should go is revoked in the account's admin page first (audited there); this
    records the rest as kept, by the helpdesk, so that the cycle closes and the next one starts.
    """
    now = timezone.now()
    if review.completed_at is not None or review_status(review=review, now=now) != ReviewStatus.OVERDUE:
        raise ValidationError(_("Only an overdue access review can be decided by the helpdesk."))
    with transaction.atomic():
        undecided = list(
            _organisatie_toekenningen(organisatie_id=review.organisatie_id)
            .exclude(pk__in=AccessReviewDecision.objects.filter(review=review).values("toekenning_id"))
            .select_related("account", "rol", "kenmerk__type")
        )
        AccessReviewDecision.objects.bulk_create(
            [
                AccessReviewDecision(
                    review=review,
                    toekenning_id=toekenning.pk,
                    account=toekenning.account,
                    rol=toekenning.rol,
                    kenmerk=toekenning.kenmerk,
                    rol_naam=toekenning.rol.naam,
                    kenmerk_waarde=f"{toekenning.kenmerk.type.naam} {toekenning.kenmerk.waarde}",
                    decision=AccessReviewDecision.Decision.KEEP,
                    decided_by=helpdesk,
                    decided_at=now,
                )
                for toekenning in undecided
            ],
            ignore_conflicts=True,
        )
        audit_log_bulk(
            action=AuditAction.ACCESS_REVIEW_DECIDE,
            objects=[
                AuditObject(type="accounts.RolToekenning", id=str(toekenning.pk), repr=str(toekenning))
                for toekenning in undecided
            ],
            actor=helpdesk,
            ip=_client_ip(request),
            detail={
                "decision": "keep",
                "review_id": review.pk,
                "by": "helpdesk",
                **({"reason": reason} if reason else {}),
            },
        )
        _complete_if_done(review=review, by=helpdesk, now=now, request=request)
    return len(undecided)


def _client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    from mijnduo.middleware import client_ip

    return client_ip(request)


def _complete_if_done(
    *, review: AccessReview, by: Account | None, now: datetime, request: HttpRequest | None = None
) -> bool:
    """Close the cycle once no role of the organisation lacks a decision; the next one starts then."""
    if (
        reviews_with_progress(AccessReview.objects.filter(pk=review.pk))
        .values_list("pending", flat=True)
        .get()
    ):
        return False
    closed = AccessReview.objects.filter(pk=review.pk, completed_at__isnull=True).update(
        completed_at=now, completed_by=by
    )
    if not closed:
        return False
    review.completed_at, review.completed_by = now, by
    audit_log(
        action=AuditAction.ACCESS_REVIEW_COMPLETE,
        actor=by,
        obj=review.organisatie,
        request=request,
        detail={"review_id": review.pk},
    )
    return True


# --- Reminders -----------------------------------------------------------------------------------


@dataclass
class ReminderRun:
    started: int = 0
    due: int = 0
    overdue: int = 0
    completed_empty: int = 0


def _beheerders(*, organisatie_id: int) -> QuerySet[Account]:
    return Account.objects.filter(
        organisatie_id=organisatie_id,
        is_active=True,
        removed_at__isnull=True,
        beheerautorisatie_toekenningen__isnull=False,
    ).distinct()


def access_review_reminders_send(*, now: datetime | None = None) -> ReminderRun:
    """Daily: start missing cycles, then mail each organisation's beheerders once per stage per cycle.

    Stage "due" from ``ACCESS_REVIEW_REMINDER_DAYS`` before the due date, stage "overdue" after the
    grace period. Each stage is claimed with a conditional UPDATE in the transaction that queues its
    mails through the outbox, so a rerun, a retry or a second beat sends nothing twice, and a crash
    sends nothing at all (the claim rolls back with the mails). An overdue cycle that never had its
    "due" mail (a late start) gets only the overdue one. A cycle in its due period with nothing left to
    review (an organisation without roles, or roles revoked elsewhere) is closed instead of mailed.
    """
    now = now or timezone.now()
    run = ReminderRun(started=access_reviews_start(now=now))
    reminder, grace = _days("ACCESS_REVIEW_REMINDER_DAYS"), _days("ACCESS_REVIEW_GRACE_DAYS")
    stages = [
        (
            "overdue",
            OVERDUE_EMAIL_TEMPLATE,
            Q(due_at__lte=now - grace, reminder_overdue_sent_at__isnull=True),
        ),
        ("due", DUE_EMAIL_TEMPLATE, Q(due_at__lte=now + reminder, reminder_due_sent_at__isnull=True)),
    ]
    for stage, template, condition in stages:
        for review in reviews_with_progress(
            AccessReview.objects.filter(condition, completed_at__isnull=True)
        ):
            with transaction.atomic():
                if review.pending == 0:
                    run.completed_empty += _complete_if_done(review=review, by=None, now=now)
                    continue
                unsent = AccessReview.objects.filter(pk=review.pk)
                if stage == "overdue":
                    claimed = unsent.filter(reminder_overdue_sent_at__isnull=True).update(
                        reminder_overdue_sent_at=now,
                        reminder_due_sent_at=Coalesce("reminder_due_sent_at", Value(now)),
                    )
                else:
                    claimed = unsent.filter(reminder_due_sent_at__isnull=True).update(
                        reminder_due_sent_at=now
                    )
                if not claimed:
                    continue
                recipients = _reminder_queue(review=review, template=template)
                audit_log(
                    action=AuditAction.ACCESS_REVIEW_REMINDER,
                    obj=review.organisatie,
                    detail={"stage": stage, "review_id": review.pk, "recipients": recipients},
                )
            setattr(run, stage, getattr(run, stage) + 1)
    return run


def _reminder_queue(*, review: AccessReview, template: str) -> int:
    due_date = timezone.localtime(review.due_at).date()
    count = 0
    for beheerder in _beheerders(organisatie_id=review.organisatie_id):
        email_queue(
            to=beheerder.email,
            template=template,
            language=beheerder.language,
            account=beheerder,
            context={
                "name": beheerder.name,
                "organisatie": review.organisatie.naam,
                "due_date": f"{due_date:%d-%m-%Y}",
                "pending": review.pending,
            },
        )
        count += 1
    return count
