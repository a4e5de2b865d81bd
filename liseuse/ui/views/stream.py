"""The reading pages: a stream (main, favourites, a category, a feed, a label) in the normal,
reader or global view, with the sidebar and the top bar around it.

Every choice is in the URL (`?view=`, `?state=`, `?order=`, `?search=` in FreshRSS's search
syntax, `?after=` for the next page), so that a page can be bookmarked, reloaded and used without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Literal

from django.conf import settings
from django.http import Http404
from django.http import HttpRequest
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Subscription
from liseuse.feeds.reasons import readable
from liseuse.lib.ids import is_row_id
from liseuse.ui import pagecache
from liseuse.ui import pieces
from liseuse.ui.pieces import CategoryBox
from liseuse.ui.pieces import FeedLine
from liseuse.ui.pieces import Shown
from liseuse.ui.views.common import bad_request
from liseuse.ui.views.common import personal
from liseuse.ui.views.common import today

StreamKind = Literal["main", "starred", "category", "feed", "label"]
VIEWS = ("normal", "reader", "global")
STATES = ("unread", "all", "starred")


@dataclass(frozen=True)
class Stream:
    """Which stream a page shows, as the forms and the JSON endpoint name it."""

    kind: StreamKind
    ident: int | None = None
    title: str = ""

    def base_filter(self) -> queries.StreamFilter:
        if self.kind == "feed":
            return queries.StreamFilter(feed_id=self.ident)
        if self.kind == "category":
            return queries.StreamFilter(category_id=self.ident)
        if self.kind == "label":
            return queries.StreamFilter(label_id=self.ident)
        if self.kind == "starred":
            return queries.StreamFilter(state="starred")
        return queries.StreamFilter()

    def url(self) -> str:
        if self.kind == "feed":
            return reverse("ui:feed", args=[self.ident])
        if self.kind == "category":
            return reverse("ui:category", args=[self.ident])
        if self.kind == "label":
            return reverse("ui:label", args=[self.ident])
        if self.kind == "starred":
            return reverse("ui:starred")
        return reverse("ui:home")


def find_stream(user: User, kind: str, ident: int | None) -> Stream:
    """The person's stream of this kind and id; 404 for anything not theirs."""
    if kind == "main":
        return Stream("main", None, _("Main stream"))
    if kind == "starred":
        return Stream("starred", None, _("Favourites"))
    if ident is None:
        raise Http404(_("No such stream."))
    if kind == "feed":
        sub = queries.subscription(user, feed_id=ident)
        if sub is None:
            raise Http404(_("You do not follow this feed."))
        return Stream("feed", ident, sub.display_title)
    if kind == "category":
        category = queries.category(user, category_id=ident)
        if category is None:
            raise Http404(_("No such category."))
        return Stream("category", ident, category.name)
    if kind == "label":
        label = queries.label(user, ident)
        if label is None:
            raise Http404(_("No such label."))
        return Stream("label", ident, label.name)
    raise Http404(_("No such stream."))


class BadChoice(ValueError):
    """A query parameter out of its choices: the page answers 400 with the reason."""


@dataclass(frozen=True)
class Choices:
    view: str
    state: str
    oldest_first: bool
    search: str
    after: tuple[datetime, int] | None


def read_choices(request: HttpRequest, user: User, stream_kind: str = "main") -> Choices:
    view = request.GET.get("view") or user.default_view
    if view not in VIEWS:
        raise BadChoice(_("Unknown view: choose normal, reader or global."))
    # Favourites are mostly read already: all of them unless the reader asks for fewer.
    default_state = "all" if stream_kind == "starred" else user.default_state
    state = request.GET.get("state") or default_state
    if state not in STATES:
        raise BadChoice(_("Unknown state: choose unread, all or starred."))
    order = request.GET.get("order") or ("oldest" if user.oldest_first else "newest")
    if order not in ("newest", "oldest"):
        raise BadChoice(_("Unknown order: choose newest or oldest."))
    return Choices(
        view=view,
        state=state,
        oldest_first=order == "oldest",
        search=request.GET.get("search", "").strip()[:1000],
        after=parse_cursor(request.GET.get("after", "")),
    )


