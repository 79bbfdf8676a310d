"""``{% session_timeout_dialog %}``: the warning before a logged-in session's idle end (base.html)."""

from django import template

from accounts.session_timeout import session_timeout_context

register = template.Library()


@register.inclusion_tag("accounts/_session_timeout.html", takes_context=True)
def session_timeout_dialog(context):
    """Nothing on pages without a logged-in session, and on error pages (rendered without a request:
    they must not touch the session or the database)."""
    request = context.get("request")
    return {"timeout": session_timeout_context(request), "csrf_token": context.get("csrf_token")}
