"""Format validators for the organisation numbers and kenmerk values of design.md §2."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _


def _regex_validator(pattern: str, message) -> RegexValidator:
    # RegexValidator is deconstructible, so migrations can refer to these validators.
    return RegexValidator(regex=rf"\A(?:{pattern})\Z", message=message, code="invalid")


# Instellingscode (formerly BRIN): two digits and two capital letters, e.g. 99XX.
validate_instellingscode = _regex_validator(
    r"[0-9]{2}[A-Z]{2}", _("An instellingscode has two digits and two capital letters, e.g. 12AB.")
)
# Vestigingscode: the instellingscode followed by two digits, e.g. 99XX00.
validate_vestigingscode = _regex_validator(
    r"[0-9]{2}[A-Z]{2}[0-9]{2}",
    _("A vestigingscode is an instellingscode followed by two digits, e.g. 12AB00."),
)
validate_bestuursnummer = _regex_validator(r"[0-9]{5}", _("A bestuursnummer has exactly 5 digits."))
validate_gemeentecode = _regex_validator(
    r"[0-9]{4}", _("A gemeentecode has exactly 4 digits, with leading zeros, e.g. 0363.")
)
validate_crediteurnummer = _regex_validator(r"[0-9]{5,10}", _("A crediteurnummer has 5 to 10 digits."))
validate_kvk_nummer = _regex_validator(r"[0-9]{8}", _("A KvK-nummer has exactly 8 digits."))
validate_rmc_regio = _regex_validator(r"[0-9]{1,2}", _("An RMC-regiocode is a number from 1 to 99."))
validate_postcode = _regex_validator(r"[1-9][0-9]{3} ?[A-Z]{2}", _("Enter a postcode like 1234 AB."))


def validate_rsin(value: str) -> None:
    """An RSIN has 9 digits and passes the elfproef (the same check as a BSN)."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{9}", value):
        raise ValidationError(_("An RSIN has exactly 9 digits."), code="invalid")
    total = sum(int(digit) * weight for digit, weight in zip(value[:8], range(9, 1, -1), strict=True))
    total -= int(value[8])
    if total % 11 != 0:
        raise ValidationError(_("This RSIN does not pass the elfproef."), code="invalid")


def validate_legal_subject_id(value: str) -> None:
    """A LegalSubjectID is a KvK-nummer (8 digits) or an RSIN (9 digits)."""
    if isinstance(value, str) and len(value) == 8:
        validate_kvk_nummer(value)
    else:
        validate_rsin(value)
