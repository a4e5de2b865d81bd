"""Isolation between people: bob gets a 404 for every one of alice's objects and changes none.

`ROUTES` names, for every URL route of liseuse, the test of this module that proves bob cannot
reach alice's objects through it, or why the route names no object. A new route without an
entry here fails `test_every_route_has_an_isolation_test_or_a_reason`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.test import override_settings
from django.urls import URLPattern
from django.urls import URLResolver
from django.urls import get_resolver
from django.utils import timezone

from liseuse.accounts.models import Session
from liseuse.accounts.models import User
from liseuse.feeds.models import Category
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Label
from liseuse.feeds.models import SavedQuery
from liseuse.feeds.models import Subscription
from liseuse.ui.views.sessions import reference
from tests.fever.conftest import fever_key
from tests.greader.conftest import GReader
from tests.greader.conftest import add_entry
from tests.greader.conftest import subscribe
from tests.greader.conftest import with_api_password
from tests.security.conftest import MARKERS
from tests.security.conftest import Alices
from tests.security.conftest import logged_in

pytestmark = pytest.mark.django_db


class NoId:
    """A route that names no object: `why` says how it stays within the caller's own data."""

    def __init__(self, why: str) -> None:
        self.why = why


OWN_LISTS = "test_bobs_pages_and_lists_never_show_alices_things"

ROUTES: dict[str, str | NoId] = {
    "ui:home": OWN_LISTS,
    "ui:starred": OWN_LISTS,
    "ui:setup": NoId("exists only before the first account; 404 afterwards"),
    "ui:login": NoId("anonymous form; takes a name and a password, no object"),
    "ui:logout": NoId("ends the caller's own session"),
    "ui:register": NoId("anonymous form, off unless LISEUSE_OPEN_REGISTRATION"),
    "ui:favicon": "test_bob_gets_404_for_the_icon_of_a_feed_he_does_not_follow",
    "ui:media": "test_media_tokens_are_signed_urls_not_anyones_objects",
    "ui:category": "test_bob_gets_404_for_alices_streams",
    "ui:feed": "test_bob_gets_404_for_alices_streams",
    "ui:label": "test_bob_gets_404_for_alices_streams",
    "ui:set_read": "test_bob_cannot_read_star_or_label_alices_entry",
    "ui:set_starred": "test_bob_cannot_read_star_or_label_alices_entry",
    "ui:set_labels": "test_bob_cannot_hang_alices_label_or_category_on_his_own_things",
    "ui:mark_all_read": "test_bob_cannot_mark_or_poll_alices_streams",
    "ui:unread_json": "test_bob_cannot_mark_or_poll_alices_streams",
    "ui:refresh_feed": "test_bob_cannot_refresh_a_feed_he_does_not_follow",
    "ui:refresh_soon": "test_bob_cannot_refresh_a_feed_he_does_not_follow",
    "ui:subscriptions": OWN_LISTS,
    "ui:subscription_add": NoId("takes a URL; feeds are shared, the subscription is the caller's"),
    "ui:subscription": "test_bob_cannot_see_change_refresh_or_delete_alices_subscription",
    "ui:subscription_delete": "test_bob_cannot_see_change_refresh_or_delete_alices_subscription",
    "ui:subscription_refresh": "test_bob_cannot_see_change_refresh_or_delete_alices_subscription",
    "ui:feed_health": OWN_LISTS,
    "ui:category_add": NoId("creates a category of the caller's"),
    "ui:category_edit": "test_bob_cannot_see_rename_or_delete_alices_category",
    "ui:category_delete": "test_bob_cannot_see_rename_or_delete_alices_category",
    "ui:opml_import": NoId("imports into the caller's own subscriptions"),
    "ui:opml_export": OWN_LISTS,
    "ui:settings": OWN_LISTS,
    "ui:settings_preferences": NoId("changes the caller's own settings"),
    "ui:api_password": NoId("changes the caller's own API password"),
    "ui:login_password": NoId("changes the caller's own password, asking the current one"),
    "ui:labels": OWN_LISTS,
    "ui:label_add": NoId("creates a label of the caller's"),
    "ui:label_edit": "test_bob_cannot_see_rename_or_delete_alices_label_or_saved_search",
    "ui:label_delete": "test_bob_cannot_see_rename_or_delete_alices_label_or_saved_search",
    "ui:saved_add": NoId("creates a saved search of the caller's"),
    "ui:saved_delete": "test_bob_cannot_see_rename_or_delete_alices_label_or_saved_search",
    "ui:search": OWN_LISTS,
    "ui:sessions": OWN_LISTS,
    "ui:session_end": "test_bob_cannot_end_alices_session",
    "ui:sessions_end_others": "test_bob_cannot_end_alices_session",
    "ui:accounts": "test_only_the_admin_reaches_the_accounts_pages",
    "ui:account_add": "test_only_the_admin_reaches_the_accounts_pages",
    "ui:account_active": "test_only_the_admin_reaches_the_accounts_pages",
    "ui:account_delete": "test_only_the_admin_reaches_the_accounts_pages",
    "ui:public": NoId("opt-in (LISEUSE_PUBLIC_READER): the one chosen person's main stream"),
    "ui:public_feed": "test_bob_cannot_reach_alices_objects_through_the_public_pages",
    "ops:healthz": NoId("anonymous; says whether the database answers, nothing of anyone"),
    "ops:metrics": NoId("instance-wide counts only, for a token or an allowed address"),
    "websub": "test_the_websub_callback_answers_only_to_a_feeds_secret_token",
    "greader:root": NoId("answers OK to a client's probe"),
    "greader:api": "test_bob_cannot_reach_alices_objects_through_the_google_reader_api",
    "greader:bare": "test_bob_cannot_reach_alices_objects_through_the_google_reader_api",
    "fever:api": "test_bob_cannot_reach_alices_objects_through_the_fever_api",
    "fever:api-slash": "test_bob_cannot_reach_alices_objects_through_the_fever_api",
}


