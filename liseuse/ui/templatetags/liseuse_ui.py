"""Template helpers of the reading pages: links that keep the page's other choices, entry HTML
through the media proxy, dates as the reading pages write them. (The reading pages' entries
are written by `liseuse.ui.pieces`, dates included.)"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.http import QueryDict

from liseuse.ui import pieces

register = template.Library()


@register.simple_tag(takes_context=True)
def with_params(context: template.Context, **changes: object) -> str:
    """The current query string with some parameters changed (None or '' removes one), for
    the switches of the top bar: a view switch keeps the state and order, and so on."""
    request = context.get("request")
    params = request.GET.copy() if request is not None else QueryDict(mutable=True)
    params.pop("after", None)  # a new choice starts from the first page
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.filter
def reason(stored: str) -> str:
    """A feed's stored error in the reader's language (feeds/reasons.py)."""
    from liseuse.feeds.reasons import readable

    return readable(stored or "")


@register.filter
def media(content: str) -> str:
    """Entry HTML with its media sent through the media proxy when it is on (feeds/media.py).

    The input is stored, sanitized HTML; the output is the same HTML with URLs rewritten."""
    from liseuse.feeds.media import proxify_html

    return proxify_html(content or "")


@register.filter
def long_datetime(value: datetime | None) -> str:
    """'January 15, 2024 at 02:09' / '15 janvier 2024 à 02:09': the reading pages' format,
    for the pages written as templates (search, public reading, feed health, sessions)."""
    return pieces.long_datetime(value)
