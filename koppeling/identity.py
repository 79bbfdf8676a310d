"""The eHerkenning identity of the current visitor, kept server-side in the session.

The SAML ACS stores it after a verified response (and cycles the session key); the koppel wizard
and the login routing read it. It is never taken from the browser in any other way.
"""

from dataclasses import asdict, dataclass

SESSION_KEY = "eherkenning_identity"
# Where an unlinked visitor was going when they logged in (say a DUO service's authorize request): the
# ACS keeps it, and the koppel wizard's last step continues there instead of to the overview.
KOPPEL_NEXT_SESSION_KEY = "koppel_next"

LEVELS = [
    "urn:etoegang:core:assurance-class:loa1",
    "urn:etoegang:core:assurance-class:loa2",
    "urn:etoegang:core:assurance-class:loa2plus",
    "urn:etoegang:core:assurance-class:loa3",
    "urn:etoegang:core:assurance-class:loa4",
]


def level_at_least(level: str, minimum: str) -> bool:
    """True when ``level`` is a known assurance class at or above ``minimum`` (unknown is never enough)."""
    return level in LEVELS and minimum in LEVELS and LEVELS.index(level) >= LEVELS.index(minimum)


@dataclass(frozen=True)
class EHerkenningIdentity:
    acting_subject_id: str  # urn:etoegang:core:ActingSubjectID — the person's pseudonym
    legal_subject_id: str  # urn:etoegang:core:LegalSubjectID — KvK-nummer (8) or RSIN (9)
    level: str  # the AuthnContextClassRef the broker returned
    intermediate_entity_id: str = ""  # urn:etoegang:1.9:IntermediateEntityID:KvKnr (ketenmachtiging)
    company_name: str = ""  # urn:etoegang:1.11:attribute-represented:CompanyName
    # The RSIN when the broker sent it beside the KvK-nummer (legal_subject_id is then the KvK-nummer).
    legal_subject_rsin: str = ""
    vestigingsnr: str = ""  # urn:etoegang:1.9:ServiceRestriction:Vestigingsnr (EHERKENNING_ACCEPT_VESTIGING)
    intermediate_company_name: str = ""  # urn:etoegang:1.13:attribute-intermediate:CompanyName

    @property
    def legal_subject_ids(self) -> tuple[str, ...]:
        """Every number the broker gave for the organisation: it matches on either (eherkenning.md §3)."""
        return tuple(number for number in (self.legal_subject_id, self.legal_subject_rsin) if number)

    @property
    def key(self) -> str:
        """A stable key for per-identity counters (lockout)."""
        return f"{self.legal_subject_id}:{self.acting_subject_id}"


def identity_store(request, identity: EHerkenningIdentity) -> None:
    request.session[SESSION_KEY] = asdict(identity)


def identity_from_session(request) -> EHerkenningIdentity | None:
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    try:
        return EHerkenningIdentity(**data)
    except TypeError:
        return None


def identity_clear(request) -> None:
    request.session.pop(SESSION_KEY, None)
