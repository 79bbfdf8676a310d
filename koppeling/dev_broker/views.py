"""The dev broker's pages: metadata, SSO (receives our signed AuthnRequest), login, logout.

Only mounted when settings.EHERKENNING_DEV_BROKER is on (mijnduo/urls.py); production refuses to
start with it on. It deliberately issues what the tester picks — also EH2 — so every refusal of
our service provider can be walked in the browser.
"""

import base64
import logging
from urllib.parse import urlencode

import saml2
from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from saml2 import samlp

from koppeling.saml.checks import STRONG_SIGNATURE_METHODS

from .artifact import ArtifactResolveRefusedError, artifact_issue, artifact_resolve_answer, soap_fault
from .forms import BrokerLoginForm
from .idp import broker_metadata_xml, broker_server, etoegang_attributes, response_create

logger = logging.getLogger(__name__)

PENDING = "dev_broker_pending"


@require_GET
def metadata(request):
    return HttpResponse(broker_metadata_xml().encode("utf-8"), content_type="text/xml; charset=utf-8")


def _error(request, message_kind: str, status: int = 400):
    return render(request, "dev_broker/error.html", {"kind": message_kind}, status=status)


@never_cache
@require_GET
def sso(request):
    """Verify the SP's AuthnRequest (HTTP-Redirect binding, RSA-SHA256 signature) and ask who logs in."""
    sigalg = request.GET.get("SigAlg")
    if "SAMLRequest" not in request.GET or sigalg not in STRONG_SIGNATURE_METHODS:
        return _error(request, "request")
    server = broker_server()
    try:
        parsed = server.parse_authn_request(
            request.GET["SAMLRequest"],
            saml2.BINDING_HTTP_REDIRECT,
            relay_state=request.GET.get("RelayState"),
            sigalg=sigalg,
            signature=request.GET.get("Signature"),
        )
        args = server.response_args(parsed.message)
    except Exception as error:  # noqa: BLE001  (a bad request is a 400 page, never a 500)
        logger.info("Dev broker refused an AuthnRequest: %s", type(error).__name__)
        return _error(request, "request")
    message = parsed.message
    requested = message.requested_authn_context
    request.session[PENDING] = {
        "in_response_to": args["in_response_to"],
        "destination": args["destination"],
        "sp_entity_id": args["sp_entity_id"],
        "relay_state": request.GET.get("RelayState", ""),
        "requested_levels": [ref.text for ref in requested.authn_context_class_ref] if requested else [],
        "comparison": requested.comparison if requested else "",
        "sp_name": message.issuer.text,
        # This broker keeps no login session, so every request is a fresh authentication: what
        # ForceAuthn="true" asks for (eherkenning.md §1); shown on the login page.
        "force_authn": str(message.force_authn).lower() in {"true", "1"},
    }
    return redirect("dev_broker:login")


@never_cache
@require_http_methods(["GET", "POST"])
def login(request):
    """Seed 002 step 1a: choose the level; then the persona, and send the signed assertion."""
    pending = request.session.get(PENDING)
    if not pending:
        return _error(request, "no_request")
    form = BrokerLoginForm(request.POST or None, initial={"encrypt": _encrypt_default()})
    if request.method == "POST" and form.is_valid():
        acting, legal = form.identity()
        xml = response_create(
            in_response_to=pending["in_response_to"],
            attributes=etoegang_attributes(
                acting_subject_id=acting, legal_subject_id=legal, **form.machtiging_details()
            ),
            name_id=acting,
            level=form.cleaned_data["level"],
            destination=pending["destination"],
            audience=pending["sp_entity_id"],
            encrypt=form.cleaned_data["encrypt"],
        )
        del request.session[PENDING]
        return _send_to_sp(
            request, pending=pending, xml=xml, artifact_method=form.cleaned_data.get("artifact_method")
        )
    artifact_binding = "artifact" in getattr(settings, "EHERKENNING_RESPONSE_BINDINGS", ["artifact"])
    context = {"form": form, "pending": pending, "artifact_binding": artifact_binding}
    return render(request, "dev_broker/login.html", context)


