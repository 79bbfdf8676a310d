"""Plain text the helpdesk types (mededelingen) as safe HTML: paragraphs and clickable web links.

Nothing of the text is HTML: every part is escaped first, and only what the pattern recognises as an
http(s) address becomes a link. So a mededeling can never bring markup, scripts or other schemes
(javascript:, data:) onto the overview, however it is typed.
"""

import re

from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

# An http(s) address up to the next space or character that cannot be part of it in running text.
_URL = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
# Punctuation that ends a sentence rather than the address ("see https://example.nl.").
_TRAILING = ".,;:!?"


def _split_trailing(url: str) -> tuple[str, str]:
    """Leave trailing punctuation, and a closing parenthesis without its opening one, outside."""
    tail = ""
    while url:
        last = url[-1]
        if last in _TRAILING or (last == ")" and url.count("(") < url.count(")")):
            url, tail = url[:-1], last + tail
        else:
            break
    return url, tail


def text_links_html(text: str) -> SafeString:
    """``text`` as HTML paragraphs with its http(s) addresses as links (rel="noopener")."""
    parts = []
    position = 0
    for match in _URL.finditer(text):
        url, tail = _split_trailing(match.group(0))
        parts.append(escape(text[position : match.start()]))
        if "://" in url and len(url) > url.index("://") + 3:
            parts.append(f'<a class="utrecht-link" href="{escape(url)}" rel="noopener">{escape(url)}</a>')
        else:
            parts.append(escape(url))
        parts.append(escape(tail))
        position = match.end()
    parts.append(escape(text[position:]))
    # Already escaped: linebreaks only adds <p> and <br>.
    return mark_safe(linebreaks("".join(parts), autoescape=False))  # noqa: S308