def all_routes(
    patterns: list[URLPattern | URLResolver] | None = None, prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str]]:
    """(name with its namespace, full pattern) of every route the site answers."""
    if patterns is None:
        patterns = list(get_resolver().url_patterns)
    for item in patterns:
        if isinstance(item, URLResolver):
            inner = f"{namespace}:{item.namespace}" if namespace else item.namespace or ""
            if not item.namespace:
                inner = namespace
            yield from all_routes(list(item.url_patterns), prefix + str(item.pattern), inner)
        else:
            name = f"{namespace}:{item.name}" if namespace else str(item.name)
            yield name, prefix + str(item.pattern)


def test_every_route_has_an_isolation_test_or_a_reason() -> None:
    module = sys.modules[__name__]
    routes = dict(all_routes())
    assert len(routes) == len(list(all_routes())), "two routes share a name"
    missing = sorted(
        f"{name} ({pattern})" for name, pattern in routes.items() if name not in ROUTES
    )
    assert not missing, f"routes with no isolation test nor reason in ROUTES: {missing}"
    stale = sorted(set(ROUTES) - set(routes))
    assert not stale, f"ROUTES names routes that no longer exist: {stale}"
    for name, proof in ROUTES.items():
        if isinstance(proof, NoId):
            assert proof.why and "<" not in routes[name], f"{name} takes an id: it needs a test"
        else:
            assert callable(getattr(module, proof, None)), f"{name}: no test named {proof}"


def _unchanged(alices: Alices) -> None:
    sub = Subscription.objects.get(pk=alices.sub.pk)
    assert sub.title == "AliceOnly feed" and sub.category_id == alices.category.pk
    assert Category.objects.get(pk=alices.category.pk).name == "AliceOnly category"
    assert Label.objects.get(pk=alices.label.pk).name == "AliceOnly label"
    assert SavedQuery.objects.filter(pk=alices.saved.pk).exists()
    state = EntryState.objects.get(pk=alices.state.pk)
    assert not state.is_read and not state.is_starred
    assert list(state.labels.values_list("pk", flat=True)) == [alices.label.pk]


