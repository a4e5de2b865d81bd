"""Acting on entries from the reading pages: read / unread, star, labels, mark all as read,
refresh a feed, and the small JSON endpoint the page polls for new articles.

Each action is a plain POST form that redirects back (303) to the page it came from; the
page's script sends the same form and asks for JSON instead, to stay on the page.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from datetime import time
from datetime import timedelta

from django.http import Http404
from django.http import HttpRequest
from django.http import HttpResponse
from django.http import HttpResponseRedirect
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django.views.decorators.http import require_POST

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds import worker
from liseuse.feeds.models import EntryState
from liseuse.lib.ids import is_row_id
from liseuse.ui.views.common import back_to
from liseuse.ui.views.common import bad_request
from liseuse.ui.views.common import personal
from liseuse.ui.views.common import wants_json
from liseuse.ui.views.stream import Choices
from liseuse.ui.views.stream import find_stream
from liseuse.ui.views.stream import stream_filter


def _done(request: HttpRequest, payload: dict[str, object]) -> HttpResponse:
    if wants_json(request):
        return JsonResponse(payload)
    return HttpResponseRedirect(back_to(request, reverse("ui:home")), status=303)


def _flag(request: HttpRequest, name: str) -> bool | None:
    value = request.POST.get(name)
    return {"1": True, "0": False}.get(value or "")


def _own_state(user: User, entry_id: int) -> EntryState | None:
    return queries.state_of(user, entry_id)


@require_POST
@personal
def set_read(request: HttpRequest, user: User, entry_id: int) -> HttpResponse:
    read = _flag(request, "read")
    if read is None:
        return bad_request(request, _("Say read=1 or read=0."))
    state = _own_state(user, entry_id)
    if state is None:
        return HttpResponse(_("No such entry."), status=404)
    queries.set_read(user, [entry_id], read)
    # The page's counts change at once: the total, and its feed's (its category's is the sum
    # of its feeds', added up by the page as after a poll).
    feed_unread = queries.states(user, queries.StreamFilter(feed_id=state.feed_id)).count()
    payload = {
        "read": read,
        "unread_total": queries.unread_total(user),
        "feeds": {str(state.feed_id): feed_unread},
    }
    return _done(request, payload)


@require_POST
@personal
def set_starred(request: HttpRequest, user: User, entry_id: int) -> HttpResponse:
    starred = _flag(request, "starred")
    if starred is None:
        return bad_request(request, _("Say starred=1 or starred=0."))
    if _own_state(user, entry_id) is None:
        return HttpResponse(_("No such entry."), status=404)
    queries.set_starred(user, [entry_id], starred)
    # The sidebar's Favourites count changes at once too.
    return _done(request, {"starred": starred, "starred_total": queries.starred_count(user)})


@require_POST
@personal
def set_labels(request: HttpRequest, user: User, entry_id: int) -> HttpResponse:
    """The entry's labels become exactly the ticked ones (plus a new one, if named)."""
    if _own_state(user, entry_id) is None:
        return HttpResponse(_("No such entry."), status=404)
    raw = request.POST.getlist("label")
    if not all(is_row_id(value) for value in raw):
        return bad_request(request, _("Labels are given by their number."))
    wanted = {int(value) for value in raw}
    own = {label.id: label for label in queries.labels(user)}
    if not wanted <= own.keys():
        return bad_request(request, _("No such label."))
    new_name = request.POST.get("new_label", "").strip()
    created = None
    if new_name:
        try:
            created = queries.label_named(user, new_name)
        except queries.NameTaken as exc:
            return bad_request(request, str(exc))
        if created is not None:
            own[created.id] = created
            wanted.add(created.id)
    for label_id, label in own.items():
        queries.set_label(user, [entry_id], label, label_id in wanted)
    payload: dict[str, object] = {"labels": sorted(wanted)}
    if created is not None:
        # The page's script adds it to the menu, ticked: else the next save, made from the
        # boxes shown, took it off again.
        payload["named"] = {"id": created.id, "name": created.name}
    return _done(request, payload)


