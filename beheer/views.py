"""Autorisatiebeheer screens: a beheerder manages the users of his own organisation.

Views only orchestrate: the decorator checks "is a beheerder" (403 otherwise), the selectors scope
every lookup to his organisation (404 for anyone else's ids), the services enforce the rules.
"""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.audit import audit_log
from accounts.constants import AuditAction, AuditResult
from accounts.models import Account, RolToekenning

from . import bulk, selectors, services, uploads
from .export import XLSX_CONTENT_TYPE, gebruikersbestand_response
from .forms import (
    GebruikerForm,
    GebruikerRollenForm,
    GebruikersFilterForm,
    GebruikersUploadConfirmForm,
    GebruikersUploadForm,
    KoppelingOngedaanForm,
    RolToekennenForm,
)
from .letters import letter_download, letter_filename, letters_download
from .models import GebruikersUpload, GebruikersUploadStatus


def beheerder_required(view):
    """Anonymous → login; logged in without a beheerautorisatie → 403."""

    @wraps(view)
    @login_required
    @never_cache
    def wrapper(request, *args, **kwargs):
        if not selectors.beheerder_is(account=request.user):
            raise PermissionDenied(_("Only a beheerder has access to Autorisatiebeheer."))
        return view(request, *args, **kwargs)

    return wrapper


def _account_or_404(request, pk: int) -> Account:
    try:
        return selectors.account_for_beheerder_get(beheerder=request.user, pk=pk)
    except Account.DoesNotExist as error:
        raise Http404 from error


def _error_messages(error: ValidationError | PermissionDenied) -> list[str]:
    if isinstance(error, ValidationError):
        return error.messages
    return [str(error) or _("You are not allowed to do this.")]


def _refuse(request, error, pk: int, status: int = 400):
    """Show a refused action on the user's page with a Dutch message and a 4xx status."""
    for message in _error_messages(error):
        messages.error(request, message)
    response = gebruiker_detail_render(request, _account_or_404(request, pk))
    response.status_code = 403 if isinstance(error, PermissionDenied) else status
    return response


@beheerder_required
@require_GET
def gebruikers(request):
    # The filter options are read once: the form checks the filter against them and the page shows them.
    kenmerken = list(selectors.kenmerken_for_beheerder(beheerder=request.user))
    rollen = selectors.rollen_in_organisatie(
        beheerder=request.user, kenmerk_ids=[kenmerk.pk for kenmerk in kenmerken]
    )
    form = GebruikersFilterForm(request.GET, rollen=rollen, kenmerken=kenmerken)
    if not form.is_valid():
        # A search or filter the list cannot run is said so, never silently replaced by the first page.
        return render(
            request,
            "beheer/gebruikers.html",
            {"form": form, "search": "", "selects": _filter_selects(form)},
            status=400,
        )
    data = form.cleaned_data
    sort = data["sort"] or "name"
    filters = selectors.ListFilter(
        search=data["q"],
        status=data["status"],
        rol=data["rol"],
        kenmerk=data["kenmerk"],
        sort=sort.removeprefix("-"),
        descending=sort.startswith("-"),
    )
    page, accounts = selectors.accounts_list_page_for_beheerder(
        beheerder=request.user,
        filters=filters,
        page_number=request.GET.get("page"),
        per_page=data["per_page"],
    )
    # Each header's link: this list sorted by its column, from the first page (as the template's
    # {% querystring sort=… page=None %} wrote it).
    query = request.GET.copy()
    query.pop("page", None)
    columns = []
    for key, label in [
        ("name", _("Name")),
        ("username", _("Username")),
        ("status", _("Status")),
        ("last_login", _("Last login")),
    ]:
        column = _sort_column(key, label, sort)
        query["sort"] = column["next"]
        column["href"] = f"?{query.urlencode()}"
        columns.append(column)
    return render(
        request,
        "beheer/gebruikers.html",
        {
            "form": form,
            "search": data["q"],
            "page": page,
            "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
            "ellipsis": page.paginator.ELLIPSIS,
            "accounts": accounts,
            "columns": {column["key"]: column for column in columns},
            "selects": _filter_selects(form),
            "sort": sort,
            "selection_actions": list(SELECTION_ACTIONS.items()),
        },
    )


