"""Autorisatiebeheer screens: a beheerder manages the users of his own organisation.

Views only orchestrate: the decorator checks "is a beheerder" (403 otherwise), the selectors scope
every lookup to his organisation (404 for anyone else's ids), the services enforce the rules.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Account, RolToekenning

from . import selectors, services
from .export import gebruikersbestand_csv, gebruikersbestand_xlsx
from .forms import GebruikerForm, GebruikersFilterForm, KoppelingOngedaanForm, RolToekennenForm
from .letters import letter_download, letter_filename, letters_download


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
    form = GebruikersFilterForm(
        request.GET,
        rollen=selectors.rollen_in_organisatie(beheerder=request.user),
        kenmerken=selectors.kenmerken_for_beheerder(beheerder=request.user),
    )
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
    columns = [
        _sort_column(key, label, sort)
        for key, label in [
            ("name", _("Name")),
            ("username", _("Username")),
            ("status", _("Status")),
            ("last_login", _("Last login")),
        ]
    ]
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
        if hasattr(field, "queryset"):
            # list(), not ModelChoiceIterator: that reads through a server-side cursor (three round trips).
            choices = [("", field.empty_label)] + [
                (instance.pk, field.label_from_instance(instance)) for instance in list(field.queryset)
            ]
        else:
            choices = field.choices
        options = [(str(value), str(label), str(value) == current) for value, label in choices]
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
    form = GebruikerForm(request.POST if request.method == "POST" else None, initial={"language": "nl"})
    if request.method == "POST" and form.is_valid():
        try:
            account = services.gebruiker_register(
                beheerder=request.user, request=request, **form.cleaned_data
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(
                request,
                _("%(name)s is registered with username %(username)s. Download the letter and hand it over.")
                % {"name": account.name, "username": account.username},
            )
            return redirect("beheer:gebruiker", pk=account.pk)
    return render(
        request,
        "beheer/gebruiker_form.html",
        {"form": form, "title": _("Register a user")},
        status=_status(form),
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


XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@beheerder_required
@require_GET
def gebruikersbestand(request):
    """Her organisation's gebruikersbestand as CSV (streamed) or XLSX; nothing of anyone else's."""
    export_format = request.GET.get("format", "csv")
    if export_format not in ("csv", "xlsx"):
        return HttpResponse(
            _("Choose the format csv or xlsx."), status=400, content_type="text/plain; charset=utf-8"
        )
    filename = f"gebruikersbestand-{timezone.localdate():%Y-%m-%d}.{export_format}"
    if export_format == "csv":
        response = StreamingHttpResponse(
            gebruikersbestand_csv(beheerder=request.user), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    else:
        response = FileResponse(
            gebruikersbestand_xlsx(beheerder=request.user),
            as_attachment=True,
            filename=filename,
            content_type=XLSX_CONTENT_TYPE,
        )
    response["Cache-Control"] = "no-store"
    return response


# One page of the list at most (100 rows); DATA_UPLOAD_MAX_NUMBER_FIELDS refuses far longer queries anyway.
MAX_LETTERS = 100


@beheerder_required
@require_GET
def brieven(request):
    """The letters of the users selected in the list (``?id=…&id=…``) as one PDF, in list order."""
    raw = request.GET.getlist("id")
    if not raw or len(raw) > MAX_LETTERS or not all(value.isdigit() and len(value) <= 18 for value in raw):
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