def parse_cursor(raw: str) -> tuple[datetime, int] | None:
    """`after=<microseconds since 1970>.<entry id>`: where the next page starts."""
    if not raw:
        return None
    micros, _sep, entry_id = raw.partition(".")
    digits = micros.removeprefix("-")
    if not (digits.isascii() and digits.isdigit() and len(micros) <= 20 and is_row_id(entry_id)):
        raise BadChoice(_("This page link is damaged; start again from the first page."))
    try:
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))
    except OverflowError:
        raise BadChoice(_("This page link is damaged; start again from the first page.")) from None
    return moment, int(entry_id)


def format_cursor(cursor: tuple[datetime, int] | None) -> str:
    if cursor is None:
        return ""
    moment, entry_id = cursor
    micros = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return f"{micros}.{entry_id}"


def stream_filter(stream: Stream, choices: Choices) -> queries.StreamFilter:
    flt = replace(stream.base_filter(), oldest_first=choices.oldest_first)
    if choices.search:
        # The search box of the top bar: FreshRSS's syntax, within the stream (feeds.search).
        flt = replace(flt, search=choices.search)
    if stream.kind != "starred":
        flt = replace(flt, state=choices.state)  # type: ignore[arg-type]
    elif choices.state == "unread":  # the unread ones among the favourites
        flt = replace(flt, state="unread", starred_only=True)
    return flt


def url_pattern(name: str) -> str:
    """The address of a view taking one id, with `{}` for the id: `reverse` once per page."""
    sentinel = 987654321
    head, _, tail = reverse(name, args=[sentinel]).partition(str(sentinel))
    return "{}".join(part.replace("{", "{{").replace("}", "}}") for part in (head, tail))


def url_maker(name: str) -> Callable[[int], str]:
    """`reverse` once, then string formatting: a sidebar of 500 feeds has 1,000 links."""
    return url_pattern(name).format


def sidebar(user: User) -> dict[str, object]:
    """Categories with their feeds and unread counts, labels, saved queries.

    Small queries and plain rows: the unread counts grouped by feed (the main stream's
    total is their sum, less the feeds kept out of it), the subscriptions as tuples rather than
    three model objects each, the categories, the starred count."""
    counts = queries.unread_counts_by_feed(user)
    boxes: dict[int | None, CategoryBox] = {}
    for category in queries.categories(user):
        boxes[category.id] = CategoryBox(category)
    loose = CategoryBox(None)
    feed_url = url_maker("ui:feed")
    icon_url = url_maker("ui:favicon")
    main = Subscription.Visibility.MAIN
    kept_out = 0
    for sub in queries.subscription_lines(user):
        box = boxes.get(sub.category_id, loose) if sub.category_id is not None else loose
        unread = counts.get(sub.feed_id, 0)
        if sub.visibility != main:
            kept_out += unread
        box.feeds.append(
            FeedLine(
                sub.feed_id,
                sub.display_title,
                sub.visibility,
                readable(sub.last_error),
                unread,
                feed_url(sub.feed_id),
                icon_url(sub.feed_id) if sub.favicon_id else "",
            )
        )
    ordered = list(boxes.values())
    if loose.feeds:
        ordered.append(loose)
    return {
        "boxes": ordered,
        "labels": queries.labels(user),
        "saved_queries": queries.saved_queries(user),
        # = queries.unread_total: the person's unread states less those of the feeds kept out of
        # the main stream, from the counts already read.
        "unread_total": sum(counts.values()) - kept_out,
        "starred_total": queries.starred_count(user),
    }


def attach_urls(shown: list[Shown], feed_titles: dict[int, str]) -> None:
    """The links and form targets of each entry, made without a `reverse` per entry, and the
    person's title for its feed (`feed_titles`, by feed id; else the feed's own)."""
    read, star, labels = (
        url_maker("ui:set_read"),
        url_maker("ui:set_starred"),
        url_maker("ui:set_labels"),
    )
    feed, icon = url_maker("ui:feed"), url_maker("ui:favicon")
    for item in shown:
        entry_id, feed_id = item.state.entry_id, item.state.feed_id
        item.read_url, item.star_url, item.labels_url = (
            read(entry_id),
            star(entry_id),
            labels(entry_id),
        )
        item.feed_url = feed(feed_id)
        item.icon = icon(feed_id) if item.state.feed.favicon_id else ""
        item.feed_title = feed_titles.get(feed_id, "")


