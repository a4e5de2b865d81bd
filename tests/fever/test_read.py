"""What a Fever client reads: groups, feeds, favicons, items and the id lists."""

from __future__ import annotations

import base64

import pytest

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds.models import Category
from liseuse.feeds.models import Favicon
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.subscribe import follow
from tests.fever.conftest import Caller
from tests.fever.conftest import entry_ids
from tests.fever.conftest import item_ids
from tests.fever.conftest import make_feed
from tests.fever.conftest import with_api_password

pytestmark = pytest.mark.django_db


def test_groups_are_the_persons_categories_with_their_feeds(
    reader: User, bob: User, fever: Caller
) -> None:
    a = make_feed("a", reader, category="News")
    b = make_feed("b", reader, category="News")
    c = make_feed("c", reader)  # in no category
    make_feed("d", bob, category="Bob's")
    empty = Category.objects.create(user=reader, name="Empty")
    news = Category.objects.get(user=reader, name="News")
    answer = fever(reader, "groups")
    assert answer["groups"] == [
        {"id": empty.pk, "title": "Empty"},
        {"id": news.pk, "title": "News"},
    ]
    assert answer["feeds_groups"] == [{"group_id": news.pk, "feed_ids": f"{a.pk},{b.pk}"}]
    assert str(c.pk) not in answer["feeds_groups"][0]["feed_ids"]
    assert "feeds" not in answer


def test_feeds_are_the_followed_ones_under_the_persons_title(
    reader: User, bob: User, fever: Caller
) -> None:
    icon = Favicon.objects.create(digest="x", content_type="image/png", data=b"\x89PNG")
    a = make_feed("a", reader, favicon=icon)
    b = make_feed("b", reader)
    make_feed("c", bob)
    Subscription.objects.filter(user=reader, feed=a).update(title="My A")
    answer = fever(reader, "feeds")
    assert sorted(answer["feeds"], key=lambda f: int(f["id"])) == [
        {
            "id": a.pk,
            "favicon_id": icon.pk,
            "title": "My A",
            "url": "https://a.example/feed",
            "site_url": "https://a.example/",
            "is_spark": 0,
            "last_updated_on_time": 1705363200,
        },
        {
            "id": b.pk,
            "favicon_id": 0,
            "title": "b",
            "url": "https://b.example/feed",
            "site_url": "https://b.example/",
            "is_spark": 0,
            "last_updated_on_time": 1705363200,
        },
    ]
    assert answer["feeds_groups"] == []


def test_favicons_are_the_stored_icons_each_once(reader: User, bob: User, fever: Caller) -> None:
    shared = Favicon.objects.create(digest="s", content_type="image/png", data=b"\x89PNG-1")
    own = Favicon.objects.create(digest="o", content_type="image/x-icon", data=b"\x00\x00\x01")
    bobs = Favicon.objects.create(digest="b", content_type="image/gif", data=b"GIF89a")
    make_feed("a", reader, favicon=shared)
    make_feed("b", reader, favicon=shared)
    make_feed("c", reader, favicon=own)
    make_feed("d", reader)
    make_feed("e", bob, favicon=bobs)
    favicons = fever(reader, "favicons")["favicons"]
    assert favicons == [
        {"id": shared.pk, "data": "image/png;base64," + base64.b64encode(b"\x89PNG-1").decode()},
        {"id": own.pk, "data": "image/x-icon;base64,AAAB"},
    ]


def test_items_have_fevers_shape(reader: User, fever: Caller) -> None:
    feed = make_feed("a", reader, entries=1)
    queries.set_starred(reader, entry_ids(feed), True)
    answer = fever(reader, "items")
    assert answer["total_items"] == 1
    assert answer["items"] == [
        {
            "id": item_ids(reader)[0],
            "feed_id": feed.pk,
            "title": "a 0",
            "author": "a's author",
            "html": "<p>a 0</p>",
            "url": "https://a.example/0",
            "is_saved": 1,
            "is_read": 0,
            "created_on_time": 1705276800,
        }
    ]


def test_titles_and_authors_keep_their_ampersands_and_brackets_from_being_read_as_html(
    reader: User, fever: Caller
) -> None:
    feed = make_feed("a", reader, entries=1)
    feed.entries.update(title="AT&T < Orange & <b>", author="Tom & Jerry")
    item = fever(reader, "items")["items"][0]
    assert (item["title"], item["author"]) == ("AT＆T ＜ Orange ＆ ＜b＞", "Tom ＆ Jerry")


def test_feed_and_group_titles_keep_their_ampersands_and_brackets_from_being_read_as_html(
    reader: User, fever: Caller
) -> None:
    # Fever apps show these as HTML too: "Q&A" came out as a broken entity. FreshRSS's Fever
    # API, and our Google Reader API, send them as they send item titles.
    feed = make_feed("a", reader, category="R&D <lab>")
    Subscription.objects.filter(user=reader, feed=feed).update(title="Q&A <live>")
    assert fever(reader, "groups")["groups"][0]["title"] == "R＆D ＜lab＞"
    assert fever(reader, "feeds")["feeds"][0]["title"] == "Q＆A ＜live＞"


