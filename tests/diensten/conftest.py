"""The OpenID Connect provider under test: the portal in pytest-django's ``live_server`` (a real HTTP
server), Diensten registered through the same service as the admin, and an independent client
library (Authlib) doing the code flow. A portal user is logged in by the Django test client, whose
session cookie the "browser" (a requests session) then carries."""

from dataclasses import asdict

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from accounts.models import Rol
from diensten.models import Dienst
from diensten.services import dienst_client_save
from koppeling.identity import SESSION_KEY, EHerkenningIdentity
from tests.factories import AccountFactory, KenmerkFactory, KoppelingFactory, grant_rol

LOA3 = "urn:etoegang:core:assurance-class:loa3"


@pytest.fixture
def issuer(live_server, settings):
    """The portal's issuer is the live server's URL (SITE_URL in a deployment)."""
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": live_server.url}
    return live_server.url


@pytest.fixture
def rollen():
    """Three rollen of the catalogue (a data migration loads it)."""
    found = list(Rol.objects.order_by("code")[:3])
    assert len(found) == 3
    return found


class RegisteredDienst:
    def __init__(self, dienst: Dienst, secret: str, redirect_uri: str):
        self.dienst = dienst
        self.client_id = dienst.application.client_id
        self.secret = secret
        self.redirect_uri = redirect_uri


@pytest.fixture
def dienst_register():
    def register(code: str, rollen, *, enabled=True) -> RegisteredDienst:
        redirect_uri = f"https://{code}.dienst.example/oidc/callback"
        dienst, secret = dienst_client_save(
            dienst=Dienst(
                code=code,
                naam_nl=f"Dienst {code}",
                naam_en=f"Service {code}",
                launch_url=f"https://{code}.dienst.example/start",
                enabled=enabled,
            ),
            redirect_uris=redirect_uri,
            post_logout_redirect_uris=f"https://{code}.dienst.example/",
        )
        dienst.rollen.set(rollen)
        return RegisteredDienst(dienst, secret, redirect_uri)

    return register


@pytest.fixture
def portal_user():
    """An account linked to an eHerkenning identity, holding the given rollen on their school's kenmerk."""

    def make(rollen=(), *, intermediate: str = "", organisatie=None):
        account = AccountFactory(**({"organisatie": organisatie} if organisatie else {}))
        kenmerk = KenmerkFactory(organisatie=account.organisatie)
        for rol in rollen:
            grant_rol(account, rol.code, kenmerk)
        koppeling = KoppelingFactory(account=account, intermediate_entity_id=intermediate)
        identity = EHerkenningIdentity(
            acting_subject_id=koppeling.acting_subject_id,
            legal_subject_id=koppeling.legal_subject_id,
            level=LOA3,
            intermediate_entity_id=intermediate,
            intermediate_company_name="Regionaal Bureau Noord" if intermediate else "",
        )
        return account, koppeling, identity

    return make


@pytest.fixture
def browser_for(client, settings):
    """A requests session logged in at the portal as ``account`` with ``identity`` in its session."""

    def make(account, identity=None, **session_data) -> requests.Session:
        client.logout()
        client.force_login(account)
        session = client.session
        if identity is not None:
            session[SESSION_KEY] = asdict(identity)
        session.update(session_data)
        session.save()
        browser = requests.Session()
        browser.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
        return browser

    return make


class CodeFlow:
    """One run of the authorization code flow with PKCE (S256), as a Dienst does it with Authlib."""

    def __init__(self, issuer: str, registered: RegisteredDienst, scope="openid profile email duo"):
        self.issuer = issuer
        self.registered = registered
        self.client = OAuth2Session(
            registered.client_id,
            registered.secret,
            scope=scope,
            redirect_uri=registered.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",
        )
        self.verifier = generate_token(48)
        self.nonce = generate_token(20)
        self.metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()

    def authorization_url(self, **extra) -> tuple[str, str]:
        return self.client.create_authorization_url(
            self.metadata["authorization_endpoint"], code_verifier=self.verifier, nonce=self.nonce, **extra
        )

    def authorize(self, browser: requests.Session, url: str | None = None) -> requests.Response:
        if url is None:
            url, self.state = self.authorization_url()
        return browser.get(url, allow_redirects=False, timeout=10)

    def token(self, location: str) -> dict:
        return self.client.fetch_token(
            self.metadata["token_endpoint"],
            authorization_response=location,
            code_verifier=self.verifier,
            state=self.state,
        )
