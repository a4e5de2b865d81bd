"""The search page: a query in FreshRSS's syntax, its results, and "save this search".

The reading views can take the same query (`StreamFilter.search`); this page is the plain,
JavaScript-free way in, and where a bad query is explained.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.ui.views.common import personal
from liseuse.ui.views.labels import SavedQueryForm

STATES = ("all", "unread", "starred", "read")


@personal
@require_GET
def search(request: HttpRequest, user: User) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    state = request.GET.get("state", "all")
    if state not in STATES:
        state = "all"
    context: dict[str, object] = {
        "q": query,
        "state": state,
        "states": STATES,
        "entries": [],
        "error": "",
        "saved_form": SavedQueryForm(user, initial={"query": query}),
    }
    status = 200
    if query:
        flt = queries.StreamFilter(state=state, search=query)  # type: ignore[arg-type]
        try:
            context["entries"] = queries.stream(user, flt, limit=user.page_size).entries
        except queries.SearchError as exc:
            context["error"] = str(exc)
            status = 400
    return render(request, "ui/manage/search.html", context, status=status)
