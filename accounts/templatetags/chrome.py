"""``{% page_chrome as chrome %}``: what base.html's header and footer show on every page."""

import functools
from dataclasses import dataclass

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, reverse
from django.utils.text import capfirst
from django.utils.translation import get_language, get_language_info

register = template.Library()


@dataclass(frozen=True)
class Chrome:
    """The header's and footer's links, and the language switch: the languages other than the
    current one, each named in its own language."""

    home_url: str
    set_language_url: str
    toegankelijkheid_url: str
    gebruiksvoorwaarden_url: str
    other_languages: tuple[tuple[str, str], ...]


@functools.lru_cache(maxsize=16)
def chrome_for(script_prefix: str, language: str) -> Chrome:
    # Once per process, script prefix and language: resolving the four URL names and the language
    # names on every page was a tenth of the overview's rendering (design.md §7, P2).
    return Chrome(
        home_url=reverse("home"),
        set_language_url=reverse("set_language"),
        toegankelijkheid_url=reverse("toegankelijkheid"),
        gebruiksvoorwaarden_url=reverse("gebruiksvoorwaarden"),
        other_languages=tuple(
            (code, capfirst(get_language_info(code)["name_local"]))
            for code, _name in settings.LANGUAGES
            if code != language
        ),
    )


@register.simple_tag
def page_chrome() -> Chrome:
    """Works without a request context too (error pages), unlike a context processor."""
    return chrome_for(get_script_prefix(), get_language() or settings.LANGUAGE_CODE)


@receiver(setting_changed)
def _chrome_forget(*, setting, **kwargs):
    """Tests that change the URL conf or the languages get a new chrome."""
    if setting in {"ROOT_URLCONF", "LANGUAGES", "LANGUAGE_CODE", "FORCE_SCRIPT_NAME"}:
        chrome_for.cache_clear()


@register.simple_tag
def eherkenning_service_name() -> str:
    """``{% eherkenning_service_name as service %}``: the one eHerkenning service name (pages, e-mails)."""
    from accounts.constants import EHERKENNING_SERVICE_NAME

    return EHERKENNING_SERVICE_NAME


@register.filter
def described_widget(field):
    """``{{ field|described_widget }}``: the field's widget with ``aria-describedby`` naming the help
    text (``<id>_helptext``) and the error message (``<id>_error``) that the field templates render,
    and ``aria-invalid`` when it has errors — so a screen reader reads both (WCAG 1.3.1, 3.3.1)."""
    ids = []
    if field.help_text:
        ids.append(f"{field.auto_id}_helptext")
    if field.errors:
        ids.append(f"{field.auto_id}_error")
    attrs = {"aria-describedby": " ".join(ids)} if ids else {}
    if field.errors:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)