def test_an_entry_without_content_sends_its_summary(reader: User, fever: Caller) -> None:
    feed = make_feed("a", reader, entries=1)
    feed.entries.update(content="", summary="<p>short</p>")
    assert fever(reader, "items")["items"][0]["html"] == "<p>short</p>"


def test_an_entrys_attachments_follow_its_html(reader: User, fever: Caller) -> None:
    # Fever has no field for them: a podcast's episode would be lost to its apps.
    feed = make_feed("a", reader, entries=1)
    feed.entries.update(
        enclosures=[{"url": "https://a.example/ep.mp3", "type": "audio/mpeg", "length": None}]
    )
    html = fever(reader, "items")["items"][0]["html"]
    assert html.startswith('<p>a 0</p><figure class="enclosure"><audio controls')
    assert ">ep.mp3</a> (audio/mpeg)</figcaption></figure>" in html


def test_items_page_by_50_with_since_id_in_id_order(reader: User, bob: User, fever: Caller) -> None:
    # Item ids are the person's state ids: with bob following too, they are not the entry ids.
    feed = make_feed("a", reader, bob, entries=120)
    ids = item_ids(reader, feed)
    assert ids != entry_ids(feed)
    first = fever(reader, "items&since_id=0")["items"]
    assert [i["id"] for i in first] == ids[:50]
    second = fever(reader, f"items&since_id={ids[49]}")["items"]
    assert [i["id"] for i in second] == ids[50:100]
    third = fever(reader, f"items&since_id={ids[99]}")["items"]
    assert [i["id"] for i in third] == ids[100:]
    assert fever(reader, f"items&since_id={ids[-1]}")["items"] == []
    # Without a selector: the oldest 50, like since_id=0; an empty since_id is no selector.
    assert [i["id"] for i in fever(reader, "items")["items"]] == ids[:50]
    assert [i["id"] for i in fever(reader, "items&since_id=")["items"]] == ids[:50]


def test_items_page_backwards_with_max_id_newest_first(
    reader: User, bob: User, fever: Caller
) -> None:
    ids = item_ids(reader, make_feed("a", reader, bob, entries=60))
    page = fever(reader, f"items&max_id={ids[-1]}")["items"]
    assert [i["id"] for i in page] == list(reversed(ids[9:59]))
    # max_id wins over since_id and with_ids.
    both = fever(reader, f"items&max_id={ids[3]}&since_id=0&with_ids={ids[-1]}")["items"]
    assert [i["id"] for i in both] == [ids[2], ids[1], ids[0]]


def test_with_ids_returns_the_named_ones_up_to_50(reader: User, bob: User, fever: Caller) -> None:
    ids = item_ids(reader, make_feed("a", reader, entries=60))
    bobs = item_ids(bob, make_feed("b", bob, entries=1))
    wanted = f"{ids[5]},{bobs[0]},{ids[2]},999999,"
    assert [i["id"] for i in fever(reader, f"items&with_ids={wanted}")["items"]] == [
        ids[2],
        ids[5],
    ]
    many = ",".join(map(str, ids))
    assert len(fever(reader, "items", {"with_ids": many})["items"]) == 50
    assert fever(reader, "items&with_ids=")["items"] == []


def test_items_within_feeds_or_groups(reader: User, fever: Caller) -> None:
    a = make_feed("a", reader, entries=2, category="News")
    b = make_feed("b", reader, entries=2, category="Tech")
    c = make_feed("c", reader, entries=2)
    news = Category.objects.get(user=reader, name="News")
    tech = Category.objects.get(user=reader, name="Tech")

    def feeds_of(query: str) -> set[int]:
        return {i["feed_id"] for i in fever(reader, f"items&{query}")["items"]}

    assert feeds_of(f"feed_ids={b.pk},{c.pk}") == {b.pk, c.pk}
    assert feeds_of(f"group_ids={news.pk}") == {a.pk}
    assert feeds_of(f"group_ids={news.pk},{tech.pk}&feed_ids={c.pk}") == {a.pk, b.pk}
    assert feeds_of("group_ids=0") == {a.pk, b.pk, c.pk}


def test_another_persons_feeds_and_groups_yield_no_items(
    reader: User, bob: User, fever: Caller
) -> None:
    make_feed("a", reader)
    theirs = make_feed("b", bob, category="Bob's")
    group = Category.objects.get(user=bob)
    assert fever(reader, f"items&feed_ids={theirs.pk}")["items"] == []
    assert fever(reader, f"items&group_ids={group.pk}")["items"] == []
    assert fever(reader, "items")["total_items"] == 3


