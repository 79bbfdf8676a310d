"""Access review screens: the beheerder keeps or revokes her users' roles, in bulk, once a year."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import RolToekenning

from . import review
from .models import AccessReview
from .views import beheerder_required

PER_PAGE = 50  # two fields a row: well within DATA_UPLOAD_MAX_NUMBER_FIELDS
SHOW_CHOICES = ("", "open")


def _bad_request(message: str) -> HttpResponse:
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


def _ids(values: list[str]) -> list[int] | None:
    if len(values) > PER_PAGE or not all(
        value.isascii() and value.isdigit() and len(value) <= 18 for value in values
    ):
        return None
    return [int(value) for value in values]


@beheerder_required
@require_http_methods(["GET", "POST"])
def access_review(request):
    show = request.GET.get("toon", "") if request.method == "GET" else request.POST.get("toon", "")
    if show not in SHOW_CHOICES:
        return _bad_request(_("Unknown choice for which roles to show."))
    if request.method == "POST":
        return _decide(request, show)
    current = review.access_review_open(organisatie=request.user.organisatie)
    rows = review.review_rows(beheerder=request.user, review=current, open_only=show == "open")
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    past = AccessReview.objects.filter(
        organisatie_id=request.user.organisatie_id, completed_at__isnull=False
    ).order_by("-completed_at")[:10]
    return render(
        request,
        "beheer/review/overzicht.html",
        {
            "review": current,
            "status": review.review_status(review=current),
            "progress": review.review_progress(beheerder=request.user, review=current),
            "page": page,
            "rows": list(page.object_list),
            "show": show,
            "past": past,
        },
    )


def _decide(request, show: str):
    """The review page's POST (``shown`` + ``besluit-<id>``) asks to confirm any revoke first; the
    confirmation page's POST (``keep`` / ``revoke`` + ``confirm``) records the decisions."""
    if request.POST.get("confirm") == "1":
        keep, revoke = _ids(request.POST.getlist("keep")), _ids(request.POST.getlist("revoke"))
        if keep is None or revoke is None:
            return _bad_request(_("The form was not filled in correctly. Reload the page and try again."))
    else:
        shown = _ids(request.POST.getlist("shown"))
        if shown is None:
            return _bad_request(_("The form was not filled in correctly. Reload the page and try again."))
        keep_rest = request.POST.get("action") == "keep_rest"
        keep, revoke = [], []
        for pk in shown:
            choice = request.POST.get(f"besluit-{pk}", "")
            if choice == "revoke":
                revoke.append(pk)
            elif choice == "keep" or (choice == "" and keep_rest):
                keep.append(pk)
            elif choice != "":
                return _bad_request(_("The form was not filled in correctly. Reload the page and try again."))
        if revoke:
            return _confirm(request, show, keep, revoke)
    try:
        review.review_decide(beheerder=request.user, keep_ids=keep, revoke_ids=revoke, request=request)
    except RolToekenning.DoesNotExist as error:
        raise Http404 from error
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect(_review_url(show))
    if keep:
        messages.success(
            request,
            ngettext("%(count)d role kept.", "%(count)d roles kept.", len(keep)) % {"count": len(keep)},
        )
    if revoke:
        messages.success(
            request,
            ngettext("%(count)d role revoked.", "%(count)d roles revoked.", len(revoke))
            % {"count": len(revoke)},
        )
    return redirect(_review_url(show))


def _review_url(show: str) -> str:
    url = reverse("beheer:access_review")
    return f"{url}?toon={show}" if show else url


def _confirm(request, show: str, keep: list[int], revoke: list[int]):
    """List who loses which role before anything is revoked (ids outside her reach: 404/403, audited)."""
    try:
        rows = review.review_check(beheerder=request.user, ids=set(revoke), request=request)
    except RolToekenning.DoesNotExist as error:
        raise Http404 from error
    return render(
        request,
        "beheer/review/bevestigen.html",
        {"keep": keep, "revoke": [rows[pk] for pk in revoke], "show": show},
    )


@beheerder_required
@require_GET
def access_review_detail(request, pk: int):
    """The record of one cycle: who kept or revoked which role, and when."""
    try:
        cycle = review.review_for_beheerder_get(beheerder=request.user, pk=pk)
    except AccessReview.DoesNotExist as error:
        raise Http404 from error
    return render(
        request,
        "beheer/review/verslag.html",
        {
            "review": cycle,
            "status": review.review_status(review=cycle, now=timezone.now()),
            "decisions": review.review_decisions(beheerder=request.user, review=cycle),
        },
    )
