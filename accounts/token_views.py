"""The token user's forced password change at the first login with a temporary password."""

from django import forms
from django.contrib.auth.forms import SetPasswordForm
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from .token_login import TokenOutcome, token_password_change_complete, token_password_change_pending


def password_change_redirect(*, next_url: str):
    url = reverse("token_password_change")
    return redirect(f"{url}?{urlencode({'next': next_url})}" if next_url else url)


class TokenPasswordChangeForm(SetPasswordForm):
    """Django's password rules, and never the temporary password the helpdesk knows."""

    def __init__(self, user, *args, **kwargs):
        super().__init__(user, *args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "utrecht-textbox"

    def clean_new_password1(self):
        password = self.cleaned_data["new_password1"]
        if self.user.check_password(password):
            raise forms.ValidationError(_("Choose a password other than the temporary one."))
        return password

    def save(self, commit=True):
        # SetPasswordForm.save() would store the password outside the audited service, which also
        # re-checks the switch rules and logs the user in: token_password_change_complete stores it.
        raise TypeError("use accounts.token_login.token_password_change_complete, not the form's save()")


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def token_password_change(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    pending = token_password_change_pending(request=request)
    if pending is None:
        return render(request, "accounts/token_password_change_expired.html", status=400)
    account, device = pending
    status = 200
    if request.method == "POST":
        form = TokenPasswordChangeForm(account, request.POST)
        if form.is_valid():
            result = token_password_change_complete(
                request=request,
                account=account,
                device=device,
                new_password=form.cleaned_data["new_password1"],
            )
            if result.outcome is TokenOutcome.OK:
                return redirect(next_url or "overzicht")
            return render(
                request,
                "accounts/token_login.html",
                {"form": None, "refusal": result, "next": ""},
                status=403,
            )
        status = 400
    else:
        form = TokenPasswordChangeForm(account)
    return render(
        request,
        "accounts/token_password_change.html",
        {"form": form, "next": next_url, "account": account},
        status=status,
    )