@require_POST
@personal
def mark_all_read(request: HttpRequest, user: User) -> HttpResponse:
    """Mark a stream read up to the moment its page was loaded (`seen_up_to`, the page's
    watermark: `queries.newest_state_id()` then): what arrived after was never shown, and
    stays unread. `older_than` = day / week
    keeps the entries of today / of the last seven days unread."""
    kind = request.POST.get("stream", "main")
    raw_id = request.POST.get("id", "")
    seen = request.POST.get("seen_up_to", "")
    if not is_row_id(seen) or (raw_id and not is_row_id(raw_id)):
        return bad_request(request, _("This form is damaged; reload the page and try again."))
    stream = find_stream(user, kind, int(raw_id) if raw_id else None)
    # With a search on, "mark all" marks the search's results only.
    search = request.POST.get("search", "").strip()[:1000]
    choices = Choices(view="normal", state="unread", oldest_first=False, search=search, after=None)
    flt = stream_filter(stream, choices)
    if stream.kind == "starred":
        flt = replace(flt, state="starred")
    older_than = request.POST.get("older_than", "")
    if older_than not in ("", "day", "week"):
        return bad_request(request, _("Choose older than one day or one week."))
    if older_than:
        midnight = timezone.make_aware(datetime.combine(timezone.localdate(), time()))
        flt = replace(flt, until=midnight - timedelta(days=7 if older_than == "week" else 0))
    try:
        changed = queries.mark_stream_read_up_to(user, flt, int(seen))
    except queries.SearchError as exc:
        return bad_request(request, str(exc))
    return _done(request, {"changed": changed, "unread_total": queries.unread_total(user)})


@require_POST
@personal
def refresh_feed(request: HttpRequest, user: User, feed_id: int) -> HttpResponse:
    try:
        worker.refresh_feed_now(user, feed_id)
    except worker.NotFollowed:
        raise Http404("no such feed") from None
    except worker.RefreshRefused as exc:
        reason = _("Not refreshed: %(reason)s.") % {"reason": exc}
        if wants_json(request):
            return JsonResponse({"refreshed": False, "reason": reason}, status=429)
        # A page in the site's layout with a way back; it was a bare sentence.
        back = back_to(request, reverse("ui:feed", args=[feed_id]))
        context = {"title": _("Not refreshed"), "reason": reason, "back": back}
        return render(request, "ui/refused.html", context, status=429)
    return _done(request, {"refreshed": True})


@require_POST
@personal
def refresh_feeds_soon(request: HttpRequest, user: User) -> HttpResponse:
    """The "Refresh" of a stream of several feeds: a category's feeds, or every feed of the
    person's for the others (the main stream, favourites, a label; a feed's page fetches at
    once, `refresh_feed`, but this takes its one feed too), made due for the refresh loop
    (`worker.refresh_soon`). Back to the page, at a note that says so (shown by its fragment,
    without script), or JSON for the page's script."""
    kind = request.POST.get("stream", "main")
    raw_id = request.POST.get("id", "")
    if raw_id and not is_row_id(raw_id):
        return bad_request(request, _("Give the stream to refresh."))
    stream = find_stream(user, kind, int(raw_id) if raw_id else None)
    made_due = worker.refresh_soon(
        user,
        category_id=stream.ident if stream.kind == "category" else None,
        feed_id=stream.ident if stream.kind == "feed" else None,
    )
    note = "refreshing" if made_due else "refreshed"
    if wants_json(request):
        return JsonResponse({"made_due": made_due, "note": note})
    back = back_to(request, stream.url())
    return HttpResponseRedirect(f"{back.split('#')[0]}#{note}", status=303)


@require_GET
@personal
def unread_json(request: HttpRequest, user: User) -> HttpResponse:
    """What the page polls: unread counts (total and per feed) and how many entries of its
    stream arrived since it was loaded (`after`, the page's watermark)."""
    after = request.GET.get("after", "")
    kind = request.GET.get("stream", "main")
    raw_id = request.GET.get("id", "")
    state = request.GET.get("state", "unread")
    if not is_row_id(after) or (raw_id and not is_row_id(raw_id)):
        return bad_request(request, _("Give after=<the page's watermark> and the stream."))
    if state not in ("unread", "all", "starred"):
        return bad_request(request, _("Unknown state: choose unread, all or starred."))
    stream = find_stream(user, kind, int(raw_id) if raw_id else None)
    # The page's own search too: the banner must not announce entries its reload won't show.
    search = request.GET.get("search", "").strip()
    choices = Choices(view="normal", state=state, oldest_first=False, search=search, after=None)
    try:
        arrived = queries.arrived_after(user, stream_filter(stream, choices), int(after))
    except queries.SearchError as exc:
        return bad_request(request, str(exc))
    counts = queries.unread_counts_by_feed(user)
    return JsonResponse(
        {
            "unread_total": queries.unread_total(user),
            "feeds": {str(k): v for k, v in counts.items()},
            "arrived": arrived,
        }
    )