@never_cache
@require_POST
def cancel(request):
    """ "Annuleren": answer the SP with a signed error status, as a real broker does."""
    pending = request.session.pop(PENDING, None)
    if not pending:
        return _error(request, "no_request")
    server = broker_server()
    response = server.create_error_response(
        pending["in_response_to"],
        pending["destination"],
        (samlp.STATUS_RESPONDER, "The user cancelled the login."),
        sign=True,
    )
    return _send_to_sp(request, pending=pending, xml=str(response))


def _send_to_sp(request, *, pending: dict, xml: str, artifact_method: str | None = None):
    """Answer the SP in a binding it accepts. With "artifact" in EHERKENNING_RESPONSE_BINDINGS (as a
    real broker, eherkenning.md §2): keep the Response for the ArtifactResolutionService and send
    the browser back with SAMLart — a 302 (GET), or a form that posts it (``artifact_method``
    "post"). Otherwise the whole Response by HTTP-POST."""
    if "artifact" not in getattr(settings, "EHERKENNING_RESPONSE_BINDINGS", ["artifact"]):
        return _post_to_sp(request, pending=pending, xml=xml)
    artifact = artifact_issue(response_xml=xml, sp_entity_id=pending["sp_entity_id"])
    if artifact_method == "post":
        context = {"action": pending["destination"], "saml_art": artifact}
        context["relay_state"] = pending["relay_state"]
        return render(request, "dev_broker/post.html", context)
    query = {"SAMLart": artifact}
    if pending["relay_state"]:
        query["RelayState"] = pending["relay_state"]
    return HttpResponseRedirect(f"{pending['destination']}?{urlencode(query)}")


@csrf_exempt
@never_cache
@require_POST
def ars(request):
    """The ArtifactResolutionService: a signed SOAP ArtifactResolve in, a signed ArtifactResponse out.

    Brokers take only ``Content-Type: text/xml`` (eherkenning.md §2). No database: under make run
    the portal calls this from inside its own ACS request (artifact.py).
    """
    xml = "text/xml; charset=utf-8"
    body = request.body  # read before any answer: unread request bytes make the close a TCP reset
    if request.content_type != "text/xml":
        return HttpResponse(soap_fault(reason="Content-Type must be text/xml"), status=415, content_type=xml)
    try:
        answer = artifact_resolve_answer(body=body)
    except ArtifactResolveRefusedError as refusal:
        logger.info("Dev broker refused an ArtifactResolve: %s", refusal)
        return HttpResponse(soap_fault(reason=str(refusal)), status=500, content_type=xml)
    return HttpResponse(answer, content_type=xml)


def _post_to_sp(request, *, pending: dict, xml: str):
    """The HTTP-POST binding: a form the browser submits to the SP's ACS (static JS, CSP-safe)."""
    return render(
        request,
        "dev_broker/post.html",
        {
            "action": pending["destination"],
            "saml_response": base64.b64encode(xml.encode("utf-8")).decode("ascii"),
            "relay_state": pending["relay_state"],
        },
    )


def _encrypt_default() -> bool:
    from django.conf import settings

    return settings.EHERKENNING_DEV_BROKER_ENCRYPT


@never_cache
@require_GET
def slo(request):
    """Single logout: verify the SP's signed LogoutRequest and redirect back with a LogoutResponse."""
    sigalg = request.GET.get("SigAlg")
    if "SAMLRequest" not in request.GET or sigalg not in STRONG_SIGNATURE_METHODS:
        return _error(request, "request")
    server = broker_server()
    try:
        parsed = server.parse_logout_request(
            request.GET["SAMLRequest"],
            saml2.BINDING_HTTP_REDIRECT,
            relay_state=request.GET.get("RelayState"),
            sigalg=sigalg,
            signature=request.GET.get("Signature"),
        )
        response = server.create_logout_response(parsed.message, [saml2.BINDING_HTTP_REDIRECT])
        destination = server.response_args(parsed.message, [saml2.BINDING_HTTP_REDIRECT])["destination"]
        http_info = server.apply_binding(
            saml2.BINDING_HTTP_REDIRECT,
            str(response),
            destination,
            request.GET.get("RelayState", ""),
            response=True,
            sign=True,
            sigalg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        )
    except Exception as error:  # noqa: BLE001
        logger.info("Dev broker refused a LogoutRequest: %s", type(error).__name__)
        return _error(request, "request")
    location = dict(http_info["headers"])["Location"]
    return HttpResponseRedirect(location)
