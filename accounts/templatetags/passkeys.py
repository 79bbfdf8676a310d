"""The configuration of django-otp-webauthn's scripts as JSON data in the page (CSP: no inline script)."""

from django import template
from django.conf import settings
from django.utils.html import json_script

from accounts.passkeys import passkey_enrol_config, passkey_login_config

register = template.Library()


@register.simple_tag(takes_context=True)
def passkey_login_config_json(context):
    return json_script(passkey_login_config(context["request"]), "otp_webauthn_config")


@register.simple_tag(takes_context=True)
def passkey_enrol_config_json(context, token):
    return json_script(passkey_enrol_config(context["request"], token), "otp_webauthn_config")


@register.simple_tag
def passkey_required():
    return settings.HELPDESK_REQUIRE_PASSKEY
