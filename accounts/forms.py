"""Forms of the user's portal: Mijn gegevens and the legacy token login."""

import re

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from .models import Account

PHONE_VALIDATOR = RegexValidator(
    re.compile(r"^\+?[0-9][0-9 ()\-]{5,30}$"),
    _("Enter a telephone number of digits, optionally with spaces, hyphens or a leading +."),
)


class TextInput(forms.TextInput):
    def __init__(self, attrs=None):
        super().__init__({"class": "utrecht-textbox", **(attrs or {})})


class MijnGegevensForm(forms.Form):
    """The user's own contact details (seed 002 §1.7); a new e-mail address needs confirmation."""

    name = forms.CharField(
        label=_("Name"), max_length=200, widget=TextInput({"autocomplete": "name"}), strip=True
    )
    job_title = forms.CharField(
        label=_("Job title"),
        max_length=200,
        required=False,
        widget=TextInput({"autocomplete": "organization-title"}),
    )
    phone = forms.CharField(
        label=_("Telephone"),
        max_length=32,
        required=False,
        validators=[PHONE_VALIDATOR],
        widget=TextInput({"autocomplete": "tel", "type": "tel"}),
    )
    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        help_text=_("A new address takes effect only after you follow the link we send to it."),
        widget=forms.EmailInput(attrs={"class": "utrecht-textbox", "autocomplete": "email"}),
    )

    @classmethod
    def for_account(cls, account: Account, data=None):
        return cls(
            data=data,
            initial={
                "name": account.name,
                "job_title": account.job_title,
                "phone": account.phone,
                "email": account.email,
            },
        )

    def clean_name(self):
        name = self.cleaned_data["name"]
        if not name:
            raise forms.ValidationError(_("Enter your name."))
        return name


class TokenLoginForm(forms.Form):
    """Username + password + the 6-digit code of the token generator (seed 001: until the switch date)."""

    username = forms.CharField(
        label=_("Username"),
        max_length=32,
        widget=TextInput({"autocomplete": "username", "autocapitalize": "characters", "spellcheck": "false"}),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"class": "utrecht-textbox", "autocomplete": "current-password"}),
    )
    otp_token = forms.CharField(
        label=_("Code from your token"),
        help_text=_("The 6 digits your token generator shows now."),
        max_length=8,
        validators=[RegexValidator(r"^[0-9]{6,8}$", _("The code consists of 6 digits."))],
        widget=TextInput({"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean_username(self):
        return self.cleaned_data["username"].strip().upper()
