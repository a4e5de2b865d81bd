"""Template helpers of the reading pages: dates in the reader's words, links that keep the
page's other choices."""

from __future__ import annotations

from datetime import date
from datetime import datetime

from django import template
from django.http import QueryDict
from django.utils import dateformat
from django.utils import timezone
from django.utils.translation import pgettext

register = template.Library()


@register.filter
def long_datetime(value: datetime | None) -> str:
    """'15 janvier 2024 à 03:09' / 'January 15, 2024 at 03:09', in the active time zone."""
    if value is None:
        return ""
    # Translators: a Django date format (https://docs.djangoproject.com/en/5.2/ref/templates/builtins/#date); backslash-escape letters meant literally.
    fmt = pgettext("long date and time", "F j, Y \\a\\t H:i")
    return dateformat.format(timezone.localtime(value), fmt)


@register.filter
def long_date(value: date | None) -> str:
    """'20 janvier 2024' / 'January 20, 2024'."""
    if value is None:
        return ""
    # Translators: a Django date format; see "long date and time".
    fmt = pgettext("long date", "F j, Y")
    return dateformat.format(value, fmt)


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
def media(content: str) -> str:
    """Entry HTML with its media sent through the media proxy when it is on (feeds/media.py).

    The input is stored, sanitized HTML; the output is the same HTML with URLs rewritten."""
    from liseuse.feeds.media import proxify_html

    return proxify_html(content or "")