def test_every_followed_feed_is_synced_whatever_its_visibility(reader: User, fever: Caller) -> None:
    # Fever has no visibility: a feed kept out of the main stream is still in the app.
    hidden = make_feed("a", reader, entries=2)
    Subscription.objects.filter(feed=hidden).update(visibility=Subscription.Visibility.HIDDEN)
    answer = fever(reader, "items&unread_item_ids&feeds")
    assert len(answer["items"]) == 2
    assert answer["unread_item_ids"] == ",".join(map(str, item_ids(reader, hidden)))
    assert [f["id"] for f in answer["feeds"]] == [hidden.pk]


def test_unread_and_saved_ids_are_comma_separated_ascending(
    reader: User, bob: User, fever: Caller
) -> None:
    feed = make_feed("a", reader, bob, entries=4)
    make_feed("b", bob)
    entries, ids = entry_ids(feed), item_ids(reader, feed)
    queries.set_read(reader, [entries[1]], True)
    queries.set_starred(reader, [entries[3], entries[0]], True)
    answer = fever(reader, "unread_item_ids&saved_item_ids&links")
    assert answer["unread_item_ids"] == f"{ids[0]},{ids[2]},{ids[3]}"
    assert answer["saved_item_ids"] == f"{ids[0]},{ids[3]}"
    assert answer["links"] == []


def test_empty_lists_are_empty_strings(reader: User, fever: Caller) -> None:
    answer = fever(reader, "unread_item_ids&saved_item_ids&groups&feeds&favicons&items")
    assert answer["unread_item_ids"] == answer["saved_item_ids"] == ""
    assert answer["groups"] == answer["feeds"] == answer["favicons"] == answer["items"] == []
    assert answer["total_items"] == 0


def test_each_person_sees_only_their_own_entries(reader: User, bob: User, fever: Caller) -> None:
    with_api_password(bob)
    make_feed("a", reader, entries=2)
    make_feed("b", bob, entries=3)
    assert {i["title"] for i in fever(bob, "items")["items"]} == {"b 0", "b 1", "b 2"}
    assert {i["title"] for i in fever(reader, "items")["items"]} == {"a 0", "a 1"}


def test_naming_more_than_1000_feeds_or_groups_is_refused(reader: User, fever: Caller) -> None:
    ids = item_ids(reader, make_feed("a", reader))
    many = ",".join(map(str, range(1, 1002)))
    answer = fever(reader, "items", {"feed_ids": many}, status=400)
    assert answer["error"] == "fever: feed_ids may name at most 1000 ids"
    fever(reader, "items", {"group_ids": many}, status=400)
    # with_ids keeps its first 50 whatever the length (Fever answers 50 at most anyway), and
    # what comes after them is not even read.
    with_ids = ",".join(map(str, ids)) + "," + many + ",x"
    assert [i["id"] for i in fever(reader, "items", {"with_ids": with_ids})["items"]] == ids


def test_a_feed_followed_after_someone_else_is_synced_with_since_id(
    reader: User, bob: User, fever: Caller
) -> None:
    # A tester's case: bob followed the feed first, so its entry is older (a lower entry id)
    # than alice's newest. When alice follows it, her app asks since_id=<highest id it has>: it
    # must get the entry, and every id of unread_item_ids must be one it can fetch.
    make_feed("other", bob, entries=1)
    make_feed("a", reader, entries=3)
    highest = max(i["id"] for i in fever(reader, "items&since_id=0")["items"])
    follow(reader, "https://other.example/feed")
    answer = fever(reader, f"items&since_id={highest}&unread_item_ids")
    assert [i["title"] for i in answer["items"]] == ["other 0"]
    newest = answer["items"][0]["id"]
    assert newest > highest
    unread = answer["unread_item_ids"]
    assert unread.split(",")[-1] == str(newest)
    fetched = fever(reader, f"items&with_ids={unread}")["items"]
    assert sorted(i["id"] for i in fetched) == [int(i) for i in unread.split(",")]
    # bob's app still sees the entry under his own id, and only his.
    assert [i["title"] for i in fever(with_api_password(bob), "items")["items"]] == ["other 0"]


def test_links_come_percent_encoded_where_an_app_could_write_them_into_html(
    reader: User, fever: Caller
) -> None:
    # Fever apps write an item's url into their HTML; stored links keep what the feed wrote.
    feed = make_feed("a", reader, entries=1)
    feed.entries.update(url='https://a.example/x"><img src=x onerror=alert(1)>')
    Feed.objects.filter(pk=feed.pk).update(
        url="https://a.example/feed?'q'", site_url="https://a.example/<home>"
    )
    item = fever(reader, "items")["items"][0]
    assert item["url"] == "https://a.example/x%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E"
    listed = fever(reader, "feeds")["feeds"][0]
    assert (listed["url"], listed["site_url"]) == (
        "https://a.example/feed?%27q%27",
        "https://a.example/%3Chome%3E",
    )
