"""eHerkenning service-provider views on djangosaml2 + pysaml2 (design.md §4).

Login, metadata and the logout endpoints are djangosaml2's views with our configuration; the ACS
is our own, because every refusal must be audited with its reason and shown as a Dutch page with
a 4xx status, and because of the checks pysaml2 does not make (checks.py).
"""

import base64
import logging

import saml2
from django.conf import settings
from django.contrib import auth
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from djangosaml2 import views as djangosaml2_views
from djangosaml2.cache import IdentityCache, OutstandingQueriesCache, StateCache
from djangosaml2.overrides import Saml2Client
from saml2.client_base import LogoutError
from saml2.response import StatusError, UnsolicitedResponse
from saml2.s_utils import UnsupportedBinding
from saml2.sigver import CertificateError, MissingKey, SignatureError, SigverError, pem_format
from saml2.validate import ResponseLifetimeExceed, ToEarly

from accounts.audit import audit_log
from accounts.constants import AuditAction, AuditResult
from koppeling.backends import EHERKENNING_BACKEND
from koppeling.identity import KOPPEL_NEXT_SESSION_KEY, EHerkenningIdentity, identity_store

from . import checks
from .artifact import (
    ArtifactResolveError,
    artifact_parse,
    artifact_resolve,
    artifact_use,
    broker_for_artifact,
)
from .checks import SamlRefusedError
from .config import sp_config_load, sp_keypairs
from .crypto import WeakSignatureAlgorithmError
from .identifiers import decryption_keys, identity_from_assertion
from .login import authn_request_redirect
from .metadata import sp_metadata_xml
from .replay import assertion_use
from .services import account_may_log_in, koppeling_for_identity, login_record

logger = logging.getLogger(__name__)

OVERVIEW_URL = "/overzicht/"


def _acs_url() -> str:
    return f"{settings.SITE_URL}/saml2/acs/"


def _koppel_start_url() -> str:
    try:
        return reverse("koppeling:start")
    except NoReverseMatch:
        return "/koppelen/"


def safe_next(request, url: str | None) -> str:
    """``next``/RelayState only to this site; anything else goes to the overview."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return OVERVIEW_URL


@method_decorator(never_cache, name="dispatch")
class LoginView(djangosaml2_views.LoginView):
    """Send the visitor to the one broker with the AuthnRequest eHerkenning 1.13 wants (login.py):
    signed, ForceAuthn, the Artifact ACS, AttributeConsumingServiceIndex, loa3 "minimum", a fresh
    160-bit ID and RelayState within 80 bytes. Replaces djangosaml2's get(): no WAYF, discovery,
    ?idp=, ?scoping= or RelayState-as-next — the visitor chooses nothing but ``next`` on this site."""

    def get(self, request, *args, **kwargs):
        next_url = safe_next(request, request.GET.get("next"))
        if request.user.is_authenticated:
            return HttpResponseRedirect(next_url)
        return authn_request_redirect(request, conf=self.get_sp_config(request), next_url=next_url)


class MetadataView(djangosaml2_views.MetadataView):
    def get(self, request, *args, **kwargs):
        return HttpResponse(sp_metadata_xml().encode("utf-8"), content_type="text/xml; charset=utf-8")


# ---------------------------------------------------------------------------------------------
# Refusals


def refusal_render(request, *, reason: str, status: int) -> HttpResponse:
    """Audit one refused response (reason code only, never the response) and show a Dutch page."""
    audit_log(
        action=AuditAction.SAML_FAILED,
        result=AuditResult.REFUSED,
        request=request,
        detail={"reason_code": reason},
    )
    if reason == "level_too_low":
        return render(request, "koppeling/saml_level_too_low.html", status=status)
    kind = _refusal_kind(reason)
    return render(request, "koppeling/saml_error.html", {"kind": kind}, status=status)


def _refusal_kind(reason: str) -> str:
    if reason.startswith("artifact_resolve_") and reason != "artifact_resolve_empty":
        return "unreachable"
    if reason in {"artifact_replay", "artifact_resolve_empty"}:
        return "replay"
    if reason == "vestiging_not_accepted":
        return "vestiging"
    if reason == "too_large":
        return "too_large"
    if reason in {"expired", "not_yet_valid"}:
        return "expired"
    if reason in {"replay", "unsolicited"}:
        return "replay"
    if reason == "service_id_mismatch" or reason == f"missing:{checks.ATTR_SERVICE_ID}":
        return "service"
    if reason == "idp_status":
        return "cancelled"
    if reason == "account_inactive":
        return "account_inactive"
    return "invalid"


def _classify(error: Exception) -> tuple[str, int]:
    """Map a pysaml2 exception to an audit reason code."""
    if isinstance(error, UnsolicitedResponse):
        return "unsolicited", 400
    if isinstance(error, ResponseLifetimeExceed):
        return "expired", 400
    if isinstance(error, ToEarly):
        return "not_yet_valid", 400
    if isinstance(error, StatusError):
        return "idp_status", 400
    if isinstance(error, MissingKey):
        return "untrusted_issuer", 403
    if isinstance(error, CertificateError):
        return "untrusted_certificate", 403
    if isinstance(error, WeakSignatureAlgorithmError):
        # The in-process backend refuses SHA-1 inside an encrypted assertion before verifying.
        return "weak_signature_algorithm", 400
    if isinstance(error, SignatureError | SigverError):
        return "signature_invalid", 403
    message = str(error)
    if "AudienceRestrictions" in message:
        return "wrong_audience", 403
    if "recipient" in message.lower():
        return "wrong_recipient", 403
    return "invalid_response", 400


def _signed_by_unknown_certificate(*, conf, xml: bytes) -> bool:
    """True when the response carries a certificate that is not the broker's from metadata."""
    embedded = checks.embedded_certificates(xml=xml)
    if not embedded:
        return False
    trusted = set()
    for entity_id in conf.metadata.identity_providers():
        for _name, cert in conf.metadata.certs(entity_id, "idpsso", "signing"):
            trusted.add("".join(cert.split()))
    return bool(embedded - trusted)