def _filter_selects(form: GebruikersFilterForm) -> list[dict]:
    """The filter form's selects as plain option lists.

    Rendered in the page's own loop rather than by Django's widget templates, which cost about
    7 ms per select: more than the whole list's queries (design.md §7 P3).
    """
    selects = []
    for name in ("status", "rol", "kenmerk", "per_page"):
        field = form.fields[name]
        current = str(form.data.get(name, "") or (field.empty_value if name == "per_page" else ""))
        options = [(str(value), str(label), str(value) == current) for value, label in field.choices]
        selects.append(
            {"name": name, "label": field.label, "options": options, "errors": form.errors.get(name)}
        )
    return selects


def _sort_column(key: str, label: str, sort: str) -> dict:
    """A sortable header: its aria-sort, and the sort its link asks for (the other direction if sorted)."""
    if sort == key:
        return {"key": key, "label": label, "aria_sort": "ascending", "next": f"-{key}"}
    if sort == f"-{key}":
        return {"key": key, "label": label, "aria_sort": "descending", "next": key}
    return {"key": key, "label": label, "aria_sort": "", "next": key}


@beheerder_required
@require_http_methods(["GET", "POST"])
def gebruiker_aanmelden(request):
    """Register one user, optionally with roles; "Aanmelden en nog een" comes back to an empty form."""
    data = request.POST if request.method == "POST" else None
    form = GebruikerForm(data, initial={"language": "nl"})
    rollen_form = GebruikerRollenForm(
        data,
        rollen=selectors.rollen_for_beheerder(beheerder=request.user),
        kenmerken=selectors.kenmerken_for_beheerder(beheerder=request.user),
    )
    if request.method == "POST":
        # The role selects offer only what she may hand out: anything else was forged, and is audited.
        for rol_value, kenmerk_value in rollen_form.forged():
            services.rol_assign_forged_refuse(
                beheerder=request.user,
                account=None,
                rol_value=rol_value,
                kenmerk_value=kenmerk_value,
                request=request,
            )
        forms_valid = all([rollen_form.is_valid(), form.is_valid()])
    if request.method == "POST" and forms_valid:
        try:
            account = bulk.gebruiker_register_with_rollen(
                beheerder=request.user, rollen=rollen_form.pairs(), request=request, **form.cleaned_data
            )
        except ValidationError as error:
            _add_errors(form, error)
        except PermissionDenied as error:
            form.add_error(None, _error_messages(error))
        else:
            messages.success(
                request,
                _("%(name)s is registered with username %(username)s. Download the letter and hand it over.")
                % {"name": account.name, "username": account.username},
            )
            if "nog_een" in request.POST:
                return redirect("beheer:gebruiker_aanmelden")
            return redirect("beheer:gebruiker", pk=account.pk)
    status = _status(form)
    if rollen_form.is_bound and rollen_form.errors:
        status = 400
    return render(
        request,
        "beheer/gebruiker_form.html",
        {"form": form, "rollen_form": rollen_form, "title": _("Register a user")},
        status=status,
    )


@beheerder_required
@require_GET
def gebruiker(request, pk: int):
    return gebruiker_detail_render(request, _account_or_404(request, pk))


def gebruiker_detail_render(request, account: Account, rol_form: RolToekennenForm | None = None, status=200):
    account = selectors.accounts_with_status(accounts=[account])[0]
    if rol_form is None:
        rol_form = _rol_form(request)
    return render(
        request,
        "beheer/gebruiker.html",
        {
            "account": account,
            "is_self": account.pk == request.user.pk,
            "code_info": selectors.activation_code_last(account=account),
            "rol_form": rol_form,
            "koppeling_form": KoppelingOngedaanForm(),
        },
        status=status,
    )


def _rol_form(request, data=None) -> RolToekennenForm:
    return RolToekennenForm(
        data,
        rollen=selectors.rollen_for_beheerder(beheerder=request.user),
        kenmerken=selectors.kenmerken_for_beheerder(beheerder=request.user),
    )


