from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.demo import PERSONAS
from accounts.validators import validate_legal_subject_id

from .idp import LEVEL_CHOICES

OWN = "own"


class BrokerLoginForm(forms.Form):
    """The tester's choice: level, persona (or own pseudonym + KvK-nummer), encryption."""

    level = forms.ChoiceField(
        label=_("Choose how you want to log in"),
        choices=LEVEL_CHOICES,
        initial="urn:etoegang:core:assurance-class:loa3",
        widget=forms.RadioSelect,
    )
    persona = forms.ChoiceField(
        label=_("Log in as"),
        choices=[(p.key, p.label) for p in PERSONAS]
        + [(OWN, _("Someone else: enter a pseudonym and KvK-nummer"))],
        initial=PERSONAS[0].key if PERSONAS else OWN,
        widget=forms.RadioSelect,
    )
    acting_subject_id = forms.CharField(
        label=_("Pseudonym (ActingSubjectID)"), required=False, max_length=255, strip=True
    )
    legal_subject_id = forms.CharField(
        label=_("KvK-nummer or RSIN (LegalSubjectID)"), required=False, max_length=9, strip=True
    )
    encrypt = forms.BooleanField(label=_("Encrypt the assertion"), required=False)
    # How the browser carries the artifact back (a real broker may do either; the ACS takes both).
    artifact_method = forms.ChoiceField(
        label=_("Send the artifact back"),
        choices=[("get", _("by redirect (GET)")), ("post", _("by form (POST)"))],
        initial="get",
        required=False,
        widget=forms.RadioSelect,
    )

    def clean(self):
        data = super().clean()
        if data.get("persona") == OWN:
            if not data.get("acting_subject_id"):
                self.add_error("acting_subject_id", _("Enter a pseudonym."))
            legal = data.get("legal_subject_id") or ""
            try:
                validate_legal_subject_id(legal)
            except ValidationError:
                self.add_error(
                    "legal_subject_id", _("Enter a KvK-nummer of 8 digits or an RSIN of 9 digits.")
                )
        return data

    def identity(self) -> tuple[str, str]:
        """(ActingSubjectID, LegalSubjectID) for the chosen persona."""
        key = self.cleaned_data["persona"]
        if key == OWN:
            return self.cleaned_data["acting_subject_id"], self.cleaned_data["legal_subject_id"]
        persona = next(p for p in PERSONAS if p.key == key)
        return persona.acting_subject_id, persona.legal_subject_id

    def machtiging_details(self) -> dict[str, str]:
        """What the chosen persona's machtiging adds: an intermediary (ketenmachtiging), a Vestigingsnr."""
        persona = next((p for p in PERSONAS if p.key == self.cleaned_data["persona"]), None)
        if persona is None:
            return {}
        return {
            "intermediate_entity_id": getattr(persona, "intermediate_entity_id", ""),
            "vestigingsnr": getattr(persona, "vestigingsnr", ""),
        }