# ---------------------------------------------------------------------------------------------
# Assertion consumer service


@method_decorator(
    [csrf_exempt, never_cache, sensitive_post_parameters("SAMLResponse", "SAMLart")], name="dispatch"
)
class AssertionConsumerServiceView(djangosaml2_views.AssertionConsumerServiceView):
    """Verify the broker's response, apply our checks, and log in or route to the koppel wizard.

    The response arrives by artifact (``SAMLart`` by GET — the broker's 302 — or by POST: a real
    eHerkenning broker's only binding, eherkenning.md §2), which we resolve at the broker over
    mutual TLS (artifact.py), or, when EHERKENNING_RESPONSE_BINDINGS lists ``post``, as a
    ``SAMLResponse`` posted by the browser. Both then take the same verification path.
    """

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        if "SAMLart" not in request.GET:
            # A reload or a bookmark of the ACS: nothing to verify. Audited like any refusal, and a
            # page that says what this address is for and how to log in.
            audit_log(
                action=AuditAction.SAML_FAILED,
                result=AuditResult.REFUSED,
                request=request,
                detail={"reason_code": "missing_response"},
            )
            return render(request, "koppeling/saml_acs_direct.html", status=400)
        return self.artifact_receive(request, samlart=request.GET["SAMLart"])

    def post(self, request, *args, **kwargs):
        try:
            data = request.POST
            samlart = data.get("SAMLart")
            posted = data.get("SAMLResponse")
        except RequestDataTooBig:
            return refusal_render(request, reason="too_large", status=413)
        if samlart is not None:
            return self.artifact_receive(request, samlart=samlart)
        if "post" not in settings.EHERKENNING_RESPONSE_BINDINGS:
            return refusal_render(request, reason="binding_not_accepted", status=400)
        return self.response_receive(request, posted=posted or "")

    def artifact_receive(self, request, *, samlart: str):
        """Resolve the artifact at the broker that issued it, then verify the Response it gives."""
        if "artifact" not in settings.EHERKENNING_RESPONSE_BINDINGS:
            return refusal_render(request, reason="binding_not_accepted", status=400)
        conf = self.get_sp_config(request)
        try:
            parsed = artifact_parse(samlart)
            _entity_id, location = broker_for_artifact(conf=conf, artifact=parsed)
            # Outside the login's transaction: no database lock is held while the broker answers
            # (in `make run` the broker is this very process, on SQLite).
            xml = artifact_resolve(conf=conf, artifact_b64=samlart, destination=location)
        except SamlRefusedError as refusal:
            return refusal_render(request, reason=refusal.reason, status=refusal.status)
        except ArtifactResolveError as failure:
            logger.warning("eHerkenning artifact resolution failed: %s", failure.kind)
            return refusal_render(request, reason=failure.reason, status=failure.status)
        encoded = base64.b64encode(xml).decode("ascii")
        return self.response_receive(request, posted=encoded, samlart=samlart)

    def response_receive(self, request, *, posted: str, samlart: str | None = None):
        try:
            # One transaction for the replay records, the login and its audit row: one commit (one
            # WAL flush) instead of one per write, the larger part of the ACS time after the
            # signature check (design.md §7 P1). The replay INSERT keeps its own savepoint
            # (replay.py); a second worker with the same assertion waits for this commit and is
            # then refused.
            with transaction.atomic():
                if samlart is not None:
                    artifact_use(artifact_b64=samlart, now=timezone.now())
                identity, session_info, came_from = self.response_verify(
                    request,
                    posted=posted,
                    binding=saml2.BINDING_HTTP_POST if samlart is None else saml2.BINDING_HTTP_ARTIFACT,
                )
                return self.login_complete(
                    request, identity=identity, session_info=session_info, came_from=came_from
                )
        except SamlRefusedError as refusal:
            return refusal_render(request, reason=refusal.reason, status=refusal.status)

    def response_verify(
        self, request, *, posted: str, binding: str = saml2.BINDING_HTTP_POST
    ) -> tuple[EHerkenningIdentity, dict, str | None]:
        now = timezone.now()
        raw = checks.response_decode(saml_response=posted, max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        checks.response_precheck(xml=raw, acs_url=_acs_url())

        conf = self.get_sp_config(request)
        # SAML state is in request.saml_session (its own cookie, SameSite=None in production), because
        # the browser does not send the Lax login-session cookie on the broker's cross-site POST.
        client = Saml2Client(conf, identity_cache=IdentityCache(request.saml_session))
        self._saml_client = client  # reused by _remember_for_logout (a view instance per request)
        oq_cache = OutstandingQueriesCache(request.saml_session)
        outstanding = oq_cache.outstanding_queries()
        try:
            # The binding the response came by: pysaml2 accepts its Destination only when it is our ACS
            # for that binding (with HTTP-Artifact alone, as in production and `make run`, there is no
            # HTTP-POST ACS). ``posted`` is base64 either way.
            response = client.parse_authn_request_response(posted, binding, outstanding)
        except SamlRefusedError:
            raise
        except Exception as error:  # noqa: BLE001  (every pysaml2 failure is a refusal, never a 500)
            reason, status = _classify(error)
            if reason == "signature_invalid" and _signed_by_unknown_certificate(conf=conf, xml=raw):
                reason = "untrusted_certificate"
            logger.info("eHerkenning response refused: %s (%s)", reason, type(error).__name__)
            raise SamlRefusedError(reason, status=status) from error
        if response is None or response.assertion is None:
            raise SamlRefusedError("invalid_response")
        if len(response.assertions) != 1:
            raise SamlRefusedError("assertion_count")

        assertion = response.assertion
        checks.assertion_check_signature(assertion=assertion)
        level = checks.assertion_level(assertion=assertion, minimum=settings.EHERKENNING_MIN_LEVEL)
        # The identity from the assertion whose signature pysaml2 just verified, read from the
        # verified document (after decryption of an EncryptedAssertion) and never from Advice:
        # pysaml2's response.ava merges the Advice's attribute statements in (identifiers.py).
        identity = identity_from_assertion(
            assertion=checks.verified_assertion_element(xml=response.xmlstr, assertion_id=assertion.id),
            level=level,
            service_id=settings.EHERKENNING_SERVICE_ID,
            keys=decryption_keys(sp_keypairs()),
            recipient=settings.EHERKENNING_SP_ENTITY_ID,
            plain_allowed=settings.EHERKENNING_PLAIN_IDENTIFIERS,
            accept_vestiging=settings.EHERKENNING_ACCEPT_VESTIGING,
        )
        assertion_use(
            assertion_id=assertion.id,
            not_on_or_after=checks.assertion_expiry(
                assertion=assertion,
                now=now,
                skew=timezone.timedelta(seconds=settings.EHERKENNING_CLOCK_SKEW_SECONDS),
            ),
            now=now,
        )
        came_from = outstanding.get(response.in_response_to)
        oq_cache.delete(response.in_response_to)
        oq_cache.sync()
        return identity, response.session_info(), came_from

    def login_complete(self, request, *, identity: EHerkenningIdentity, session_info: dict, came_from):
        """Start a fresh session for the verified identity; log in a linked, active account."""
        now = timezone.now()
        koppeling = koppeling_for_identity(identity=identity)
        if koppeling is not None and not account_may_log_in(account=koppeling.account):
            if request.user.is_authenticated:
                auth.logout(request)
            return refusal_render(request, reason="account_inactive", status=403)

        if koppeling is not None:
            # login() flushes the session when another account was logged in, and cycles the key.
            auth.login(request, koppeling.account, backend=EHERKENNING_BACKEND)
            login_record(koppeling=koppeling, now=now)
        elif request.user.is_authenticated:
            auth.logout(request)  # flushes the session: a new key
        else:
            request.session.cycle_key()
        identity_store(request, identity)
        self._remember_for_logout(request, session_info)
        audit_log(
            action=AuditAction.SAML_LOGIN,
            result=AuditResult.SUCCESS,
            actor=koppeling.account if koppeling else None,
            obj=koppeling,
            request=request,
            detail={
                "level": identity.level,
                "legal_subject_id": identity.legal_subject_id,
                "linked": koppeling is not None,
            },
        )
        if koppeling is None:
            # Where the visitor was going (a DUO service's authorize request, say) once they have linked.
            destination = safe_next(request, came_from)
            if destination != OVERVIEW_URL:
                request.session[KOPPEL_NEXT_SESSION_KEY] = destination
            return HttpResponseRedirect(_koppel_start_url())
        return HttpResponseRedirect(safe_next(request, came_from))

    def _remember_for_logout(self, request, session_info: dict) -> None:
        """Keep what single logout needs (NameID, SessionIndex) in the new session."""
        client = getattr(self, "_saml_client", None) or Saml2Client(
            self.get_sp_config(request), identity_cache=IdentityCache(request.saml_session)
        )
        client.users.add_information_about_person(session_info)
        djangosaml2_views._set_subject_id(request.saml_session, session_info["name_id"])

    def get_sp_config(self, request):
        return sp_config_load(request)


# ---------------------------------------------------------------------------------------------
# Logout


@never_cache
@require_POST
def logout_view(request):
    """Log out locally and, when the broker offers single logout, end the broker session too."""
    audit_log(action=AuditAction.LOGOUT, result=AuditResult.SUCCESS, request=request)
    subject_id = djangosaml2_views._get_subject_id(request.saml_session)
    conf = sp_config_load(request)
    redirect_to = settings.LOGOUT_REDIRECT_URL or "/"
    if subject_id is None or not _idp_has_slo(conf):
        auth.logout(request)
        request.saml_session.flush()
        return HttpResponseRedirect(redirect_to)
    state = StateCache(request.saml_session)
    client = Saml2Client(conf, state_cache=state, identity_cache=IdentityCache(request.saml_session))
    try:
        result = client.global_logout(subject_id)
    except (LogoutError, UnsupportedBinding, SigverError, KeyError, ValueError) as error:
        logger.warning("Single logout could not start: %s", type(error).__name__)
        result = None
    auth.logout(request)
    # The new, empty session keeps the logout state so /saml2/ls/ can match the broker's answer.
    state.sync()
    for logout_info in (result or {}).values():
        if isinstance(logout_info, tuple):
            binding, http_info = logout_info
            if binding == saml2.BINDING_HTTP_REDIRECT:
                return HttpResponseRedirect(djangosaml2_views.get_location(http_info))
            if binding == saml2.BINDING_HTTP_POST:
                return HttpResponse("".join(http_info["data"]))
    return HttpResponseRedirect(redirect_to)


def broker_signing_certificates(conf) -> list[str]:
    """The signing certificates (PEM) of the brokers in our metadata: the only keys we accept."""
    return [
        pem_format(certificate).decode("ascii")
        for entity_id in conf.metadata.identity_providers()
        for _name, certificate in conf.metadata.certs(entity_id, "idpsso", "signing")
    ]


def _idp_has_slo(conf) -> bool:
    for entity_id in conf.metadata.identity_providers():
        if conf.metadata.single_logout_service(entity_id, binding=None, typ="idpsso"):
            return True
    return False


@method_decorator([csrf_exempt, never_cache], name="dispatch")
class LogoutServiceView(djangosaml2_views.LogoutView):
    """/saml2/ls/ and /saml2/ls/post/: the broker's logout requests and responses."""

    def do_logout_service(self, request, data, binding, *args, **kwargs):
        try:
            # djangosaml2 has pysaml2 check no Redirect signature and accept an unsigned POST.
            if binding == saml2.BINDING_HTTP_REDIRECT:
                checks.redirect_signature_verify(
                    query_string=request.META.get("QUERY_STRING", ""),
                    certificates=broker_signing_certificates(sp_config_load(request)),
                )
            else:
                messages = [data[kind] for kind in ("SAMLRequest", "SAMLResponse") if kind in data]
                if len(messages) != 1:
                    raise SamlRefusedError("logout_message_missing")
                checks.post_logout_check_signed(message=messages[0])
            return super().do_logout_service(request, data, binding, *args, **kwargs)
        except Exception as error:  # noqa: BLE001  (a bad logout message is a 400, never a 500)
            logger.info("Logout message refused: %s", type(error).__name__)
            auth.logout(request)
            audit_log(
                action=AuditAction.SAML_FAILED,
                result=AuditResult.REFUSED,
                request=request,
                detail={"reason_code": "logout_message_invalid"},
            )
            return render(request, "koppeling/saml_error.html", {"kind": "logout"}, status=400)


# ---------------------------------------------------------------------------------------------
# Error handlers (mijnduo/urls.py handler400)


def bad_request(request, exception=None):
    """Dutch 400 page; an oversized body (RequestDataTooBig) gets 413."""
    if isinstance(exception, RequestDataTooBig):
        return render(request, "koppeling/saml_error.html", {"kind": "too_large"}, status=413)
    return render(request, "koppeling/saml_error.html", {"kind": "bad_request"}, status=400)
