"""The Google Reader endpoints, at FreshRSS's paths and at the bare ones some clients use.

One entry point (`dispatch`) strips the `api/greader.php/` prefix, finds the endpoint with or
without a trailing slash, authenticates, and turns every refusal into a plain-text answer with a
message. Writes answer exactly `OK`: several clients (newsboat among them) check for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from liseuse.accounts import changes
from liseuse.accounts import throttle
from liseuse.accounts.models import User
from liseuse.feeds import icons
from liseuse.feeds import queries
from liseuse.feeds.models import Subscription
from liseuse.feeds.opml import OpmlError
from liseuse.feeds.opml import export_opml
from liseuse.feeds.opml import import_opml
from liseuse.feeds.queries import StreamFilter
from liseuse.feeds.subscribe import SubscribeError
from liseuse.feeds.subscribe import subscribe_url
from liseuse.feeds.urls import FeedUrlError
from liseuse.feeds.urls import normalize_feed_url
from liseuse.greader import auth
from liseuse.greader import editing
from liseuse.greader import ids
from liseuse.greader import params as P
from liseuse.greader import render
from liseuse.greader import streams
from liseuse.greader.errors import ApiError
from liseuse.greader.errors import bad_request
from liseuse.greader.errors import not_found
from liseuse.greader.params import Params
from liseuse.greader.render import Row

# Items per page: 20 unless asked, never more than queries.MAX_PAGE (a client asking for
# 100,000 gets pages and a continuation). Ids are light, so their pages are bigger.
DEFAULT_N = 20
MAX_IDS = 10_000
# Item ids one write may name; more is refused rather than half-applied.
MAX_WRITE_IDS = 10_000
URL_MAX = 2048  # Feed.url's length

Handler = Callable[[HttpRequest, User, Params], HttpResponse]


# --- answers -------------------------------------------------------------------------------------


def _cors(response: HttpResponse) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Headers"] = "Authorization"
    response["Access-Control-Allow-Methods"] = "GET, POST"
    response["Access-Control-Max-Age"] = "600"
    return response


def text(body: str, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


def as_json(data: Any) -> HttpResponse:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return HttpResponse(body, content_type="application/json; charset=utf-8")


def ok() -> HttpResponse:
    return text("OK")


# --- reading streams -----------------------------------------------------------------------------


def _narrow(user: User, stream: streams.Stream, params: Params) -> StreamFilter | None:
    """The stream's filter narrowed by `it` (include) and `xt` (exclude); None when they
    contradict each other, so the answer is empty."""
    flt = stream.filter()
    read: bool | None = {"read": True, "unread": False}.get(flt.state)
    starred: bool | None = True if flt.state == "starred" else None
    exclude_label: int | None = None

    def want(current: bool | None, value: bool) -> bool | None:
        if current is not None and current != value:
            raise _Contradiction
        return value

    try:
        for target, include in [(t, True) for t in params.get("it", [])] + [
            (t, False) for t in params.get("xt", [])
        ]:
            if not target:
                continue
            target_state = streams.state_name(target)
            name = streams.label_name(target)
            if target_state == "read":
                read = want(read, include)
            elif target_state in ("unread", "kept-unread", "fresh"):
                read = want(read, not include)
            elif target_state == "starred":
                starred = want(starred, include)
            elif name is not None and not include:
                label = queries.label_named(user, name, create=False)
                if label is not None:
                    exclude_label = label.pk
            # Other targets (like, broadcast, an included label) narrow nothing liseuse keeps.
    except _Contradiction:
        return None
    state: queries.State = "all" if read is None else ("read" if read else "unread")
    starred_only = False
    if starred is True:
        if state == "all":
            state = "starred"
        else:
            starred_only = True
    oldest = P.one(params, "r") == "o"
    since = P.one(params, "ot")
    until = P.one(params, "nt")
    return replace(
        flt,
        state=state,
        starred_only=starred_only,
        exclude_starred=starred is False,
        exclude_label_id=exclude_label,
        oldest_first=oldest,
        arrived_since=ids.from_client_time(since, "ot") if since else None,
        arrived_until=ids.from_client_time(until, "nt") if until else None,
    )


class _Contradiction(Exception):
    pass


def _stream_page(
    user: User, stream_id: str, params: Params, *, high: int, ids_only: bool = False
) -> tuple[Sequence[Row], list[int], str | None]:
    stream = streams.resolve(user, stream_id)
    flt = _narrow(user, stream, params)
    limit = P.number(params, "n", DEFAULT_N, low=1, high=high)
    raw_c = P.one(params, "c")
    after = ids.parse_continuation(raw_c) if raw_c else None
    if flt is None:
        return [], [], None
    if ids_only:
        found, next_after = queries.stream_entry_ids(user, flt, limit=limit, after=after)
        return [], found, ids.continuation(next_after) if next_after else None
    rows, next_after = queries.stream_rows(user, flt, render.ROW_FIELDS, limit=limit, after=after)
    return rows, [], ids.continuation(next_after) if next_after else None


def _subs_by_feed(user: User) -> dict[int, render.Sub]:
    return {sub["feed_id"]: sub for sub in queries.subscription_rows(user)}


def _items(user: User, rows: Sequence[Row]) -> list[dict[str, Any]]:
    labels = queries.label_names_of([row["id"] for row in rows])
    return render.items(rows, _subs_by_feed(user), labels)


def _contents(user: User, stream_id: str, params: Params) -> HttpResponse:
    rows, _, token = _stream_page(user, stream_id, params, high=queries.MAX_PAGE)
    body: dict[str, Any] = {
        "direction": "ltr",
        "id": streams.normalize(stream_id) or streams.READING_LIST,
        "title": stream_id,
        "author": user.username,
        "updated": int(timezone.now().timestamp()),
        "items": _items(user, rows),
    }
    if token:
        body["continuation"] = token
    return as_json(body)


def stream_contents(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    """`stream/contents?s=…` (BazQux's form); the stream in the path is `stream_contents_at`."""
    return _contents(user, P.one(params, "s") or streams.READING_LIST, params)


def stream_items_ids(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    stream_id = P.one(params, "s")
    if not stream_id:
        raise bad_request("s (the stream id) is required")
    _, refs, token = _stream_page(user, stream_id, params, high=MAX_IDS, ids_only=True)
    # Written out directly: ten thousand small dicts cost more than the query. Only `id`, which
    # is what clients use here; ids are integers, so nothing needs escaping.
    refs_json = ",".join([f'{{"id":"{entry_id}"}}' for entry_id in refs])
    tail = f',"continuation":"{token}"' if token else ""
    return HttpResponse(
        f'{{"itemRefs":[{refs_json}]{tail}}}', content_type="application/json; charset=utf-8"
    )


def _item_ids(params: Params, *, required: bool = True) -> list[int]:
    raw = [value for value in params.get("i", []) if value.strip()]
    if not raw and required:
        raise bad_request("i (one or more item ids) is required")
    if len(raw) > MAX_WRITE_IDS:
        raise bad_request(f"At most {MAX_WRITE_IDS} item ids at once")
    # An id beyond the database's range is nobody's: it matches nothing rather than failing.
    return [n for n in (ids.parse_item_id(value) for value in raw) if 0 < n < 2**63]


def stream_items_contents(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    wanted = _item_ids(params)
    if len(wanted) > queries.MAX_PAGE:
        raise bad_request(f"At most {queries.MAX_PAGE} items at once")
    # Items that are not the person's (purged since the app's last sync, or never theirs) are
    # left out, as FreshRSS does; none left is an empty list, not an error that would fail
    # the app's whole sync.
    rows = queries.rows_by_ids(user, wanted, render.ROW_FIELDS)
    if P.one(params, "r") == "o":
        rows.sort(key=lambda row: (row["sort_date"], row["entry_id"]))
    return as_json(
        {
            "direction": "ltr",
            "id": streams.READING_LIST,
            "updated": int(timezone.now().timestamp()),
            "items": _items(user, rows),
        }
    )


# --- reading-state writes ------------------------------------------------------------------------


@transaction.atomic
def edit_tag(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    _write_method(request)
    auth.check_edit_token(user, P.one(params, "T"))
    adds = [t for t in params.get("a", []) if t]
    removes = [t for t in params.get("r", []) if t]
    if not adds and not removes:
        raise bad_request("a (a tag to add) or r (a tag to remove) is required")
    # Only the person's own items change. The others (purged since the app's last sync, or
    # never theirs) are passed over with an "OK", as FreshRSS does: newsboat, say, keeps
    # sending a change that was not answered "OK", and would send this one for ever.
    own = queries.own_entry_ids(user, _item_ids(params))
    if not own:
        return ok()  # nothing to change (nor a label to make for nothing)
    for tag, on in [(t, True) for t in adds] + [(t, False) for t in removes]:
        state = streams.state_name(tag)
        name = streams.label_name(tag)
        if state == "read":
            queries.set_read(user, own, on)
        elif state == "kept-unread" and on:
            queries.set_read(user, own, False)
        elif state == "starred":
            queries.set_starred(user, own, on)
        elif name is not None:
            if on and len(name.strip()) > editing.NAME_MAX:
                raise bad_request(f"A label name is at most {editing.NAME_MAX} characters")
            try:
                label = queries.label_named(user, name, create=on)
            except queries.NameTaken as exc:
                raise bad_request(str(exc)) from None
            if label is not None:
                queries.set_label(user, own, label, on)
            elif on:
                raise bad_request("A label name cannot be empty")
        # Other states (tracking-*, like, broadcast, removing kept-unread) change nothing here.
    return ok()


def mark_all_as_read(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    _write_method(request)
    auth.check_edit_token(user, P.one(params, "T"))
    stream_id = P.one(params, "s")
    if not stream_id:
        raise bad_request("s (the stream to mark read) is required")
    stream = streams.resolve(user, stream_id)
    flt = stream.filter()
    if stream.kind == "read":
        return ok()
    if stream.kind == "starred":
        flt = replace(flt, starred_only=True)
    ts = P.one(params, "ts")
    until = ids.from_client_time(ts, "ts") if ts and ts.strip() != "0" else timezone.now()
    queries.mark_stream_read(user, replace(flt, until=until))
    return ok()


# --- subscriptions, folders, labels --------------------------------------------------------------


def _icon(request: HttpRequest, sub: render.Sub) -> str:
    if sub["feed__favicon_id"] is None:
        return ""
    # Apps load it as a plain image, without the session: the key opens this icon only.
    path = reverse("ui:favicon", args=[sub["feed_id"]])
    return request.build_absolute_uri(f"{path}?key={icons.app_key(sub['feed_id'])}")


def subscription_list(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    subs = []
    for sub in queries.subscription_rows(user):
        folder = sub["category__name"]
        subs.append(
            {
                "id": f"feed/{sub['feed_id']}",
                "title": render.plain(render.feed_title(sub)),
                "categories": [{"id": streams.LABEL + folder, "label": folder}] if folder else [],
                # An id too: apps send it back as feed/<url> (newsboat). Left as it is stored,
                # as a stream id (`streams.find_subscription` looks it up as it is).
                "url": sub["feed__url"],
                "htmlUrl": render.site_for_apps(sub),
                "iconUrl": _icon(request, sub),
                "firstitemmsec": str(ids.usec(sub["created_at"]) // 1000),
            }
        )
    return as_json({"subscriptions": subs})


def _feed_url(stream_id: str) -> str:
    raw = stream_id[len("feed/") :] if stream_id.startswith("feed/") else stream_id
    if raw.strip().isdigit():
        # A feed's id (feed/12) that is not one of the person's: it names nothing to follow
        # (as a URL it would have become "https://12/").
        raise bad_request(f"No subscription feed/{raw.strip()[:30]}; subscribe with feed/<URL>")
    if len(raw) > URL_MAX:
        raise bad_request(f"A feed URL is at most {URL_MAX} characters")
    try:
        return normalize_feed_url(raw)
    except FeedUrlError as exc:
        raise bad_request(f"{raw[:200]!r}: {exc}") from None


def subscription_edit(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    action = P.one(params, "ac", "edit")
    if action not in ("subscribe", "unsubscribe", "edit"):
        raise bad_request(f"ac must be subscribe, unsubscribe or edit, not {action!r}")
    targets = [s for s in params.get("s", []) if s.strip()]
    if not targets:
        raise bad_request("s (feed/<url or id>) is required")
    titles = params.get("t", [])
    add = streams.label_name(P.one(params, "a") or "")
    remove = streams.label_name(P.one(params, "r") or "")
    followed: dict[int, Subscription] = {}
    if action == "subscribe":
        # Outside the edits' transaction: a new feed is found (a site's page leads to its feed)
        # and fetched at once, as quickadd and FreshRSS do, and no write may wait on the
        # network. A URL that leads to no feed is a 400, not an "OK" for a broken subscription.
        for index, target in enumerate(targets):
            try:
                followed[index] = streams.find_subscription(user, target)
            except ApiError:
                title = titles[index].strip() if index < len(titles) else ""
                try:
                    followed[index] = subscribe_url(user, _feed_url(target), title=title)
                except SubscribeError as exc:
                    raise bad_request(str(exc)) from None
    with transaction.atomic():
        for index, target in enumerate(targets):
            title = titles[index].strip() if index < len(titles) else ""
            if action == "unsubscribe":
                editing.unfollow(streams.find_subscription(user, target))
                continue
            if action == "subscribe":
                sub = followed[index]
            else:
                sub = streams.find_subscription(user, target)
                if title:
                    sub.title = title
            if add:
                sub.category = editing.category_named(user, add)
            elif remove and sub.category is not None and sub.category.name == remove:
                sub.category = None
            sub.save()
    return ok()


def quickadd(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    raw = (P.one(params, "quickadd") or "").strip()
    if not raw:
        raise bad_request("quickadd (a feed or site URL) is required")
    url = raw[len("feed/") :] if raw.startswith("feed/") else raw
    if len(url) > URL_MAX:
        raise bad_request(f"A feed URL is at most {URL_MAX} characters")
    try:
        sub = streams.find_subscription(user, "feed/" + url)
    except ApiError:
        try:
            sub = subscribe_url(user, url)
        except SubscribeError as exc:
            return as_json({"numResults": 0, "query": raw, "error": str(exc)})
    return as_json(
        {
            "numResults": 1,
            "query": raw,
            "streamId": f"feed/{sub.feed_id}",
            "streamName": render.plain(sub.display_title),
        }
    )


def subscription_export(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    response = HttpResponse(export_opml(user), content_type="text/x-opml; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="liseuse.opml"'
    return response


def subscription_import(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    _write_method(request)
    if (request.content_type or "").startswith("multipart/"):
        # The file in a field named "opml", else the one file sent, whatever its field's name.
        # (The body itself cannot be read once Django has parsed it: it answered 500.)
        named = request.FILES.getlist("opml")
        files = [file for name in request.FILES for file in request.FILES.getlist(name)]
        upload = named[0] if named else files[0] if len(files) == 1 else None
        if upload is None:
            raise bad_request("Send the OPML file as the body, or as one file named opml")
        data = upload.read()
    else:
        data = request.body
    try:
        import_opml(user, data)
    except OpmlError as exc:
        raise bad_request(str(exc)) from None
    return ok()


def tag_list(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    # `unread_count` is left out: unread-count carries it, and a client library (google-reader)
    # refuses tag objects with keys other than id, label and type.
    tags: list[dict[str, str]] = [{"id": streams.STARRED}]
    tags += [
        {"id": streams.LABEL + c.name, "label": c.name, "type": "folder"}
        for c in queries.categories(user)
    ]
    tags += [
        {"id": streams.LABEL + label.name, "label": label.name, "type": "tag"}
        for label in queries.labels(user)
    ]
    return as_json({"tags": tags})


def rename_tag(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    _write_method(request)
    auth.check_edit_token(user, P.one(params, "T"))
    old = streams.label_name(P.one(params, "s") or "")
    new = streams.label_name(P.one(params, "dest") or "")
    if old is None or new is None:
        raise bad_request("s and dest must both be user/-/label/NAME")
    editing.rename_tag(user, old, new)
    return ok()


def disable_tag(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    _write_method(request)
    auth.check_edit_token(user, P.one(params, "T"))
    names = [streams.label_name(s) for s in params.get("s", []) + params.get("t", []) if s]
    if not names or any(name is None for name in names):
        raise bad_request("s must be one or more user/-/label/NAME")
    with transaction.atomic():
        for name in names:
            assert name is not None
            editing.disable_tag(user, name)
    return ok()


def unread_count(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    """Every feed, folder and label of the person's, with 0 when nothing of it is unread, and
    the reading list, as FreshRSS lists them: an app that updates its counts from this list
    kept the last count of one that had left it. `newestItemTimestampUsec` is the newest
    unread entry's date ("0" with none unread)."""
    per_feed = queries.unread_by_feed_with_newest(user)
    counts: list[dict[str, Any]] = []
    per_folder: dict[str, tuple[int, datetime | None]] = {
        category.name: (0, None) for category in queries.categories(user)
    }
    total, newest_overall = 0, None
    for sub in queries.subscription_rows(user):
        n, newest = per_feed.get(sub["feed_id"], (0, None))
        counts.append(_unread(f"feed/{sub['feed_id']}", n, newest))
        if n == 0 or sub["visibility"] == Subscription.Visibility.HIDDEN:
            # A hidden feed is in no folder's stream nor in the reading list (the sidebar
            # leaves it out of its counts too).
            continue
        if sub["category__name"] is not None:
            folder_n, folder_newest = per_folder.get(sub["category__name"], (0, None))
            per_folder[sub["category__name"]] = (folder_n + n, _later(folder_newest, newest))
        total += n
        newest_overall = _later(newest_overall, newest)
    counts.extend(
        _unread(streams.LABEL + name, n, newest) for name, (n, newest) in per_folder.items()
    )
    per_label = queries.unread_by_label(user)
    for label in queries.labels(user):
        n, newest = per_label.get(label.pk, (0, None))
        counts.append(_unread(streams.LABEL + label.name, n, newest))
    counts.append(_unread(streams.READING_LIST, total, newest_overall))
    return as_json({"max": total, "unreadcounts": counts})


def _unread(stream_id: str, count: int, newest: datetime | None) -> dict[str, Any]:
    return {
        "id": stream_id,
        "count": count,
        "newestItemTimestampUsec": str(ids.usec(newest)) if newest is not None else "0",
    }


def _later(one: datetime | None, other: datetime | None) -> datetime | None:
    return other if one is None else one if other is None else max(one, other)


def user_info(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    return as_json(
        {
            "userId": str(user.pk),
            "userName": user.username,
            "userProfileId": str(user.pk),
            "userEmail": user.email,
            "isBloggerUser": False,
            "signupTimeSec": int(user.date_joined.timestamp()),
            "isMultiLoginEnabled": False,
        }
    )


def token(request: HttpRequest, user: User, params: Params) -> HttpResponse:
    return text(auth.edit_token(user) + "\n")


def _write_method(request: HttpRequest) -> None:
    if request.method != "POST":
        raise ApiError(405, "This call changes data: send it as POST")


# --- Atom (newsboat 2.21's `feedhq` source) ----------------------------------------------------


def atom_stream(request: HttpRequest, user: User, params: Params, stream_id: str) -> HttpResponse:
    rows, _, token = _stream_page(user, stream_id, params, high=queries.MAX_PAGE)
    stream = streams.resolve(user, stream_id)
    title = stream_id
    if stream.subscription is not None:
        title = stream.subscription.display_title
    elif stream.category is not None:
        title = stream.category.name
    elif stream.label is not None:
        title = stream.label.name
    body = render.atom(
        stream_id=stream_id,
        title=title,
        updated=timezone.now(),
        rows=rows,
        subs=_subs_by_feed(user),
        labels=queries.label_names_of([row["id"] for row in rows]),
        continuation=token,
    )
    return HttpResponse(body, content_type="application/atom+xml; charset=utf-8")


# --- routing -------------------------------------------------------------------------------------

ROUTES: dict[str, Handler] = {
    "reader/api/0/token": token,
    "reader/api/0/user-info": user_info,
    "reader/api/0/tag/list": tag_list,
    "reader/api/0/subscription/list": subscription_list,
    "reader/api/0/subscription/edit": subscription_edit,
    "reader/api/0/subscription/quickadd": quickadd,
    "reader/api/0/subscription/export": subscription_export,
    "reader/api/0/subscription/import": subscription_import,
    "reader/api/0/rename-tag": rename_tag,
    "reader/api/0/disable-tag": disable_tag,
    "reader/api/0/unread-count": unread_count,
    "reader/api/0/stream/contents": stream_contents,
    "reader/api/0/stream/items/ids": stream_items_ids,
    "reader/api/0/stream/items/contents": stream_items_contents,
    "reader/api/0/edit-tag": edit_tag,
    "reader/api/0/mark-all-as-read": mark_all_as_read,
}
# The calls that change what the person's pages show; the others only read, whatever their
# method (some clients POST stream/items/contents): accounts/changes.py counts these alone.
WRITES = frozenset(
    {
        "reader/api/0/subscription/edit",
        "reader/api/0/subscription/quickadd",
        "reader/api/0/subscription/import",
        "reader/api/0/rename-tag",
        "reader/api/0/disable-tag",
        "reader/api/0/edit-tag",
        "reader/api/0/mark-all-as-read",
    }
)
CONTENTS_PREFIX = "reader/api/0/stream/contents/"
ATOM_PREFIX = "reader/atom/"


def client_login(request: HttpRequest, params: Params) -> HttpResponse:
    name = P.one(params, "Email") or ""
    address = throttle.client_address(request)
    # Throttled as the login page is (accounts.throttle): per account and per address.
    if throttle.is_blocked(name, address):
        raise ApiError(429, "Too many failed logins: try again later")
    try:
        user = auth.login(name, P.one(params, "Passwd") or "")
    except ApiError:
        throttle.record_failure(name, address)
        raise
    throttle.record_success(name)
    token = auth.auth_token(user)
    # LSID is there for Vienna RSS, which expects three lines.
    return text(f"SID={token}\nLSID=null\nAuth={token}\n")


def _route(request: HttpRequest, path: str) -> HttpResponse:
    path = path.lstrip("/")
    # FreshRSS tolerates the prefix given twice by a misconfigured client.
    while path.startswith("api/greader.php/"):
        path = path[len("api/greader.php/") :]
    if "\x00" in path:
        raise bad_request("The path contains a NUL character")
    fixed = path.rstrip("/")
    if fixed in ("", "check/compatibility"):
        return text("PASS" if fixed else "OK")
    params = P.read(request)
    if fixed == "accounts/ClientLogin":
        return client_login(request, params)
    user = auth.authenticate(request)
    if fixed in WRITES:
        changes.note_app_person(request, user)
    handler = ROUTES.get(fixed)
    if handler is not None:
        return handler(request, user, params)
    if path.startswith(CONTENTS_PREFIX):
        return _contents(user, path[len(CONTENTS_PREFIX) :], params)
    if path.startswith(ATOM_PREFIX):
        return atom_stream(request, user, params, path[len(ATOM_PREFIX) :])
    raise not_found(f"No such Google Reader call: /{path[:200]}")


@csrf_exempt
def dispatch(request: HttpRequest, path: str = "") -> HttpResponse:
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    try:
        response = _route(request, path)
    except ApiError as exc:
        response = text(exc.message + "\n", exc.status)
        if exc.status == 401:
            response["Google-Bad-Token"] = "true"
    return _cors(response)