def _no_markers(content: bytes) -> None:
    for marker in MARKERS:
        assert marker not in content, marker


def test_bob_gets_404_for_alices_streams(world: Alices, bob_client: Client) -> None:
    for path in (
        f"/f/{world.sub.feed_id}/",
        f"/c/{world.category.pk}/",
        f"/l/{world.label.pk}/",
        f"/f/{world.sub.feed_id}/?view=reader&state=all",
        f"/c/{world.category.pk}/?view=global",
    ):
        response = bob_client.get(path)
        assert response.status_code == 404, path
        _no_markers(response.content)
    # The same pages are alice's: the 404 is about bob, not about the ids.
    assert logged_in(world.user).get(f"/f/{world.sub.feed_id}/?state=all").status_code == 200


def test_bob_gets_404_for_the_icon_of_a_feed_he_does_not_follow(
    world: Alices, bob_client: Client
) -> None:
    assert bob_client.get(f"/favicons/{world.sub.feed_id}").status_code == 404
    assert logged_in(world.user).get(f"/favicons/{world.sub.feed_id}").status_code == 200


def test_bob_cannot_read_star_or_label_alices_entry(world: Alices, bob_client: Client) -> None:
    entry = world.entry.pk
    assert bob_client.post(f"/entries/{entry}/read", {"read": "1"}).status_code == 404
    assert bob_client.post(f"/entries/{entry}/star", {"starred": "1"}).status_code == 404
    labels = {"labels": [str(world.label.pk)], "new_label": "mine"}
    assert bob_client.post(f"/entries/{entry}/labels", labels).status_code == 404
    _unchanged(world)
    assert not EntryState.objects.filter(entry=world.entry).exclude(user=world.user).exists()


def test_bob_cannot_hang_alices_label_or_category_on_his_own_things(
    world: Alices, bob: User, bob_client: Client
) -> None:
    # CommaFeed GHSA-prfv-88mm-5gpg: tagging one's own entry with someone else's tag.
    bobs = subscribe(bob, "https://bob-only.example/feed")
    entry = add_entry(bobs.feed, "bob's entry")
    tagged = bob_client.post(f"/entries/{entry.pk}/labels", {"label": [str(world.label.pk)]})
    assert tagged.status_code == 400
    assert not world.label.entry_states.exclude(pk=world.state.pk).exists()
    moved = bob_client.post(
        f"/manage/subscriptions/{bobs.pk}/",
        {"title": "", "category": str(world.category.pk), "visibility": "main"},
    )
    assert moved.status_code == 400
    bobs.refresh_from_db()
    assert bobs.category_id is None
    _unchanged(world)


def test_bob_cannot_mark_or_poll_alices_streams(world: Alices, bob_client: Client) -> None:
    for kind, ident in (
        ("feed", world.sub.feed_id),
        ("category", world.category.pk),
        ("label", world.label.pk),
    ):
        form = {"stream": kind, "id": str(ident), "seen_up_to": "999999999"}
        assert bob_client.post("/mark-all-read", form).status_code == 404, kind
        poll = bob_client.get("/unread.json", {"stream": kind, "id": str(ident), "after": "0"})
        assert poll.status_code == 404, kind
    # bob's own main stream: his marking never reaches alice's states.
    form = {"stream": "main", "seen_up_to": "999999999"}
    assert bob_client.post("/mark-all-read", form).status_code in (200, 303)
    _unchanged(world)


