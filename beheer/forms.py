from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, Kenmerk, Rol
from koppeling.models import UnlinkReason

from .constants import BEHEERDER_UNLINK_REASONS, PAGE_SIZES, GebruikerStatus


class UtrechtFormMixin:
    """Give every widget the Utrecht classes and aria-invalid when its field has an error."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "utrecht-select")
            elif not isinstance(widget, forms.RadioSelect | forms.CheckboxInput):
                widget.attrs.setdefault("class", "utrecht-textbox")

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"
                self.fields[name].widget.attrs["aria-describedby"] = f"{name}-error"


class GebruikerForm(UtrechtFormMixin, forms.ModelForm):
    name = forms.CharField(label=_("Name"), max_length=200)
    job_title = forms.CharField(label=_("Job title"), max_length=200)
    email = forms.EmailField(
        label=_("E-mail address"),
        help_text=_("Only for e-mail about Mijn DUO Zakelijk, such as the activation code."),
    )
    phone = forms.CharField(label=_("Telephone"), max_length=32)
    language = forms.ChoiceField(
        label=_("Language of e-mails and the letter"), choices=[("nl", "Nederlands"), ("en", "English")]
    )

    class Meta:
        model = Account
        fields = ["name", "job_title", "email", "phone", "language"]


class RolToekennenForm(UtrechtFormMixin, forms.Form):
    """Offers only what the service will accept; the service checks again (forged posts)."""

    rol = forms.ModelChoiceField(label=_("Role"), queryset=Rol.objects.none(), empty_label=_("Choose a role"))
    kenmerk = forms.ModelChoiceField(
        label=_("Kenmerk"),
        queryset=Kenmerk.objects.none(),
        empty_label=_("Choose a kenmerk"),
        help_text=_("The kenmerk limits the role to this part of your organisation."),
    )

    def __init__(self, *args, rollen, kenmerken, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rol"].queryset = rollen
        self.fields["kenmerk"].queryset = kenmerken
        self.fields["rol"].label_from_instance = lambda rol: f"{rol.naam} — {rol.onderwerp}"
        self.fields["kenmerk"].label_from_instance = lambda kenmerk: (
            f"{kenmerk.type.naam} {kenmerk.waarde}"
            + (f" ({kenmerk.omschrijving})" if kenmerk.omschrijving else "")
        )


class KoppelingOngedaanForm(UtrechtFormMixin, forms.Form):
    reason = forms.TypedChoiceField(
        label=_("Reason"),
        choices=[(reason.value, reason.label) for reason in BEHEERDER_UNLINK_REASONS],
        coerce=UnlinkReason,
        widget=forms.RadioSelect,
    )


class ZoekForm(forms.Form):
    q = forms.CharField(
        label=_("Search by name, username or e-mail address"),
        required=False,
        max_length=200,
        error_messages={
            "max_length": _("The search term is too long: use at most %(limit_value)d characters."),
            "null_characters_not_allowed": _("The search term contains a character that is not allowed."),
        },
    )


class ReadChoiceField(forms.Field):
    """A ``ModelChoiceField`` over objects the view has read already: the list's filter options.

    Cleans as ``ModelChoiceField`` does (empty: None; a primary key among the objects: that object;
    anything else: its "invalid_choice" error), but looks the value up among the objects instead of
    asking the database again: the list reads its options anyway to show them, and each
    ``ModelChoiceField`` added a SELECT to every filtered page (bench P3). ``choices`` are the
    options as (value, label), the empty one first.
    """

    widget = forms.Select
    default_error_messages = forms.ModelChoiceField.default_error_messages

    def __init__(self, *, empty_label, **kwargs):
        super().__init__(**kwargs)
        self.empty_label = empty_label
        self.objects: dict = {}
        self.choices: list[tuple[str, str]] = [("", empty_label)]

    def set_objects(self, objects, label) -> None:
        """Offer ``objects`` (in their order), each shown as ``label(object)``."""
        self.objects = {instance.pk: instance for instance in objects}
        self.choices = [("", self.empty_label)] + [
            (str(pk), label(instance)) for pk, instance in self.objects.items()
        ]

    def to_python(self, value):
        if value in self.empty_values:
            return None
        ProhibitNullCharactersValidator()(value)
        try:
            return self.objects[int(value)]
        except (ValueError, TypeError, KeyError):
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value}
            ) from None


class GebruikersFilterForm(ZoekForm):
    """The user list's state, all of it in the URL (a GET form): search, filters, sort, page size.

    Unknown values are a Dutch 400, not a silently different list.
    """

    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All except removed")), *GebruikerStatus.choices],
    )
    rol = ReadChoiceField(label=_("Role"), required=False, empty_label=_("All roles"))
    kenmerk = ReadChoiceField(label=_("Kenmerk"), required=False, empty_label=_("All kenmerken"))
    sort = forms.ChoiceField(
        required=False,
        choices=[
            (f"{prefix}{key}", key)
            for key in ("name", "username", "status", "last_login")
            for prefix in ("", "-")
        ],
        widget=forms.HiddenInput,
    )
    per_page = forms.TypedChoiceField(
        label=_("Users per page"),
        required=False,
        coerce=int,
        empty_value=PAGE_SIZES[0],
        choices=[(size, str(size)) for size in PAGE_SIZES],
    )

    def __init__(self, *args, rollen, kenmerken, **kwargs):
        """``rollen`` and ``kenmerken``: the options, read once (the kenmerken with their type)."""
        super().__init__(*args, **kwargs)
        self.fields["rol"].set_objects(rollen, label=str)
        self.fields["kenmerk"].set_objects(
            kenmerken, label=lambda kenmerk: f"{kenmerk.type.naam} {kenmerk.waarde}"
        )
        for name in ("status", "rol", "kenmerk", "per_page"):
            self.fields[name].widget.attrs["class"] = "utrecht-select"

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-invalid"] = "true"
                self.fields[name].widget.attrs["aria-describedby"] = f"{name}-error"


ROLE_PAIRS_IN_FORM = 3


class GebruikerRollenForm(UtrechtFormMixin, forms.Form):
    """Up to three roles, each with its kenmerk, given with the registration (all optional).

    Offers only what she may hand out; a value outside that was forged and is audited by the view.
    """

    def __init__(self, *args, rollen, kenmerken, **kwargs):
        super().__init__(*args, **kwargs)
        for n in range(1, ROLE_PAIRS_IN_FORM + 1):
            rol = forms.ModelChoiceField(
                label=_("Role %(n)d") % {"n": n}, queryset=rollen, required=False, empty_label=_("No role")
            )
            rol.label_from_instance = lambda rol: f"{rol.naam} — {rol.onderwerp}"
            kenmerk = forms.ModelChoiceField(
                label=_("Kenmerk %(n)d") % {"n": n},
                queryset=kenmerken,
                required=False,
                empty_label=_("Choose a kenmerk"),
            )
            kenmerk.label_from_instance = lambda kenmerk: f"{kenmerk.type.naam} {kenmerk.waarde}"
            self.fields[f"rol_{n}"] = rol
            self.fields[f"kenmerk_{n}"] = kenmerk
        for field in self.fields.values():
            field.widget.attrs["class"] = "utrecht-select"

    def forged(self) -> list[tuple[str, str]]:
        """The (rol, kenmerk) values posted that the form never offered."""
        return [
            (self.data.get(f"rol_{n}", ""), self.data.get(f"kenmerk_{n}", ""))
            for n in range(1, ROLE_PAIRS_IN_FORM + 1)
            if self.has_error(f"rol_{n}", "invalid_choice")
            or self.has_error(f"kenmerk_{n}", "invalid_choice")
        ]

    def clean(self):
        cleaned = super().clean()
        for n in range(1, ROLE_PAIRS_IN_FORM + 1):
            rol, kenmerk = cleaned.get(f"rol_{n}"), cleaned.get(f"kenmerk_{n}")
            if rol and not kenmerk and f"kenmerk_{n}" not in self.errors:
                self.add_error(f"kenmerk_{n}", _("Choose the kenmerk for this role."))
            elif kenmerk and not rol and f"rol_{n}" not in self.errors:
                self.add_error(f"rol_{n}", _("Choose the role for this kenmerk."))
            elif rol and kenmerk and not rol.kenmerk_types.filter(pk=kenmerk.type_id).exists():
                self.add_error(
                    f"kenmerk_{n}",
                    _("The role %(rol)s cannot be scoped with a kenmerk of type %(type)s.")
                    % {"rol": rol.naam, "type": kenmerk.type.naam},
                )
        return cleaned

    def pairs(self) -> list:
        return [
            (self.cleaned_data[f"rol_{n}"], self.cleaned_data[f"kenmerk_{n}"])
            for n in range(1, ROLE_PAIRS_IN_FORM + 1)
            if self.cleaned_data.get(f"rol_{n}") and self.cleaned_data.get(f"kenmerk_{n}")
        ]


class GebruikersUploadForm(UtrechtFormMixin, forms.Form):
    file = forms.FileField(
        label=_("File with users (CSV or Excel)"),
        help_text=_("A .csv (UTF-8) or .xlsx file with the columns of the template, at most 1000 users."),
        error_messages={
            "required": _("Choose a file."),
            "empty": _("The file is empty."),
            "invalid": _("Choose a file."),
        },
    )


class GebruikersUploadConfirmForm(forms.Form):
    send_codes = forms.BooleanField(
        label=_("Also send the activation codes now"),
        required=False,
        help_text=_("Each user receives their own activation code by e-mail; it is valid for 24 hours."),
    )