@beheerder_required
@require_http_methods(["GET", "POST"])
def gebruiker_wijzigen(request, pk: int):
    account = _account_or_404(request, pk)
    if account.removed_at is not None:
        return _refuse(request, ValidationError(_("This user has been removed.")), pk, status=409)
    form = GebruikerForm(
        request.POST if request.method == "POST" else None, instance=Account.objects.get(pk=account.pk)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.gebruiker_update(
                beheerder=request.user, account=account, request=request, **form.cleaned_data
            )
        except ValidationError as error:
            _add_errors(form, error)
        except PermissionDenied as error:
            return _refuse(request, error, pk)
        else:
            messages.success(request, _("The details have been saved."))
            return redirect("beheer:gebruiker", pk=account.pk)
    return render(
        request,
        "beheer/gebruiker_form.html",
        {"form": form, "account": account, "title": _("Change user")},
        status=_status(form),
    )


@beheerder_required
@require_POST
def rol_toekennen(request, pk: int):
    account = _account_or_404(request, pk)
    form = _rol_form(request, request.POST)
    if form.has_error("rol", "invalid_choice") or form.has_error("kenmerk", "invalid_choice"):
        # The form offers only what she may hand out: anything else was forged, and is audited.
        services.rol_assign_forged_refuse(
            beheerder=request.user,
            account=account,
            rol_value=request.POST.get("rol", ""),
            kenmerk_value=request.POST.get("kenmerk", ""),
            request=request,
        )
    elif form.is_valid():
        try:
            services.rol_assign(beheerder=request.user, account=account, request=request, **form.cleaned_data)
        except ValidationError as error:
            _add_errors(form, error)
        except PermissionDenied as error:
            return _refuse(request, error, pk)
        else:
            messages.success(request, _("The role has been assigned."))
            return redirect("beheer:gebruiker", pk=account.pk)
    return gebruiker_detail_render(request, account, rol_form=form, status=400)


@beheerder_required
@require_http_methods(["GET", "POST"])
def rol_intrekken(request, pk: int, toekenning_pk: int):
    """GET shows who loses which role with which kenmerk; only the POST revokes it."""
    account = _account_or_404(request, pk)
    toekenning = get_object_or_404(
        RolToekenning.objects.select_related("rol", "kenmerk__type", "account"),
        pk=toekenning_pk,
        account=account,
    )
    if request.method == "GET":
        return render(request, "beheer/rol_intrekken.html", {"account": account, "toekenning": toekenning})
    try:
        services.rol_revoke(beheerder=request.user, toekenning=toekenning, request=request)
    except (ValidationError, PermissionDenied) as error:
        return _refuse(request, error, pk)
    messages.success(request, _("The role has been revoked."))
    return redirect("beheer:gebruiker", pk=account.pk)


@beheerder_required
@require_POST
def activatiecode_versturen(request, pk: int):
    account = _account_or_404(request, pk)
    try:
        services.activation_code_request(beheerder=request.user, account=account, request=request)
    except (ValidationError, PermissionDenied) as error:
        return _refuse(request, error, pk, status=409)
    messages.success(
        request,
        _(
            "The activation code is being sent to %(email)s. It is valid for 24 hours. "
            "A code sent earlier no longer works."
        )
        % {"email": account.email},
    )
    return redirect("beheer:gebruiker", pk=account.pk)


@beheerder_required
@require_GET
def brief(request, pk: int):
    account = _account_or_404(request, pk)
    pdf = letter_download(beheerder=request.user, account=account, request=request)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{letter_filename(account=account)}"'
    return response


@beheerder_required
@require_http_methods(["GET", "POST"])
def koppeling_ongedaan_maken(request, pk: int):
    account = _account_or_404(request, pk)
    if account.pk == request.user.pk and request.method == "GET":
        messages.error(request, _("You cannot undo your own link: you would no longer be able to log in."))
        return gebruiker_detail_render(request, account, status=409)
    form = KoppelingOngedaanForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.koppeling_undo(
                beheerder=request.user, account=account, reason=form.cleaned_data["reason"], request=request
            )
        except (ValidationError, PermissionDenied) as error:
            return _refuse(request, error, pk, status=409)
        messages.success(request, _("The link has been undone. The user can link a new eHerkenning means."))
        return redirect("beheer:gebruiker", pk=account.pk)
    return render(
        request,
        "beheer/koppeling_ongedaan_maken.html",
        {"account": account, "form": form},
        status=_status(form),
    )


@beheerder_required
@require_http_methods(["GET", "POST"])
def gebruiker_verwijderen(request, pk: int):
    account = _account_or_404(request, pk)
    if request.method == "POST":
        try:
            services.gebruiker_remove(beheerder=request.user, account=account, request=request)
        except (ValidationError, PermissionDenied) as error:
            return _refuse(request, error, pk, status=409)
        messages.success(request, _("%(name)s has been removed.") % {"name": account.name})
        return redirect("beheer:gebruikers")
    return render(request, "beheer/gebruiker_verwijderen.html", {"account": account})


def _add_errors(form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _status(form) -> int:
    return 400 if form.is_bound and form.errors else 200


@beheerder_required
@require_GET
def gebruikersbestand(request):
    """Her organisation's gebruikersbestand as CSV (streamed) or XLSX; nothing of anyone else's."""
    export_format = request.GET.get("format", "csv")
    if export_format not in ("csv", "xlsx"):
        return HttpResponse(
            _("Choose the format csv or xlsx."), status=400, content_type="text/plain; charset=utf-8"
        )
    return gebruikersbestand_response(
        organisatie_id=request.user.organisatie_id, export_format=export_format, request=request
    )


# One page of the list at most (100 rows); DATA_UPLOAD_MAX_NUMBER_FIELDS refuses far longer queries anyway.
MAX_LETTERS = 100


@beheerder_required
@require_GET
def brieven(request):
    """The letters of the users selected in the list (``?id=…&id=…``) as one PDF, in list order."""
    raw = request.GET.getlist("id")
    if (
        not raw
        or len(raw) > MAX_LETTERS
        or not all(value.isascii() and value.isdigit() and len(value) <= 18 for value in raw)
    ):
        return HttpResponse(
            _("Select between 1 and %(max)s users to download their letters.") % {"max": MAX_LETTERS},
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    try:
        accounts = selectors.accounts_for_letters(beheerder=request.user, ids=[int(value) for value in raw])
    except Account.DoesNotExist as error:
        raise Http404 from error
    pdf = letters_download(beheerder=request.user, accounts=accounts, request=request)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="gebruikersnamen-{timezone.localdate():%Y-%m-%d}.pdf"'
    )
    return response


# --- issue 16 item 1: registering a file of users ------------------------------------------------


def _upload_or_404(request, upload_id) -> GebruikersUpload:
    try:
        return bulk.gebruikers_upload_get(beheerder=request.user, upload_id=upload_id, request=request)
    except GebruikersUpload.DoesNotExist as error:
        raise Http404 from error


def _upload_page(request, form, status=200):
    return render(
        request,
        "beheer/gebruikers_upload.html",
        {
            "form": form,
            "rollen": selectors.rollen_for_beheerder(beheerder=request.user),
            "kenmerken": selectors.kenmerken_for_beheerder(beheerder=request.user),
            "header": uploads.TEMPLATE_HEADER,
            "max_rows": uploads.MAX_ROWS,
        },
        status=status,
    )


@beheerder_required
@require_http_methods(["GET", "POST"])
def gebruikers_upload(request):
    """Upload a CSV or XLSX of users; a file that cannot be used is a Dutch 4xx, never a 500."""
    if request.method == "GET":
        return _upload_page(request, GebruikersUploadForm())
    form = GebruikersUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _upload_page(request, form, status=400)
    uploaded = form.cleaned_data["file"]
    try:
        parsed = uploads.upload_read(uploaded)
    except uploads.UploadError as error:
        if error.security:
            audit_log(
                action=AuditAction.BULK_UPLOAD,
                result=AuditResult.REFUSED,
                actor=request.user,
                request=request,
                detail={"reason_code": error.security, "filename": (uploaded.name or "")[:200]},
            )
        form.add_error("file", error.message)
        return _upload_page(request, form, status=error.status)
    upload = bulk.gebruikers_upload_create(
        beheerder=request.user, parsed=parsed, filename=uploaded.name or "", request=request
    )
    return redirect("beheer:gebruikers_upload_detail", upload_id=upload.pk)


@beheerder_required
@require_GET
def gebruikers_upload_voorbeeld(request):
    """The template to fill in: CSV (the header) or XLSX (the header, and what she may hand out)."""
    export_format = request.GET.get("format", "xlsx")
    if export_format == "csv":
        response = HttpResponse(uploads.template_csv(), content_type="text/csv; charset=utf-8")
    elif export_format == "xlsx":
        content = uploads.template_xlsx(
            rollen=selectors.rollen_for_beheerder(beheerder=request.user),
            kenmerken=selectors.kenmerken_for_beheerder(beheerder=request.user),
        )
        response = HttpResponse(content, content_type=XLSX_CONTENT_TYPE)
    else:
        return HttpResponse(
            _("Choose the format csv or xlsx."), status=400, content_type="text/plain; charset=utf-8"
        )
    response["Content-Disposition"] = f'attachment; filename="gebruikers-aanmelden.{export_format}"'
    return response


@beheerder_required
@require_http_methods(["GET", "POST"])
def gebruikers_upload_detail(request, upload_id):
    """The preview (per-row errors, then her confirmation), the progress while Celery works, the result."""
    upload = _upload_or_404(request, upload_id)
    running = upload.status in (GebruikersUploadStatus.QUEUED, GebruikersUploadStatus.RUNNING)
    if upload.expires_at <= timezone.now() and not running:  # a running file ends as done or failed first
        return render(request, "beheer/gebruikers_upload_verlopen.html", status=410)
    confirm_form = GebruikersUploadConfirmForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and confirm_form.is_valid():
        try:
            bulk.gebruikers_upload_confirm(
                beheerder=request.user,
                upload=upload,
                send_codes=confirm_form.cleaned_data["send_codes"],
                request=request,
            )
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            status = 409
        else:
            return redirect("beheer:gebruikers_upload_detail", upload_id=upload.pk)
        upload.refresh_from_db()
    rows = []
    for row in upload.rows:
        result = upload.results.get(str(row["line"]), {})
        rows.append({**row, "result": result})
    busy = upload.status in (GebruikersUploadStatus.QUEUED, GebruikersUploadStatus.RUNNING)
    registered_count = sum(1 for result in upload.results.values() if "account_id" in result)
    return render(
        request,
        "beheer/gebruikers_upload_detail.html",
        {
            "upload": upload,
            "rows": rows,
            "valid_count": upload.total,
            "invalid_count": len(upload.rows) - upload.total,
            "registered_count": registered_count,
            "not_registered_count": upload.total - registered_count,
            "busy": busy,
            # Its worker stopped: the page says so instead of counting on (the resume sweep takes it over).
            "stale": bulk.upload_is_stale(upload=upload),
            "stale_minutes": settings.GEBRUIKERS_UPLOAD_STALE_SECONDS // 60,
            # The run that found it stopped too often is not one that stopped.
            "stopped_count": max(upload.runs - 1, 0),
            "percent": int(100 * upload.processed / upload.total) if upload.total else 100,
            "confirm_form": confirm_form,
        },
        status=status,
    )


@beheerder_required
@require_GET
def gebruikers_upload_brieven(request, upload_id):
    """The letters of everyone the file registered, as one PDF in the order of the file."""
    upload = _upload_or_404(request, upload_id)
    try:
        accounts = bulk.upload_accounts(upload=upload)
    except Account.DoesNotExist as error:
        raise Http404 from error
    if not accounts:
        return HttpResponse(
            _("This file has not registered anyone (yet)."),
            status=409,
            content_type="text/plain; charset=utf-8",
        )
    pdf = letters_download(beheerder=request.user, accounts=accounts, request=request)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="gebruikersnamen-{timezone.localdate():%Y-%m-%d}.pdf"'
    )
    return response


# --- issue 16 item 2: actions on a selection in the list -----------------------------------------

SELECTION_ACTIONS = {
    bulk.SelectionAction.CODES: _lazy("Send activation codes"),
    bulk.SelectionAction.ASSIGN: _lazy("Assign a role"),
    bulk.SelectionAction.REVOKE: _lazy("Revoke a role"),
    bulk.SelectionAction.LETTERS: _lazy("Download the letters (one PDF)"),
    bulk.SelectionAction.REMOVE: _lazy("Remove"),
}
ROLE_ACTIONS = (bulk.SelectionAction.ASSIGN, bulk.SelectionAction.REVOKE)


def _selection_ids(values: list[str]) -> list[int] | None:
    if (
        not values
        or len(values) > MAX_LETTERS
        or not all(v.isascii() and v.isdigit() and len(v) <= 18 for v in values)
    ):
        return None
    return [int(value) for value in values]


@beheerder_required
@require_http_methods(["GET", "POST"])
def selectie(request):
    """A bulk action on the users selected in the list: a confirmation page (who and what), then the POST.

    Another organisation's id in the selection makes the whole request a 404 (audited): nothing is
    done to anyone. Each account is then handled by the one-account service, audited per account.
    """
    data = request.POST if request.method == "POST" else request.GET
    action = data.get("actie", "")
    ids = _selection_ids(data.getlist("id"))
    if action not in SELECTION_ACTIONS or ids is None:
        return HttpResponse(
            _("Select between 1 and %(max)s users and choose an action.") % {"max": MAX_LETTERS},
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    try:
        accounts = bulk.selection_accounts(beheerder=request.user, ids=ids, action=action, request=request)
    except Account.DoesNotExist as error:
        raise Http404 from error
    rol_form = None
    chosen = False
    if action in ROLE_ACTIONS:
        rol_form = _rol_form(request, data if ("rol" in data or "kenmerk" in data) else None)
        if rol_form.has_error("rol", "invalid_choice") or rol_form.has_error("kenmerk", "invalid_choice"):
            for account in accounts:
                services.rol_assign_forged_refuse(
                    beheerder=request.user,
                    account=account,
                    rol_value=data.get("rol", ""),
                    kenmerk_value=data.get("kenmerk", ""),
                    request=request,
                )
        chosen = rol_form.is_valid()
    context = {
        "accounts": accounts,
        "action": action,
        "action_label": SELECTION_ACTIONS[action],
        "rol_form": rol_form,
        "chosen": chosen,
        "ids": [account.pk for account in accounts],
    }
    if (
        request.method == "GET"
        or action == bulk.SelectionAction.LETTERS
        or (rol_form is not None and not chosen)
    ):
        status = (
            400
            if (rol_form is not None and not chosen and (rol_form.is_bound or request.method == "POST"))
            else 200
        )
        if request.method == "POST" and action == bulk.SelectionAction.LETTERS:
            status = 405
        return render(request, "beheer/selectie.html", context, status=status)
    rol = rol_form.cleaned_data["rol"] if chosen else None
    kenmerk = rol_form.cleaned_data["kenmerk"] if chosen else None
    outcome = bulk.selection_apply(
        beheerder=request.user, accounts=accounts, action=action, rol=rol, kenmerk=kenmerk, request=request
    )
    if outcome.done:
        messages.success(
            request,
            ngettext(
                "%(action)s: done for %(count)d user.",
                "%(action)s: done for %(count)d users.",
                len(outcome.done),
            )
            % {"action": SELECTION_ACTIONS[action], "count": len(outcome.done)},
        )
    for account, reason in outcome.refused:
        messages.error(request, _("Not for %(name)s: %(reason)s") % {"name": account.name, "reason": reason})
    return redirect("beheer:gebruikers")