def test_bob_cannot_refresh_a_feed_he_does_not_follow(world: Alices, bob_client: Client) -> None:
    before = Feed.objects.get(pk=world.sub.feed_id).last_fetched_at
    theirs = bob_client.post(f"/f/{world.sub.feed_id}/refresh")
    nobody = bob_client.post("/f/987654/refresh")
    # The answer is the one for a feed that does not exist: it tells nothing of alice's feeds.
    assert theirs.status_code == nobody.status_code == 404
    assert Feed.objects.get(pk=world.sub.feed_id).last_fetched_at == before
    # Nor have it fetched soon through a page of several feeds: alice's category, feed or
    # label are not bob's streams, and his own main stream holds none of her feeds.
    later = timezone.now() + timedelta(hours=3)
    Feed.objects.filter(pk=world.sub.feed_id).update(next_fetch_at=later)
    for stream, ident in (
        ("category", world.category.pk),
        ("feed", world.sub.feed_id),
        ("label", world.label.pk),
    ):
        assert bob_client.post("/refresh", {"stream": stream, "id": ident}).status_code == 404
    assert bob_client.post("/refresh", {"stream": "main"}).status_code == 303
    assert Feed.objects.get(pk=world.sub.feed_id).next_fetch_at == later


def test_bob_cannot_see_change_refresh_or_delete_alices_subscription(
    world: Alices, bob_client: Client
) -> None:
    sub = world.sub.pk
    assert bob_client.get(f"/manage/subscriptions/{sub}/").status_code == 404
    edit = {"title": "pwned", "category": "", "visibility": "main"}
    assert bob_client.post(f"/manage/subscriptions/{sub}/", edit).status_code == 404
    assert bob_client.post(f"/manage/subscriptions/{sub}/refresh").status_code == 404
    assert bob_client.post(f"/manage/subscriptions/{sub}/delete").status_code == 404
    _unchanged(world)


def test_bob_cannot_see_rename_or_delete_alices_category(world: Alices, bob_client: Client) -> None:
    category = world.category.pk
    assert bob_client.get(f"/manage/categories/{category}/").status_code == 404
    assert bob_client.post(f"/manage/categories/{category}/", {"name": "x"}).status_code == 404
    assert bob_client.post(f"/manage/categories/{category}/delete").status_code == 404
    _unchanged(world)


def test_bob_cannot_see_rename_or_delete_alices_label_or_saved_search(
    world: Alices, bob_client: Client
) -> None:
    label = world.label.pk
    assert bob_client.get(f"/manage/labels/{label}/").status_code == 404
    assert bob_client.post(f"/manage/labels/{label}/", {"name": "x"}).status_code == 404
    assert bob_client.post(f"/manage/labels/{label}/delete").status_code == 404
    assert bob_client.post(f"/manage/searches/{world.saved.pk}/delete").status_code == 404
    _unchanged(world)


def test_bob_cannot_end_alices_session(world: Alices, bob: User, bob_client: Client) -> None:
    alices_client = logged_in(world.user)
    alices = Session.objects.get(user=world.user)
    response = bob_client.post(f"/manage/sessions/{reference(alices.session_key)}/end")
    assert response.status_code == 404
    assert bob_client.post("/manage/sessions/end-others").status_code == 303
    assert Session.objects.filter(pk=alices.pk).exists()
    assert alices_client.get("/manage/settings/").status_code == 200
    assert reference(alices.session_key).encode() not in bob_client.get("/manage/sessions/").content


def test_only_the_admin_reaches_the_accounts_pages(
    world: Alices, bob: User, bob_client: Client, admin: User
) -> None:
    assert bob_client.get("/manage/accounts/").status_code == 404
    new = {"username": "mallory", "password": "a long enough password"}
    assert bob_client.post("/manage/accounts/add", new).status_code == 404
    alice = world.user.pk
    assert bob_client.post(f"/manage/accounts/{alice}/active", {"active": "0"}).status_code == 404
    confirm = {"confirm": "alice"}
    assert bob_client.post(f"/manage/accounts/{alice}/delete", confirm).status_code == 404
    assert (
        bob_client.post(f"/manage/accounts/{admin.pk}/active", {"active": "0"}).status_code == 404
    )
    assert not User.objects.filter(username="mallory").exists()
    assert User.objects.get(pk=alice).is_active and User.objects.get(pk=admin.pk).is_active
    assert b"Accounts" not in bob_client.get("/manage/settings/").content
    assert logged_in(admin).get("/manage/accounts/").status_code == 200


