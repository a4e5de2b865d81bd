"""Anonymous reading (FreshRSS's option): one person's streams, read-only, for anyone.

Off unless `LISEUSE_PUBLIC_READER` names an account. Visitors see that person's main stream and
the feeds they follow, newest first, with nothing to change: no read state, no forms. Anything
else (another feed, labels, favourites, searches) is a 404.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from django.conf import settings
from django.http import Http404
from django.http import HttpRequest
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds.models import Subscription
from liseuse.lib.ids import is_row_id
from liseuse.ui.views.common import bad_request
from liseuse.ui.views.common import zone_of

PAGE = 30


def _reader() -> User:
    name = getattr(settings, "LISEUSE_PUBLIC_READER", "")
    reader = User.objects.filter(username=name, is_active=True).first() if name else None
    if reader is None:
        raise Http404("anonymous reading is off")
    return reader


def _cursor(raw: str) -> tuple[datetime, int] | None:
    """`?after=<microseconds>_<entry id>`, the last entry of the previous page."""
    if not raw:
        return None
    stamp, _, ident = raw.partition("_")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 20 and is_row_id(ident)):
        raise ValueError(raw)
    try:
        return datetime.fromtimestamp(int(stamp) / 1_000_000, tz=UTC), int(ident)
    except (OverflowError, OSError) as exc:  # past the years a datetime holds
        raise ValueError(raw) from exc


def _page(
    request: HttpRequest, reader: User, flt: queries.StreamFilter, title: str, base: str
) -> HttpResponse:
    try:
        after = _cursor(request.GET.get("after", ""))
    except ValueError:
        return bad_request(request, _("This page address is damaged."))
    page = queries.stream(reader, flt, limit=PAGE, after=after)
    following = ""
    if page.next_after is not None:
        moment, ident = page.next_after
        following = f"{base}?after={int(moment.timestamp() * 1_000_000)}_{ident}"
    subs = queries.subscriptions(reader)
    feeds = [
        (sub.feed_id, sub.display_title)
        for sub in subs
        if sub.visibility != Subscription.Visibility.HIDDEN
    ]
    # Each entry under the reader's own title for its feed, as in the sidebar.
    names = {sub.feed_id: sub.display_title for sub in subs}
    shown = [(state, names.get(state.feed_id, str(state.feed))) for state in page.entries]
    context = {"title": title, "shown": shown, "next": following, "feeds": feeds}
    # Dates as the person whose reading this is sees them, as FreshRSS's anonymous reading
    # takes its default user's settings: not the server's UTC.
    with timezone.override(zone_of(reader)):
        return render(request, "ui/account/public.html", context)


@require_GET
def main(request: HttpRequest) -> HttpResponse:
    reader = _reader()
    flt = queries.StreamFilter(state="all")
    return _page(request, reader, flt, _("Main stream"), reverse("ui:public"))


@require_GET
def feed(request: HttpRequest, feed_id: int) -> HttpResponse:
    reader = _reader()
    sub = queries.subscription(reader, feed_id=feed_id)
    if sub is None or sub.visibility == Subscription.Visibility.HIDDEN:
        raise Http404("not a public feed")
    flt = queries.StreamFilter(state="all", feed_id=feed_id)
    return _page(request, reader, flt, sub.display_title, reverse("ui:public_feed", args=[feed_id]))
