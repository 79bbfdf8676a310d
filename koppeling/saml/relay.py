"""RelayState within eHerkenning's 80 bytes (eherkenning.md §1).

The AuthnRequest's RelayState carries where the visitor goes after login (``next``). A ``next`` of at
most 80 bytes travels as it is; a longer one stays in the SAML session (the cookie of djangosaml2's
SamlSessionMiddleware, which the ACS also reads) under a short random token, and RelayState carries
the token. The ACS turns a RelayState back into the URL with :func:`relay_state_resolve`.
"""

import secrets

from django.utils.http import url_has_allowed_host_and_scheme

RELAY_STATE_MAX_BYTES = 80
SESSION_KEY = "relay_states"
# "r:" cannot start a path or an http(s) URL, so a token is never mistaken for a next URL.
TOKEN_PREFIX = "r:"
# Several tabs may start a login at once; older tokens are dropped beyond this many.
_KEEP = 10


def relay_state_for(request, next_url: str) -> str:
    """The RelayState for ``next_url``: itself when it fits in 80 bytes, else a token kept in the
    SAML session."""
    if len(next_url.encode("utf-8")) <= RELAY_STATE_MAX_BYTES and not next_url.startswith(TOKEN_PREFIX):
        return next_url
    token = TOKEN_PREFIX + secrets.token_urlsafe(18)
    stored = dict(request.saml_session.get(SESSION_KEY) or {})
    stored[token] = next_url
    request.saml_session[SESSION_KEY] = dict(list(stored.items())[-_KEEP:])
    return token


def relay_state_resolve(request, relay_state: str | None) -> str | None:
    """The URL a RelayState stands for, only when it is on this site; None otherwise.

    A token is looked up in the SAML session and used once; any other value is taken as the URL
    itself. Either way the result passes the same-site check the ``next`` parameter does.
    """
    if not relay_state:
        return None
    url = relay_state
    if relay_state.startswith(TOKEN_PREFIX):
        stored = dict(request.saml_session.get(SESSION_KEY) or {})
        url = stored.pop(relay_state, None)
        if url is None:
            return None
        request.saml_session[SESSION_KEY] = stored
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None
