"""Forms of the koppel wizard (seed 002 §1.2, steps 1b–5)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from . import codes
from .services import MAX_USERNAME_LENGTH

HAS_CODE = "yes"
NO_CODE = "no"


class StartForm(forms.Form):
    situation = forms.ChoiceField(
        label=_("My situation"),
        choices=[
            (HAS_CODE, _("I have a username and a valid activation code")),
            (NO_CODE, _("I do not have a username and/or a (valid) activation code")),
        ],
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose your situation."),
            "invalid_choice": _("Choose your situation."),
        },
    )


class AcceptForm(forms.Form):
    accept = forms.BooleanField(
        label=_("I have read the information above and I accept it"),
        error_messages={
            "required": _("Tick the box to confirm that you have read and accept the information.")
        },
    )


class KoppelForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        help_text=_("You find your username in the letter"),
        max_length=MAX_USERNAME_LENGTH,
        error_messages={
            "required": _("Fill in your username."),
            "max_length": _("This is not a username: a username has 8 characters."),
        },
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )
    activation_code = forms.CharField(
        label=_("Activation code"),
        help_text=_("You find your activation code in the e-mail"),
        max_length=64,
        strip=True,
        error_messages={
            "required": _("Fill in your activation code."),
            "max_length": _("An activation code has 12 letters and digits, like ABCD-EFGH-JKMN."),
        },
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )

    def clean_activation_code(self):
        canonical = codes.code_normalise(self.cleaned_data["activation_code"])
        if canonical is None:
            raise forms.ValidationError(
                _("An activation code has 12 letters and digits, like ABCD-EFGH-JKMN."), code="format"
            )
        return canonical
