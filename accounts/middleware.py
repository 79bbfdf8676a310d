"""End a legacy token session as soon as the token may no longer be used (seed 001)."""

from django.contrib import auth
from django.shortcuts import redirect
from django.utils import timezone

from .token_login import SESSION_AUTH_METHOD, token_login_refusal


class TokenSessionMiddleware:
    """A token login made before the sector's switch date must not outlive that date.

    Only sessions started with the token are checked (two small queries); linking eHerkenning
    already ends every session of the account (koppeling.services.link_create sets a new password
    hash, which Django's session check sees).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # The session first: asking whether the user is authenticated loads their account, which
        # a request without a token session (a public page, a static view) need not pay for.
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if (
            session is not None
            and session.get(SESSION_AUTH_METHOD) == "token"
            and user is not None
            and user.is_authenticated
            and token_login_refusal(account=user, today=timezone.localdate()) is not None
        ):
            auth.logout(request)
            return redirect("/token/")
        return self.get_response(request)
