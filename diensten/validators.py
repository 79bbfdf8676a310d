"""django-oauth-toolkit's request validator, with what the portal decides (design.md §9).

The protocol (codes, PKCE, redirect URI matching, signing) stays django-oauth-toolkit's and
oauthlib's; this adds the portal's rules: pairwise ``sub``, the eHerkenning login in ``acr`` and
``auth_time``, only the Dienst's own rollen, no refresh tokens, a reused code revokes its tokens, and
tokens of a removed or unlinked account stop working.
"""

from django.urls import reverse
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings

from accounts.audit import audit_log
from accounts.constants import AuditAction, AuditResult

from . import client_auth, selectors, services


class DienstValidator(OAuth2Validator):
    oidc_claim_scope = {
        **OAuth2Validator.oidc_claim_scope,
        "acr": "openid",
        "amr": "openid",
        "sid": "openid",
        "organisatie": "duo",
        "rollen": "duo",
        "intermediair": "duo",
    }

    # --- authorization -----------------------------------------------------------------------

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        super().save_authorization_code(client_id, code, request, *args, **kwargs)
        services.handoff_create(
            dienst=selectors.dienst_for_client(client=request.client),
            account=request.user,
            code=code["code"],
            context=request.duo_login,
        )

    # --- client authentication -------------------------------------------------------------------

    def authenticate_client(self, request, *args, **kwargs):
        """A client secret (django-oauth-toolkit's check), or a private_key_jwt assertion; a Dienst
        registered for private_key_jwt is never let in with a secret."""
        body = dict(request.decoded_body or [])
        if "client_assertion" in body or "client_assertion_type" in body:
            return self._authenticate_private_key_jwt(request, body)
        if not super().authenticate_client(request, *args, **kwargs):
            return False
        dienst = selectors.dienst_for_client(client=request.client)
        return dienst is None or dienst.token_endpoint_auth_method != client_auth.PRIVATE_KEY_JWT

    def client_authentication_required(self, request, *args, **kwargs):
        body = dict(request.decoded_body or [])
        if "client_assertion" in body:
            return True
        return super().client_authentication_required(request, *args, **kwargs)

    def _authenticate_private_key_jwt(self, request, body) -> bool:
        issuer = oauth2_settings.OIDC_ISS_ENDPOINT.rstrip("/")
        try:
            dienst = client_auth.client_assertion_verify(
                assertion_type=body.get("client_assertion_type", ""),
                assertion=body.get("client_assertion", ""),
                client_id=body.get("client_id", ""),
                audiences=[f"{issuer}{reverse('oauth2_provider:token')}", issuer, f"{issuer}/"],
            )
        except client_auth.AssertionRefusedError as refused:
            audit_log(
                action=AuditAction.DIENST_TOKEN,
                result=AuditResult.REFUSED,
                detail={"reason_code": "client_auth", "error_code": refused.reason, "via": "private_key_jwt"},
            )
            return False
        request.client = dienst.application
        request.client_id = dienst.application.client_id
        return True

    # --- token --------------------------------------------------------------------------------

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs):
        # The code flow only: no refresh tokens, so a Dienst must come back for fresh rollen.
        if grant_type != "authorization_code":
            return False
        return super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs)

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            services.code_reuse_refuse(code=code)
            return False
        handoff = services.handoff_for_code(code=code)
        if handoff is None:
            return False
        if not services.account_may_use_dienst(account=request.user, handoff=handoff):
            return False  # removed or unlinked since the hand-off (audited by the token view)
        request.duo_handoff = handoff
        return True

    def save_bearer_token(self, token, request, *args, **kwargs):
        token.pop("refresh_token", None)
        return super().save_bearer_token(token, request, *args, **kwargs)

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        access_token = super()._create_access_token(expires, request, token, source_refresh_token)
        handoff = getattr(request, "duo_handoff", None)
        if handoff is not None:
            services.handoff_token_link(handoff=handoff, access_token=access_token)
            audit_log(
                action=AuditAction.DIENST_TOKEN,
                actor=request.user,
                obj=handoff.dienst,
                detail={"scope": access_token.scope, "handoff_id": handoff.pk},
            )
        return access_token

    # --- resource requests (userinfo) ----------------------------------------------------------

    def validate_bearer_token(self, token, scopes, request):
        if not super().validate_bearer_token(token, scopes, request):
            audit_log(
                action=AuditAction.DIENST_USERINFO,
                result=AuditResult.REFUSED,
                detail={"reason_code": "invalid_token" if token else "no_token"},
            )
            return False
        handoff = selectors.handoff_for_access_token(access_token=request.access_token)
        if not services.account_may_use_dienst(account=request.user, handoff=handoff):
            audit_log(
                action=AuditAction.DIENST_USERINFO,
                result=AuditResult.REFUSED,
                actor=request.user,
                obj=handoff.dienst if handoff else None,
                detail={"reason_code": "account_closed"},
            )
            return False
        request.duo_handoff = handoff
        return True

    # --- claims ---------------------------------------------------------------------------------

    def get_additional_claims(self, request):
        account = request.user
        dienst = selectors.dienst_for_client(client=request.client)
        handoff = getattr(request, "duo_handoff", None)
        if dienst is None:
            return {}
        claims = {
            "sub": services.pairwise_sub(dienst=dienst, account=account),
            "name": account.name,
            "email": account.email,
            "organisatie": selectors.organisatie_claim(account=account),
            "rollen": selectors.rollen_claim(account=account, dienst=dienst),
        }
        if handoff is not None:
            claims["acr"] = handoff.acr
            claims["amr"] = handoff.amr
            if handoff.sid:
                claims["sid"] = handoff.sid
            if handoff.intermediair:
                claims["intermediair"] = handoff.intermediair
        return claims

    def get_id_token_dictionary(self, token, token_handler, request):
        claims, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        handoff = getattr(request, "duo_handoff", None)
        if handoff is not None:
            # When the user logged in at the portal, not when the portal last saw him.
            claims["auth_time"] = int(handoff.auth_time.timestamp())
        return claims, expiration_time

    def get_discovery_claims(self, request):
        return [
            "sub",
            "acr",
            "amr",
            "auth_time",
            "sid",
            "name",
            "email",
            "organisatie",
            "rollen",
            "intermediair",
        ]
