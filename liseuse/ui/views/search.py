"""The search page: a query in FreshRSS's syntax, its results, and "save this search".

The reading views can take the same query (`StreamFilter.search`); this page is the plain,
JavaScript-free way in, and where a bad query is explained. It searches every feed the person
follows, those kept out of the main stream too, a page at a time (`?after=`, as the reading
pages page).
"""

from __future__ import annotations

from django.http import HttpRequest
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.ui.views.common import bad_request
from liseuse.ui.views.common import personal
from liseuse.ui.views.labels import SavedQueryForm
from liseuse.ui.views.stream import BadChoice
from liseuse.ui.views.stream import format_cursor
from liseuse.ui.views.stream import parse_cursor

STATES = ("all", "unread", "starred", "read")


@personal
@require_GET
def search(request: HttpRequest, user: User) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    state = request.GET.get("state", "all")
    if state not in STATES:
        state = "all"
    try:
        after = parse_cursor(request.GET.get("after", ""))
    except BadChoice as exc:
        return bad_request(request, str(exc))
    context: dict[str, object] = {
        "q": query,
        "state": state,
        "states": STATES,
        "results": [],
        "next_cursor": "",
        # A result opens its feed's page showing that entry: in the person's view, but the
        # global one, which lists no entries.
        "view": "normal" if user.default_view == "global" else "",
        "error": "",
        "saved_form": SavedQueryForm(user, initial={"query": query}),
    }
    status = 200
    if query:
        flt = queries.StreamFilter(state=state, search=query, every_feed=True)  # type: ignore[arg-type]
        try:
            page = queries.stream(user, flt, limit=user.page_size, after=after)
        except queries.SearchError as exc:
            context["error"] = str(exc)
            status = 400
        else:
            names = {sub.feed_id: sub.display_title for sub in queries.subscription_lines(user)}
            context["results"] = [
                (found, names.get(found.feed_id, str(found.feed))) for found in page.entries
            ]
            context["next_cursor"] = format_cursor(page.next_after)
    return render(request, "ui/manage/search.html", context, status=status)
