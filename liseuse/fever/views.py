"""The one Fever endpoint: every call is `POST /api/fever.php?api&<what>`, answered in JSON.

Spec: the Fever API (https://feedafever.com/api, archived), as FreshRSS serves it at the same
path (docs: https://freshrss.github.io/FreshRSS/en/developers/06_Fever_API.html). A call names
what it wants with bare parameters (`groups`, `feeds`, `favicons`, `items`, `links`,
`unread_item_ids`, `saved_item_ids`), several at once if it likes, and may carry one `mark`
write. Parameters are read from the query string and from the form body alike (the body wins),
because clients put writes in either: freshrss-api sends `mark=item&as=read&id=N` in the query
string with only `api_key` in the body.

Answers:
- a wrong, missing or disabled `api_key`: 200 `{"api_version": 3, "auth": 0}` and nothing else,
  as Fever and FreshRSS do (clients read `auth`, not the status code);
- otherwise `{"api_version": 3, "auth": 1, "last_refreshed_on_time": <s>, …parts}`;
- a malformed parameter: 400 with `{"error": "fever: …"}`, before anything is written.

Item ids are the person's own `EntryState` ids, which grow as entries reach them (see
`feeds.queries.states_by_state_id`), not the shared `Entry.id`.

What a person reaches: only their own entry states and subscriptions (`feeds.queries`), so an id
of another person's item, feed or group matches nothing and the write changes nothing; the
answer then carries the person's unchanged id lists, which is how a Fever client learns it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from liseuse.accounts import changes
from liseuse.accounts import throttle
from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.fever import responses
from liseuse.fever.auth import fever_user

API_VERSION = 3
# Fever's page: `items` returns at most 50, and clients page on "fewer than 50 means the end".
ITEMS_PER_CALL = 50
MAX_IDS = 1000
# Ids past a 64-bit integer match nothing; they are clamped rather than refused, so that a
# client asking "anything above this huge id?" simply gets nothing.
_BIGGEST_ID = 2**63 - 1
# `before` past this (year 3000) means "no bound" too.
_LATEST_BEFORE = 32_503_680_000
_MARK_KINDS = ("item", "feed", "group")
_MARK_AS = ("read", "unread", "saved", "unsaved")
# Fever's "Sparks" pseudo-group: liseuse has no sparks, so marking it read changes nothing.
_SPARKS = -1


class BadParameter(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Mark:
    kind: str  # item | feed | group
    state: str  # read | unread | saved | unsaved
    id: int
    before: datetime | None  # arrived by; None: no bound


def _whole(name: str, raw: str, *, allow_negative_one: bool = False) -> int:
    raw = raw.strip()
    if allow_negative_one and raw == "-1":
        return -1
    if not raw.isascii() or not raw.isdigit():
        raise BadParameter(f"fever: {name} must be a whole number, not {raw[:40]!r}")
    # Python refuses to parse very long digit strings; anything that long is past 64 bits.
    return _BIGGEST_ID if len(raw) > 19 else min(int(raw), _BIGGEST_ID)


def _id_list(name: str, raw: str, *, first: int | None = None) -> list[int]:
    """A comma-separated id list (only its `first` ids if given); empty elements (a trailing
    comma) are skipped."""
    parts = [part for part in raw.split(",") if part.strip()][:first]
    # Bounded so that one call never turns into a query with more parameters than the database
    # takes; no client names a thousand feeds or groups at once.
    if len(parts) > MAX_IDS:
        raise BadParameter(f"fever: {name} may name at most {MAX_IDS} ids")
    return [_whole(name, part) for part in parts]


def _params(request: HttpRequest) -> dict[str, str]:
    params = {key: request.GET.get(key, "") for key in request.GET}
    params.update({key: request.POST.get(key, "") for key in request.POST})
    params.pop("api_key", None)
    return params


def _mark(params: dict[str, str]) -> Mark | None:
    """`mark=item&as=read|unread|saved|unsaved&id=<item>`;
    `mark=feed&as=read&id=<feed>&before=<unix s>`; `mark=group&as=read&id=<group>&before=<s>`,
    group 0 being Kindling (every feed) and -1 Sparks. `before` is the time of the client's last
    `items` call: only entries that had arrived by then are marked, the ones it has shown."""
    if "mark" not in params:
        return None
    kind = params["mark"].strip().lower()
    state = params.get("as", "").strip().lower()
    if kind not in _MARK_KINDS:
        raise BadParameter("fever: mark must be item, feed or group")
    if state not in _MARK_AS:
        raise BadParameter("fever: as must be read, unread, saved or unsaved")
    if kind != "item" and state != "read":
        raise BadParameter(f"fever: a {kind} can only be marked as read")
    if "id" not in params:
        raise BadParameter("fever: mark needs an id")
    mark_id = _whole("id", params["id"], allow_negative_one=kind == "group")
    before = None
    raw_before = params.get("before", "").strip()
    if kind != "item" and raw_before:
        seconds = _whole("before", raw_before)
        if 0 < seconds < _LATEST_BEFORE:
            before = datetime.fromtimestamp(seconds, UTC)
    return Mark(kind, state, mark_id, before)


def _apply(user: User, mark: Mark) -> None:
    if mark.kind == "item":
        entry_id = queries.entry_id_of_state(user, mark.id)
        if entry_id is None:
            return  # not an item of this person's
        if mark.state in ("read", "unread"):
            queries.set_read(user, [entry_id], mark.state == "read")
        else:
            queries.set_starred(user, [entry_id], mark.state == "saved")
    elif mark.kind == "feed":
        queries.mark_feeds_read_arrived_by(user, [mark.id], mark.before)
    elif mark.id == 0:
        queries.mark_feeds_read_arrived_by(user, None, mark.before)
    elif mark.id != _SPARKS:
        feed_ids = queries.category_feed_ids(user, [mark.id])
        queries.mark_feeds_read_arrived_by(user, feed_ids, mark.before)


@dataclass(frozen=True, slots=True)
class ItemsQuery:
    above: int | None
    below: int | None
    ids: list[int] | None
    feed_ids: list[int] | None
    group_ids: list[int] | None


def _items_query(params: dict[str, str]) -> ItemsQuery:
    """`items`, selected by, in this order of precedence: `max_id` (the 50 below it, newest
    first), `with_ids` (up to 50 named ones), `since_id` (the 50 above it, oldest first), else
    the oldest 50; optionally within `feed_ids=1,2` or `group_ids=3,4` (groups win, as in
    FreshRSS). An empty value counts as absent: some clients send `since_id=` on a first sync."""
    above = below = None
    ids = None
    if params.get("max_id", "").strip():
        below = _whole("max_id", params["max_id"])
    elif "with_ids" in params:
        ids = _id_list("with_ids", params["with_ids"], first=ITEMS_PER_CALL)
    elif params.get("since_id", "").strip():
        above = _whole("since_id", params["since_id"])
    group_ids = _id_list("group_ids", params["group_ids"]) if "group_ids" in params else None
    feed_ids = _id_list("feed_ids", params["feed_ids"]) if "feed_ids" in params else None
    return ItemsQuery(above, below, ids, feed_ids, group_ids)


def _items(user: User, query: ItemsQuery) -> list[dict[str, Any]]:
    feed_ids = query.feed_ids
    if query.group_ids is not None:
        if 0 in query.group_ids:  # Kindling: every feed
            feed_ids = None
        else:
            feed_ids = queries.category_feed_ids(user, query.group_ids)
    states = queries.states_by_state_id(
        user,
        above=query.above,
        below=query.below,
        ids=query.ids,
        feed_ids=feed_ids,
        newest_first=query.below is not None,
        limit=ITEMS_PER_CALL,
    )
    return responses.items(states)


def _answer(user: User, params: dict[str, str]) -> dict[str, Any]:
    # Everything is parsed before anything is written: a malformed call changes nothing.
    mark = _mark(params)
    items_query = _items_query(params) if "items" in params else None

    # The write first, so that every part of this answer already reflects it.
    if mark is not None:
        _apply(user, mark)

    body: dict[str, Any] = {}
    if "groups" in params or "feeds" in params:
        subscriptions = queries.subscriptions(user)
        if "groups" in params:
            body["groups"] = responses.groups(queries.categories(user))
        if "feeds" in params:
            body["feeds"] = responses.feeds(subscriptions)
        body["feeds_groups"] = responses.feeds_groups(subscriptions)
    if "favicons" in params:
        body["favicons"] = responses.favicons(queries.favicons_of(user))
    if items_query is not None:
        body["total_items"] = queries.entry_count(user)
        body["items"] = _items(user, items_query)
    if "links" in params:
        body["links"] = []  # Fever's "Hot" links: liseuse has none.
    # After a write Fever answers with the list it changed (freshrss-api checks for it).
    if "unread_item_ids" in params or (mark is not None and mark.state in ("read", "unread")):
        ids = queries.state_ids_with(user, "unread")
        body["unread_item_ids"] = responses.ids_string(ids)
    if "saved_item_ids" in params or (mark is not None and mark.state in ("saved", "unsaved")):
        ids = queries.state_ids_with(user, "starred")
        body["saved_item_ids"] = responses.ids_string(ids)
    return body


@csrf_exempt  # Apps authenticate with api_key, never with a session cookie.
@require_http_methods(["GET", "POST"])
def fever(request: HttpRequest) -> JsonResponse:
    # A wrong key is a failed login: counted per address (Fever sends no name), as the login
    # page counts them (accounts.throttle); once blocked, no key is even looked at.
    address = throttle.client_address(request)
    if throttle.is_address_blocked(address):
        return JsonResponse({"api_version": API_VERSION, "auth": 0}, status=429)
    user = fever_user(request)
    if user is None:
        if request.POST.get("api_key"):
            throttle.record_address_failure(address)
        return JsonResponse({"api_version": API_VERSION, "auth": 0})
    params = _params(request)
    if "mark" in params:
        # Fever asks everything by POST: only a mark changes what the person's pages show
        # (accounts/changes.py counts it after the answer).
        changes.note_app_person(request, user)
    try:
        body = _answer(user, params)
    except BadParameter as error:
        return JsonResponse(
            {"api_version": API_VERSION, "auth": 1, "error": str(error)}, status=400
        )
    last = responses.unix(queries.last_refreshed(user))
    return JsonResponse(
        {"api_version": API_VERSION, "auth": 1, "last_refreshed_on_time": last, **body}
    )