def with_days(rows: list[EntryState], day: date) -> list[Shown]:
    """Day separators, each at most once per page: Today, Yesterday, Before yesterday (from
    the entries' dates in the reader's time zone; `day` is today there)."""
    seen: set[str] = set()
    shown = []
    for row in rows:
        local = timezone.localtime(row.sort_date).date()
        group = (
            "today" if local >= day else "yesterday" if local == day - timedelta(1) else "before"
        )
        first = group not in seen
        seen.add(group)
        shown.append(Shown(row, group if first else ""))
    return shown


def attach_labels(shown: list[Shown]) -> None:
    by_state = queries.label_ids_of([s.state.pk for s in shown])
    for item in shown:
        item.label_ids = by_state.get(item.state.pk, set())


def render_stream(request: HttpRequest, user: User, stream: Stream) -> HttpResponse:
    try:
        choices = read_choices(request, user, stream.kind)
    except BadChoice as exc:
        return bad_request(request, str(exc))
    day = today()
    page_key = pagecache.key(request, user, day.isoformat())
    kept = pagecache.get(page_key)
    if page_key is not None and kept is not None:
        return pagecache.answer(request, page_key, kept)
    flt = stream_filter(stream, choices)
    status = 200
    side = sidebar(user)
    boxes: list[CategoryBox] = side["boxes"]  # type: ignore[assignment]
    context: dict[str, object] = {
        "stream": stream,
        "choices": choices,
        "watermark": queries.newest_state_id(),
        "poll_seconds": int(getattr(settings, "LISEUSE_UI_POLL_SECONDS", 120)),
        "search_error": "",
        **side,
    }
    panel = request.GET.get("panel") == "1"
    if not panel:
        context["sidebar_boxes"] = pieces.sidebar_boxes(
            boxes, url_pattern("ui:category"), (stream.kind, stream.ident)
        )
    if choices.view == "global":
        context["global_boxes"] = pieces.global_boxes(boxes, url_pattern("ui:category"))
    else:
        limit = user.page_size if choices.view == "normal" else max(1, user.page_size // 2)
        try:
            page = queries.stream(user, flt, limit=limit, after=choices.after)
        except queries.SearchError as exc:
            context["search_error"] = str(exc)
            status = 400
            page = queries.StreamPage(entries=[], next_after=None)
        shown = (
            with_days(page.entries, day)
            if choices.view == "normal"
            else [Shown(s) for s in page.entries]
        )
        attach_labels(shown)
        # The sidebar's lines have the person's own titles for the feeds: no query of their own.
        attach_urls(shown, {line.feed_id: line.title for box in boxes for line in box.feeds})
        context["entries"] = shown
        context["entry_articles"] = pieces.entry_articles(
            shown,
            view=choices.view,
            gone_when_read=flt.state == "unread",
            gone_when_unstarred=flt.state == "starred" or flt.starred_only,
            next_path=request.get_full_path(),
            csrf_token=get_token(request),
            labels=side["labels"],  # type: ignore[arg-type]
            stream_title=stream.title,
            today=day,
            yesterday=day - timedelta(1),
        )
        context["next_cursor"] = format_cursor(page.next_after)
    # The global view opens a feed in place: only the entries, no page around them.
    template = "ui/_panel.html" if panel else "ui/stream.html"
    response = render(request, template, context, status=status)
    if page_key is None or status != 200:
        return response
    return pagecache.keep(request, page_key, response.content)


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("ui:login" if User.objects.exists() else "ui:setup")
    return main_stream(request)


@personal
def main_stream(request: HttpRequest, user: User) -> HttpResponse:
    return render_stream(request, user, find_stream(user, "main", None))


@personal
def starred(request: HttpRequest, user: User) -> HttpResponse:
    return render_stream(request, user, find_stream(user, "starred", None))


@personal
def category(request: HttpRequest, user: User, category_id: int) -> HttpResponse:
    return render_stream(request, user, find_stream(user, "category", category_id))


@personal
def feed(request: HttpRequest, user: User, feed_id: int) -> HttpResponse:
    return render_stream(request, user, find_stream(user, "feed", feed_id))


@personal
def label(request: HttpRequest, user: User, label_id: int) -> HttpResponse:
    return render_stream(request, user, find_stream(user, "label", label_id))
