"""The AuthnRequest as eHerkenning 1.13 wants it (eherkenning.md §1), for LoginView.

- signed: the HTTP-Redirect binding's signature over the query, RSA-SHA256, with the pair that signs
  by date (config.sp_signing_keypair, pysaml2's key_file);
- ``ForceAuthn="true"``: an earlier, lower-level session at the broker must not be reused;
- the ACS by URL with ``ProtocolBinding`` HTTP-Artifact (HTTP-POST only when artifact is disabled);
- ``AttributeConsumingServiceIndex``: the index that ends EHERKENNING_SERVICE_ID;
- an ID of 160 random bits from the operating system's CSPRNG: never reused by design (the
  afsprakenstelsel asks uniqueness for at least 12 months; a repeat is as likely as guessing a
  160-bit key), instead of pysaml2's 17 alphanumerics (~101 bits);
- RelayState within 80 bytes (relay.py).

The full ``next`` also stays in djangosaml2's outstanding-queries cache under the request ID, where
the ACS finds it by the response's InResponseTo.
"""

import logging
import secrets

import saml2
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from djangosaml2.cache import OutstandingQueriesCache
from djangosaml2.overrides import Saml2Client
from djangosaml2.views import get_location
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from .config import response_binding, service_index
from .relay import relay_state_for

logger = logging.getLogger(__name__)


def authn_request_id() -> str:
    """A fresh AuthnRequest ID: ``_`` and 40 hex digits (160 bits), an NCName as SAML requires."""
    return f"_{secrets.token_hex(20)}"


def broker_entity_id(conf) -> str | None:
    """The one broker in our metadata; None when there is none (metadata by URL not fetched yet)."""
    brokers = sorted(conf.metadata.identity_providers()) if conf.metadata is not None else []
    if len(brokers) > 1:
        logger.error("The broker metadata holds %d identity providers; expected one", len(brokers))
    return brokers[0] if len(brokers) == 1 else None


def broker_unavailable(request) -> HttpResponse:
    """503: no broker to send the visitor to. The operator sees why in the log and on /healthz."""
    return render(request, "koppeling/saml_unavailable.html", status=503)


def authn_request_redirect(request, *, conf, next_url: str) -> HttpResponse:
    """Redirect to the broker's SSO with a signed AuthnRequest; remember it for the ACS."""
    broker = broker_entity_id(conf)
    if broker is None:
        return broker_unavailable(request)
    client = Saml2Client(conf)
    try:
        request_id, http_info = client.prepare_for_authenticate(
            entityid=broker,
            relay_state=relay_state_for(request, next_url),
            binding=saml2.BINDING_HTTP_REDIRECT,
            sign=True,
            sigalg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
            response_binding=response_binding(),
            force_authn="true",
            attribute_consuming_service_index=str(service_index()),
            message_id=authn_request_id(),
        )
    except Exception as error:  # noqa: BLE001  (a broker without a Redirect SSO endpoint: 503, never 500)
        logger.error("No AuthnRequest for broker %s: %s", broker, error)
        return broker_unavailable(request)
    oq_cache = OutstandingQueriesCache(request.saml_session)
    oq_cache.set(request_id, next_url)
    oq_cache.sync()
    return HttpResponseRedirect(get_location(http_info))