def test_bobs_pages_and_lists_never_show_alices_things(world: Alices, bob_client: Client) -> None:
    for path in (
        "/",
        "/?state=all&view=reader",
        "/?state=all&view=global",
        "/starred/",
        "/manage/subscriptions/",
        "/manage/health/",
        "/manage/labels/",
        "/manage/settings/",
        "/manage/sessions/",
        "/manage/opml/export",
        # Searches that match alice's entry (bob's own query is echoed back, so no marker).
        "/search/?q=entry",
        "/?search=entry&state=all",
        "/search/?q=intitle:entry&state=all",
        "/search/?q=/Only/&state=all",
    ):
        response = bob_client.get(path)
        assert response.status_code == 200, path
        _no_markers(response.content)
    # The same searches do find alice's entry for her.
    assert b"AliceOnly entry" in logged_in(world.user).get("/search/?q=entry").content


def test_the_websub_callback_answers_only_to_a_feeds_secret_token(
    world: Alices, bob_client: Client
) -> None:
    # The token names a feed's hub subscription (shared, like the feed), is random and is
    # only ever given to the hub: guessing fails, whoever asks.
    for token in ("1", str(world.sub.feed_id), "x" * 32, "y" * 65):
        for client in (bob_client, Client()):
            assert client.get(f"/websub/{token}", {"hub.mode": "subscribe"}).status_code == 404
            assert (
                client.post(f"/websub/{token}", b"<rss/>", "application/rss+xml").status_code == 404
            )
    _unchanged(world)


@override_settings(LISEUSE_PUBLIC_READER="bob")
def test_bob_cannot_reach_alices_objects_through_the_public_pages(
    world: Alices, bob_client: Client
) -> None:
    # bob's streams are public: alice's feed is still not shown through them.
    for client in (bob_client, Client()):
        response = client.get(f"/public/f/{world.sub.feed_id}/")
        assert response.status_code == 404
        _no_markers(response.content)
        _no_markers(client.get("/public/").content)


def test_bob_cannot_reach_alices_objects_through_the_google_reader_api(
    world: Alices, bob: User
) -> None:
    with_api_password(bob)
    gr = GReader(Client())
    assert gr.login("bob").status_code == 200
    token = gr.edit_token()
    feed = world.sub.feed_id
    item = world.entry.pk
    label = "user/-/label/AliceOnly label"
    folder = "user/-/label/AliceOnly category"
    path = "reader/api/0"
    # FreshRSS's paths, then the bare ones: both lead to the same calls.
    for prefix in ("/api/greader.php", ""):
        gr.prefix = prefix
        assert gr.get(f"{path}/stream/contents/feed/{feed}").status_code == 404
        assert gr.get(f"{path}/stream/contents/{label}").status_code == 404
        assert gr.get(f"{path}/stream/items/ids", s=f"feed/{feed}").status_code == 404
        # Items not one's own are answered as FreshRSS does, as if they existed nowhere: no
        # items, and an "OK" that changes nothing (checked by _unchanged below).
        contents = gr.post(f"{path}/stream/items/contents", {"i": item})
        assert contents.status_code == 200 and contents.json()["items"] == []
        for tag in (
            "user/-/state/com.google/read",
            "user/-/state/com.google/starred",
            "user/-/label/mine",
        ):
            answer = gr.post(f"{path}/edit-tag", {"i": item, "a": tag, "T": token})
            assert answer.status_code == 200, tag
        for stream in (f"feed/{feed}", label, folder):
            answer = gr.post(f"{path}/mark-all-as-read", {"s": stream, "T": token})
            assert answer.status_code == 404, stream
        edit = {"ac": "edit", "s": f"feed/{feed}", "t": "pwned", "T": token}
        gr.post(f"{path}/subscription/edit", edit)
        gone = {"ac": "unsubscribe", "s": f"feed/{feed}", "T": token}
        gr.post(f"{path}/subscription/edit", gone)
        gr.post(f"{path}/rename-tag", {"s": folder, "dest": "pwned", "T": token})
        gr.post(f"{path}/disable-tag", {"s": label, "T": token})
        for listing in ("subscription/list", "tag/list", "unread-count", "subscription/export"):
            answer = gr.get(f"{path}/{listing}", output="json")
            assert answer.status_code == 200, listing
            _no_markers(answer.content)
        everything = gr.get(f"{path}/stream/contents/user/-/state/com.google/reading-list")
        _no_markers(everything.content)
        _unchanged(world)


