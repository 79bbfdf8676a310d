"""django-oauth-toolkit's request validator, with what the portal decides (design.md §9).

The protocol (codes, PKCE, redirect URI matching, signing) stays django-oauth-toolkit's and
oauthlib's; this adds the portal's rules: pairwise ``sub``, the eHerkenning login in ``acr`` and
``auth_time``, only the Dienst's own rollen, no refresh tokens, a reused code revokes its tokens, and
tokens of a removed or unlinked account stop working.
"""

import hashlib
import json
from contextvars import ContextVar
from datetime import timedelta

from django.db import connections, router, transaction
from django.db.models import signals
from django.urls import reverse
from django.utils import timezone
from jwcrypto import jwt
from oauth2_provider.models import AccessToken, Application, IDToken, get_grant_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from accounts.audit import audit_event, audit_log
from accounts.constants import AuditAction, AuditResult

from . import batched_writes, client_auth, selectors, services

# The clients loaded during one HTTP request, for views that run oauthlib more than once on it
# (views.DienstAuthorizationView sets and resets it); None outside such a view.
clients_of_request: ContextVar[dict | None] = ContextVar("clients_of_request", default=None)
# The access tokens saved during one token request (views.DienstTokenView sets and resets it), so
# that a refusal after they were saved can take them back; None outside that view.
tokens_of_request: ContextVar[list | None] = ContextVar("tokens_of_request", default=None)


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
        dienst = getattr(request, "duo_dienst", None)  # the authorization view's (views.py)
        if dienst is None or dienst.application_id != request.client.pk:
            dienst = selectors.dienst_for_client(client=request.client)
        event = getattr(request, "duo_audit", None)  # the authorization view's, to write with the code
        if (
            event is not None
            and event.pk is None
            and request.code_challenge_method == "S256"  # else django-oauth-toolkit's checks decide
            and batched_writes.code_batch_possible()
        ):
            # The grant, the hand-off and the audit event in one statement (batched_writes.py).
            batched_writes.record_code(
                grant=self._grant_unsaved(request, code),
                handoff=services.handoff_build(
                    dienst=dienst, account=request.user, code=code["code"], context=request.duo_login
                ),
                event=event,
            )
            return
        super().save_authorization_code(client_id, code, request, *args, **kwargs)
        services.handoff_create(
            dienst=dienst,
            account=request.user,
            code=code["code"],
            context=request.duo_login,
        )

    @staticmethod
    def _grant_unsaved(request, code):
        """The grant django-oauth-toolkit's ``_create_authorization_code`` creates for an S256 code
        challenge, not yet saved (tests/diensten/test_batched_writes.py compares the two rows)."""
        return get_grant_model()(
            application=request.client,
            user=request.user,
            code=code["code"],
            expires=timezone.now() + timedelta(seconds=oauth2_settings.AUTHORIZATION_CODE_EXPIRE_SECONDS),
            redirect_uri=request.redirect_uri,
            scope=" ".join(request.scopes),
            code_challenge=request.code_challenge or "",
            code_challenge_method=request.code_challenge_method or "",
            nonce=request.nonce or "",
            claims=json.dumps(request.claims or {}),
            resource=getattr(request, "resource", []),
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

    def _load_application(self, client_id, request):
        # The Dienst with the client, in one query (client authentication and the claims need it),
        # and once per HTTP request (the authorization view validates twice: clients_of_request);
        # django-oauth-toolkit then checks and keeps it as it keeps a client it loaded itself.
        if request.client is None and client_id:
            known = clients_of_request.get()
            if known is not None and client_id in known:
                request.client = known[client_id]
            else:
                try:
                    request.client = selectors.application_with_dienst(client_id=str(client_id))
                except ValueError:  # e.g. a NUL character, which the database refuses
                    pass
                else:
                    if known is not None and request.client is not None:
                        known[client_id] = request.client
        return super()._load_application(client_id, request)

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

    # The token request asks django-oauth-toolkit for the grant of the code seven times (scopes,
    # validation, PKCE challenge and method, redirect URI, nonce, resource), each a query: it is
    # read once per request here, with its user and organisation, the code's hand-off and (on
    # PostgreSQL) the rollen claim (selectors.code_read), and the same checks are made on it (the
    # application wherever django-oauth-toolkit filters on it).

    def _code_read(self, code, request):
        cached = getattr(request, "duo_code_read", None)
        if cached is not None and cached.grant.code == code:
            return cached
        # Inside the token view's transaction: the grant row stays locked until the code is spent
        # and the tokens are saved, so a second request with the same code waits, then finds the
        # code used and is refused (RFC 6749 §4.1.2), instead of also getting tokens.
        lock = transaction.get_connection(router.db_for_read(get_grant_model())).in_atomic_block
        read = selectors.code_read(code=code, lock=lock) if isinstance(code, str) else None
        request.duo_code_read = read
        request.duo_grant = read.grant if read is not None else None
        return read

    def _grant(self, code, request):
        read = self._code_read(code, request)
        return read.grant if read is not None else None

    def _client_grant(self, code, client, request):
        grant = self._grant(code, request)
        if grant is None or client is None or grant.application_id != client.pk:
            return None
        return grant

    def get_authorization_code_scopes(self, client_id, code, redirect_uri, request):
        grant = self._grant(code, request)
        return grant.scope.split() if grant is not None and grant.scope else []

    def get_authorization_code_nonce(self, client_id, code, redirect_uri, request):
        grant = self._grant(code, request)
        return (grant.nonce or None) if grant is not None else None

    def get_code_challenge(self, code, request):
        grant = self._client_grant(code, request.client, request)
        return (grant.code_challenge or None) if grant is not None else None

    def get_code_challenge_method(self, code, request):
        grant = self._client_grant(code, request.client, request)
        return (grant.code_challenge_method or None) if grant is not None else None

    def confirm_redirect_uri(self, client_id, code, redirect_uri, client, *args, **kwargs):
        request = kwargs.get("request") or (args[0] if args else None)
        grant = self._client_grant(code, client, request) if request is not None else None
        if grant is None:
            return super().confirm_redirect_uri(client_id, code, redirect_uri, client, *args, **kwargs)
        return grant.redirect_uri_allowed(redirect_uri)

    def _check_and_set_request_resource(self, request):
        # No RFC 8707 resource asked for nor granted (the Diensten use none): nothing to narrow.
        grant = self._client_grant(request.code, request.client, request) if request.code else None
        if (
            request.grant_type == "authorization_code"
            and grant is not None
            and not grant.resource
            and not getattr(request, "resource", None)
        ):
            request.resource = []
            return
        super()._check_and_set_request_resource(request)

    def _validate_grant(self, client, code, request) -> bool:
        """django-oauth-toolkit's validate_code, on the grant read once."""
        grant = self._client_grant(code, client, request)
        if grant is None or grant.is_expired():
            return False
        request.scopes = grant.scope.split(" ")
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        return True

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if not self._validate_grant(client, code, request):
            services.code_reuse_refuse(code=code)
            return False
        dienst = selectors.dienst_for_client(client=client)
        read = self._code_read(code, request)  # read with the grant just validated
        handoff = services.handoff_for_code(code=code, dienst=dienst, account=request.user, read=read.handoff)
        if handoff is None:
            return False
        if not services.account_may_use_dienst(account=request.user, handoff=handoff):
            return False  # removed or unlinked since the hand-off (audited by the token view)
        request.duo_handoff = handoff
        if read.rollen is not None and dienst is not None and handoff.dienst_id == dienst.pk:
            request.duo_rollen = read.rollen  # the ID token's rollen claim (get_additional_claims)
        return True

    def invalidate_authorization_code(self, client_id, code, request, *args, **kwargs):
        """Spend the code: delete the grant read (and locked) for this request by its primary key.

        django-oauth-toolkit's deletes by code and client through the ORM's delete collector, about
        half a millisecond of Python for one row (P9); with nothing listening to a grant's deletion
        that is the same single DELETE. No row deleted means the code was spent meanwhile: refused.
        """
        spent = getattr(request, "duo_grant_spent", None)
        if spent is not None:  # deleted with the tokens' writes (_create_access_token)
            if not spent:
                raise errors.InvalidGrantError(request=request)
            return
        grant_model = get_grant_model()
        grant = getattr(request, "duo_grant", None)
        if (
            grant is None
            or grant.code != code
            or request.client is None
            or grant.application_id != request.client.pk
            or signals.pre_delete.has_listeners(grant_model)
            or signals.post_delete.has_listeners(grant_model)
        ):
            return super().invalidate_authorization_code(client_id, code, request, *args, **kwargs)
        connection = connections[router.db_for_write(grant_model)]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {quote(grant_model._meta.db_table)} "  # noqa: S608  (names from _meta)
                f"WHERE {quote(grant_model._meta.pk.column)} = %s",
                [grant.pk],
            )
            deleted = cursor.rowcount
        if not deleted:
            raise errors.InvalidGrantError(request=request)

    def save_bearer_token(self, token, request, *args, **kwargs):
        token.pop("refresh_token", None)
        if transaction.get_connection(router.db_for_write(AccessToken)).in_atomic_block:
            # Inside the token view's transaction (views.DienstTokenView), which already makes the
            # request's writes all or nothing: django-oauth-toolkit's own atomic block around the
            # same call would only add a savepoint (two statements) to it.
            return self._save_bearer_token(token, request, *args, **kwargs)
        return super().save_bearer_token(token, request, *args, **kwargs)

    def finalize_id_token(self, id_token, token, token_handler, request):
        if not transaction.get_connection(router.db_for_write(IDToken)).in_atomic_block:
            return super().finalize_id_token(id_token, token, token_handler, request)
        # django-oauth-toolkit's, without its atomic block around saving the ID token: inside the
        # token view's transaction (views.DienstTokenView) that block is only a savepoint, two more
        # statements; whatever fails after it rolls the whole request back anyway.
        claims, expiration_time = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and request.nonce:  # oauthlib issue #746, as django-oauth-toolkit
            id_token["nonce"] = request.nonce
        key = request.client.jwk_key
        header = {"typ": "JWT", "alg": request.client.algorithm}
        if request.client.algorithm == Application.RS256_ALGORITHM:
            header["kid"] = key.thumbprint()
        jwt_token = jwt.JWT(header=json.dumps(header, default=str), claims=json.dumps(id_token, default=str))
        jwt_token.make_signed_token(key)
        if batched_writes.token_batch_possible():
            # Written with the access token, in one statement (_create_access_token, batched_writes.py):
            # the row django-oauth-toolkit's _save_id_token creates, not yet saved.
            saved = IDToken(
                user=request.user,
                scope=request.scope or " ".join(request.scopes),
                expires=expiration_time,
                jti=id_token["jti"],
                application=request.client,
            )
        else:
            saved = self._save_id_token(id_token["jti"], request, expiration_time)
        request.access_token = saved
        request.id_token = saved
        return jwt_token.serialize()

    def _create_access_token(self, expires, request, token, source_refresh_token=None):
        # django-oauth-toolkit's, but the ID token of this request is the one finalize_id_token
        # just saved: no decoding of the JWT and reading it back (two queries).
        id_token = getattr(request, "id_token", None) if token.get("id_token") else None
        if token.get("id_token") and id_token is None:
            id_token = self._load_id_token(token["id_token"])
        access_token = AccessToken(
            user=request.user,
            scope=token["scope"],
            expires=expires,
            id_token=id_token,
            application=request.client,
            source_refresh_token=source_refresh_token,
            resource=getattr(request, "resource", []),
        )
        self._set_token_value(access_token, token["access_token"])
        handoff = getattr(request, "duo_handoff", None)
        grant = getattr(request, "duo_grant", None)
        batch = (
            id_token is not None
            and id_token.pk is None  # finalize_id_token left it to be written here
            and handoff is not None
            and grant is not None
            and grant.code == request.code
            and grant.application_id == request.client.pk
        )
        if id_token is not None and id_token.pk is None and not batch:
            id_token.save()  # not expected (a code flow always has its grant and hand-off): as before
        if batch:
            # Everything this request writes, spending the code included, in one statement:
            # invalidate_authorization_code then only reports whether the grant was still there.
            request.duo_grant_spent = batched_writes.issue_and_spend(
                id_token=id_token,
                access_token=access_token,
                handoff=handoff,
                event=audit_event(**self._token_audit(request, handoff, access_token)),
                grant=grant,
            )
            return self._token_saved(access_token)
        access_token.save()
        if handoff is not None:
            services.handoff_token_link(handoff=handoff, access_token=access_token)
            audit_log(**self._token_audit(request, handoff, access_token))
        return self._token_saved(access_token)

    @staticmethod
    def _token_audit(request, handoff, access_token) -> dict:
        """The audit event of tokens issued for ``handoff``."""
        return {
            "action": AuditAction.DIENST_TOKEN,
            "actor": request.user,
            "obj": handoff.dienst,
            "detail": {"scope": access_token.scope, "handoff_id": handoff.pk},
        }

    @staticmethod
    def _token_saved(access_token):
        saved = tokens_of_request.get()
        if saved is not None:
            saved.append(access_token.pk)
        return access_token

    # --- resource requests (userinfo) ----------------------------------------------------------

    def _load_access_token(self, token):
        # With what userinfo needs besides: the user's organisation, the hand-off and its Dienst.
        return (
            AccessToken.objects.select_related("application", "user__organisatie", "handoff__dienst")
            .filter(token_checksum=hashlib.sha256(token.encode("utf-8")).hexdigest())
            .first()
        )

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
                detail={"reason_code": services.refusal_reason(handoff=handoff)},
            )
            return False
        request.duo_handoff = handoff
        return True

    # --- claims ---------------------------------------------------------------------------------

    @classmethod
    def _get_additional_claims_is_request_agnostic(cls):
        # get_additional_claims below takes the request. django-oauth-toolkit finds that out with
        # inspect.signature twice per token and userinfo request (P9: ~0.1 ms each time).
        return False

    def get_additional_claims(self, request):
        account = request.user
        handoff = getattr(request, "duo_handoff", None)
        if (
            handoff is not None
            and request.client is not None
            and handoff.dienst.application_id == request.client.pk
        ):
            dienst = handoff.dienst
            # Userinfo reads the hand-off's Dienst's rollen with the token (views.DienstUserInfoView).
            rollen = getattr(request, "duo_rollen", None)
        else:
            dienst = selectors.dienst_for_client(client=request.client)
            rollen = None
        if dienst is None:
            return {}
        claims = {
            "sub": services.pairwise_sub(dienst=dienst, account=account),
            "name": account.name,
            "email": account.email,
            "organisatie": selectors.organisatie_claim(account=account),
            "rollen": (
                rollen if rollen is not None else selectors.rollen_claim(account=account, dienst=dienst)
            ),
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