def test_bob_cannot_reach_alices_objects_through_the_fever_api(
    world: Alices, bob: User, client: Client
) -> None:
    from tests.fever.conftest import with_api_password as fever_password

    fever_password(bob)
    key = fever_key("bob")
    # Fever's item ids are each person's state ids: alice's item is her state's id; her
    # entry's id is tried too.
    item, feed, group = world.state.pk, world.sub.feed_id, world.category.pk
    later = str(int((timezone.now() + timedelta(days=1)).timestamp()))
    calls: list[dict[str, Any]] = [
        {"query": f"items&with_ids={world.entry.pk}"},
        {"query": "", "data": {"mark": "item", "as": "read", "id": str(world.entry.pk)}},
        {"query": f"items&with_ids={item}"},
        {"query": f"items&feed_ids={feed}"},
        {"query": f"items&group_ids={group}"},
        {"query": "items&since_id=0"},
        {"query": "feeds&groups&favicons&unread_item_ids&saved_item_ids&links"},
        {"query": "", "data": {"mark": "item", "as": "read", "id": str(item)}},
        {"query": "", "data": {"mark": "item", "as": "saved", "id": str(item)}},
        {"query": "", "data": {"mark": "feed", "as": "read", "id": str(feed), "before": later}},
        {"query": "", "data": {"mark": "group", "as": "read", "id": str(group), "before": later}},
        {"query": "", "data": {"mark": "group", "as": "read", "id": "0", "before": later}},
    ]
    for path in ("/api/fever.php", "/api/fever.php/"):
        for call in calls:
            response = client.post(
                f"{path}?api&{call['query']}", {"api_key": key, **call.get("data", {})}
            )
            assert response.status_code == 200, call
            _no_markers(response.content)
            answer = response.json()
            assert answer["auth"] == 1
            assert str(item) not in answer.get("unread_item_ids", "").split(",")
            assert all(entry["id"] != item for entry in answer.get("items", []))
    _unchanged(world)


def test_media_tokens_are_signed_urls_not_anyones_objects(bob_client: Client) -> None:
    """The media proxy's token names a URL the instance signed, not a person's object: nobody
    can make one up (more in test_media_proxy.py)."""
    from django.core import signing
    from django.test import override_settings

    with override_settings(LISEUSE_MEDIA_PROXY=True):
        forged = signing.dumps("https://alice.example/private.png", salt="not liseuse's")
        assert bob_client.get(f"/media/{forged}").status_code == 404
        assert bob_client.get("/media/123").status_code == 404


def test_a_feed_icon_is_not_served_for_following_another_feed_of_its_site(
    client: Client, alice: User, bob: User
) -> None:
    # Two feeds of one site share their icon. Bob follows one; the other is alice's alone: its
    # icon at its address would tell bob that this feed exists and is followed.
    from liseuse.feeds.models import Favicon

    icon = Favicon.objects.create(digest="d", content_type="image/png", data=b"\x89PNG")
    alices = Feed.objects.create(url="https://a.example/private-feed", favicon=icon)
    bobs = Feed.objects.create(url="https://a.example/feed", favicon=icon)
    Subscription.objects.create(user=alice, feed=alices)
    Subscription.objects.create(user=bob, feed=bobs)
    client.force_login(bob)
    assert client.get(f"/favicons/{bobs.id}").status_code == 200
    assert client.get(f"/favicons/{alices.id}").status_code == 404
