"""The Google Reader API, endpoint by endpoint, through Django's test client."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds.models import Category
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Label
from liseuse.feeds.models import Subscription
from liseuse.greader import ids
from tests.greader.conftest import BASE
from tests.greader.conftest import GReader
from tests.greader.conftest import add_entry
from tests.greader.conftest import subscribe
from tests.greader.conftest import with_api_password

pytestmark = pytest.mark.django_db

READ = "user/-/state/com.google/read"
STARRED = "user/-/state/com.google/starred"
READING_LIST = "user/-/state/com.google/reading-list"


@pytest.fixture
def news(reader: User) -> Subscription:
    """Alice's feed "News" in folder "Tech", with entries one to five (five is the newest)."""
    sub = subscribe(reader, "https://news.example/feed", title="News", category="Tech")
    for n in range(1, 6):
        add_entry(sub.feed, f"news {n}", minutes=n)
    return sub


def state(user: User, title: str) -> EntryState:
    return EntryState.objects.get(user=user, entry__title=title)


def titles(body: dict[str, Any]) -> list[str]:
    return [item["title"] for item in body["items"]]


# --- authentication ------------------------------------------------------------------------------


def test_client_login_answers_three_lines_with_the_token(client: Client, reader: User) -> None:
    response = GReader(client).login("alice")
    lines = response.content.decode().splitlines()
    assert response.status_code == 200
    assert lines[0].startswith("SID=alice/") and lines[1] == "LSID=null"
    assert lines[2].startswith("Auth=alice/") and lines[0][4:] == lines[2][5:]


def test_client_login_refuses_the_login_password_and_a_wrong_one(
    client: Client, reader: User
) -> None:
    api = GReader(client)
    assert api.login("alice", "correct horse battery").status_code == 401
    assert api.login("alice", "nope").status_code == 401
    assert api.login("nobody").status_code == 401


def test_without_an_api_password_the_api_refuses_to_log_in(client: Client, alice: User) -> None:
    response = GReader(client).login("alice", "whatever it is")
    assert response.status_code == 401 and b"no API password" in response.content


def test_changing_the_api_password_revokes_the_token(gr: GReader, reader: User) -> None:
    assert gr.get("reader/api/0/user-info").status_code == 200
    reader.set_api_password("another one")
    reader.save()
    refused = gr.get("reader/api/0/user-info")
    assert refused.status_code == 401 and refused["Google-Bad-Token"] == "true"


def test_a_bad_or_missing_token_is_a_401_with_a_message(gr: GReader) -> None:
    gr.auth = "alice/" + "0" * 64
    assert gr.get("reader/api/0/subscription/list").status_code == 401
    gr.auth = "alicé/ü"
    assert gr.get("reader/api/0/subscription/list").status_code == 401
    gr.auth = ""
    missing = gr.get("reader/api/0/subscription/list")
    assert missing.status_code == 401 and b"Authorization" in missing.content


def test_a_token_of_a_disabled_person_stops_working(gr: GReader, reader: User) -> None:
    User.objects.filter(pk=reader.pk).update(is_active=False)
    assert gr.get("reader/api/0/token").status_code == 401


def test_the_edit_token_is_checked_on_writes(gr: GReader, news: Subscription) -> None:
    entry = Entry.objects.get(title="news 1")
    wrong = gr.post("reader/api/0/edit-tag", {"i": entry.pk, "a": READ, "T": "z" * 57})
    assert wrong.status_code == 401 and b"edit token" in wrong.content
    right = gr.post("reader/api/0/edit-tag", {"i": entry.pk, "a": READ, "T": gr.edit_token()})
    assert right.content == b"OK" and len(gr.edit_token()) == 57


# --- paths ----------------------------------------------------------------------------------------


def test_the_bare_paths_and_trailing_slashes_reach_the_same_endpoints(
    client: Client, reader: User
) -> None:
    bare = GReader(client, prefix="")
    assert bare.login("alice").status_code == 200
    assert bare.json("reader/api/0/user-info")["userName"] == "alice"
    assert bare.json("reader/api/0/user-info/")["userName"] == "alice"
    prefixed = GReader(client)
    prefixed.auth = bare.auth
    assert prefixed.json("reader/api/0/tag/list/")["tags"][0]["id"] == STARRED
    assert (
        client.post("/accounts/ClientLogin/", {"Email": "alice", "Passwd": "x"}).status_code == 401
    )


def test_the_root_answers_ok_and_options_answers_for_cors(client: Client) -> None:
    assert client.get("/api/greader.php").content == b"OK"
    assert client.get("/api/greader.php/check/compatibility").content == b"PASS"
    options = client.options("/api/greader.php/reader/api/0/token")
    assert options.status_code == 204 and options["Access-Control-Allow-Origin"] == "*"


def test_an_unknown_call_is_a_404_with_its_path(gr: GReader) -> None:
    response = gr.get("reader/api/0/no-such-thing")
    assert response.status_code == 404 and b"no-such-thing" in response.content


# --- subscriptions, folders and labels -------------------------------------------------------------


def test_user_info_and_subscription_list(gr: GReader, news: Subscription) -> None:
    assert gr.json("reader/api/0/user-info")["userName"] == "alice"
    (sub,) = gr.json("reader/api/0/subscription/list", output="json")["subscriptions"]
    assert sub["id"] == f"feed/{news.feed_id}" and sub["title"] == "News"
    assert sub["url"] == "https://news.example/feed"
    assert sub["categories"] == [{"id": "user/-/label/Tech", "label": "Tech"}]


def test_subscription_edit_renames_moves_and_unsubscribes(
    gr: GReader, reader: User, news: Subscription
) -> None:
    # Subscribing by subscription/edit fetches the feed: tests/greader/test_subscribe_edit.py.
    url = "https://other.example/rss"
    sub = subscribe(reader, url)
    assert (
        gr.post(
            "reader/api/0/subscription/edit",
            {"ac": "edit", "s": f"feed/{url}", "t": "Other", "a": "user/-/label/Fun"},
        ).content
        == b"OK"
    )
    sub.refresh_from_db()
    assert sub.title == "Other" and sub.category is not None and sub.category.name == "Fun"
    gr.post(
        "reader/api/0/subscription/edit",
        {"ac": "edit", "s": f"feed/{sub.feed_id}", "t": "Renamed", "r": "user/-/label/Fun"},
    )
    sub.refresh_from_db()
    assert sub.title == "Renamed" and sub.category is None
    gr.post("reader/api/0/subscription/edit", {"ac": "unsubscribe", "s": f"feed/{news.feed.url}"})
    assert not Subscription.objects.filter(pk=news.pk).exists()
    assert not EntryState.objects.filter(user=reader, feed=news.feed).exists()


def test_subscription_edit_refuses_a_bad_url_and_an_unknown_action(gr: GReader) -> None:
    bad = gr.post(
        "reader/api/0/subscription/edit", {"ac": "subscribe", "s": "feed/javascript:alert(1)"}
    )
    assert bad.status_code == 400 and bad.content
    odd = gr.post("reader/api/0/subscription/edit", {"ac": "dance", "s": "feed/https://a.example/"})
    assert odd.status_code == 400 and b"ac must be" in odd.content


def test_quickadd_of_a_feed_already_followed_names_its_stream(
    gr: GReader, news: Subscription
) -> None:
    body = gr.post(
        "reader/api/0/subscription/quickadd", {"quickadd": "feed/https://news.example/feed"}
    ).json()
    assert body == {
        "numResults": 1,
        "query": "feed/https://news.example/feed",
        "streamId": f"feed/{news.feed_id}",
        "streamName": "News",
    }


def test_quickadd_of_an_unreachable_url_says_why_without_failing(gr: GReader) -> None:
    body = gr.post(
        "reader/api/0/subscription/quickadd", {"quickadd": "http://127.0.0.1:9/feed"}
    ).json()
    assert body["numResults"] == 0 and body["error"]


def test_opml_export_and_import(gr: GReader, reader: User, news: Subscription) -> None:
    exported = gr.get("reader/api/0/subscription/export")
    assert b'xmlUrl="https://news.example/feed"' in exported.content
    assert "attachment" in exported["Content-Disposition"]
    opml = (
        '<?xml version="1.0"?><opml version="2.0"><body><outline text="Mag">'
        '<outline text="Zine" xmlUrl="https://zine.example/feed"/></outline></body></opml>'
    )
    assert (
        gr.post("reader/api/0/subscription/import", raw=opml, content_type="text/x-opml").content
        == b"OK"
    )
    zine = Subscription.objects.select_related("category").get(
        user=reader, feed__url="https://zine.example/feed"
    )
    assert zine.category is not None and zine.category.name == "Mag"
    broken = gr.post("reader/api/0/subscription/import", raw="<opml", content_type="text/xml")
    assert broken.status_code == 400


def test_opml_import_as_a_multipart_upload_whatever_the_field_name(
    gr: GReader, reader: User
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    opml = (
        b'<?xml version="1.0"?><opml version="2.0"><body>'
        b'<outline text="Zine" xmlUrl="https://zine.example/feed"/></body></opml>'
    )
    path = f"{gr.prefix}/reader/api/0/subscription/import"

    def upload(**files: SimpleUploadedFile) -> Any:
        return gr.client.post(path, files, headers=gr.headers())

    assert upload(file=SimpleUploadedFile("subs.opml", opml)).content == b"OK"
    assert Subscription.objects.filter(user=reader, feed__url="https://zine.example/feed").exists()
    # No file, or two and none named opml: which one? A 400 that says how (it was a 500).
    assert upload().status_code == 400
    two = upload(a=SimpleUploadedFile("a.opml", opml), b=SimpleUploadedFile("b.opml", opml))
    assert two.status_code == 400 and b"named opml" in two.content


def test_tag_list_names_starred_folders_and_labels(
    gr: GReader, reader: User, news: Subscription
) -> None:
    Label.objects.create(user=reader, name="Later")
    tags = gr.json("reader/api/0/tag/list", output="json")["tags"]
    assert tags == [
        {"id": STARRED},
        {"id": "user/-/label/Tech", "label": "Tech", "type": "folder"},
        {"id": "user/-/label/Later", "label": "Later", "type": "tag"},
    ]


def test_rename_tag_renames_a_folder_then_a_label(
    gr: GReader, reader: User, news: Subscription
) -> None:
    Label.objects.create(user=reader, name="Later")
    assert (
        gr.post(
            "reader/api/0/rename-tag", {"s": "user/-/label/Tech", "dest": "user/-/label/Techno"}
        ).content
        == b"OK"
    )
    assert Category.objects.filter(user=reader, name="Techno").exists()
    gr.post("reader/api/0/rename-tag", {"s": "user/-/label/Later", "dest": "user/-/label/Soon"})
    assert Label.objects.filter(user=reader, name="Soon").exists()
    taken = gr.post(
        "reader/api/0/rename-tag", {"s": "user/-/label/Soon", "dest": "user/-/label/Techno"}
    )
    assert taken.status_code == 400
    assert (
        gr.post(
            "reader/api/0/rename-tag", {"s": "user/-/label/Nope", "dest": "user/-/label/X"}
        ).status_code
        == 404
    )


def test_disable_tag_deletes_a_folder_keeping_its_feeds_and_a_label(
    gr: GReader, reader: User, news: Subscription
) -> None:
    Label.objects.create(user=reader, name="Later")
    assert (
        gr.post(
            "reader/api/0/disable-tag", {"s": ["user/-/label/Tech", "user/-/label/Later"]}
        ).content
        == b"OK"
    )
    news.refresh_from_db()
    assert news.category is None and not Category.objects.filter(user=reader).exists()
    assert not Label.objects.filter(user=reader).exists()


# --- counts and streams ------------------------------------------------------------------------------


def test_unread_count_per_feed_folder_label_and_total(
    gr: GReader, reader: User, news: Subscription
) -> None:
    other = subscribe(reader, "https://other.example/feed")
    add_entry(other.feed, "other 1", minutes=10)
    state(reader, "news 1").__class__.objects.filter(user=reader, entry__title="news 1").update(
        is_read=True
    )
    label = Label.objects.create(user=reader, name="Later")
    state(reader, "news 2").labels.add(label)
    body = gr.json("reader/api/0/unread-count", output="json")
    counts = {row["id"]: row["count"] for row in body["unreadcounts"]}
    assert body["max"] == 5
    assert counts == {
        f"feed/{news.feed_id}": 4,
        f"feed/{other.feed_id}": 1,
        "user/-/label/Tech": 4,
        "user/-/label/Later": 1,
        READING_LIST: 5,
    }
    newest = {row["id"]: row["newestItemTimestampUsec"] for row in body["unreadcounts"]}
    assert newest[READING_LIST] == str(ids.usec(state(reader, "other 1").sort_date))


def test_unread_count_of_a_folder_leaves_out_its_hidden_feeds(
    gr: GReader, reader: User, news: Subscription
) -> None:
    # As the folder's stream does (and the sidebar): a feed shown only when opened itself
    # counts in its own row, not in its folder's nor in the total.
    hidden = subscribe(reader, "https://hidden.example/feed", category="Tech")
    Subscription.objects.filter(pk=hidden.pk).update(visibility=Subscription.Visibility.HIDDEN)
    add_entry(hidden.feed, "hidden 1", minutes=10)
    add_entry(hidden.feed, "hidden 2", minutes=11)
    body = gr.json("reader/api/0/unread-count", output="json")
    counts = {row["id"]: row["count"] for row in body["unreadcounts"]}
    folder = gr.json("reader/api/0/stream/items/ids", s="user/-/label/Tech", xt=READ, n=1000)[
        "itemRefs"
    ]
    assert counts[f"feed/{hidden.feed_id}"] == 2
    assert counts["user/-/label/Tech"] == len(folder) == 5
    assert body["max"] == counts[READING_LIST] == 5


def test_the_reading_list_holds_the_feeds_kept_in_their_category_not_the_hidden_ones(
    gr: GReader, reader: User, news: Subscription
) -> None:
    # FreshRSS's reading list is every feed but the archived ones: apps that sync it with
    # xt=read never got the entries of a feed kept out of the main stream, though
    # unread-count counted them.
    kept = subscribe(reader, "https://kept.example/feed", category="Tech")
    hidden = subscribe(reader, "https://hidden.example/feed", category="Tech")
    Subscription.objects.filter(pk=kept.pk).update(visibility=Subscription.Visibility.CATEGORY)
    Subscription.objects.filter(pk=hidden.pk).update(visibility=Subscription.Visibility.HIDDEN)
    add_entry(kept.feed, "kept 1", minutes=10)
    add_entry(hidden.feed, "hidden 1", minutes=11)
    refs = gr.json("reader/api/0/stream/items/ids", s=READING_LIST, xt=READ, n=1000)["itemRefs"]
    listed = {int(ref["id"]) for ref in refs}
    assert state(reader, "kept 1").entry_id in listed
    assert state(reader, "hidden 1").entry_id not in listed
    unread = gr.json("reader/api/0/stream/items/ids", s="user/-/state/com.google/unread", n=1000)[
        "itemRefs"
    ]
    assert {int(ref["id"]) for ref in unread} == listed
    body = gr.json("reader/api/0/unread-count", output="json")
    counts = {row["id"]: row["count"] for row in body["unreadcounts"]}
    assert body["max"] == counts[READING_LIST] == len(listed) == 6


def test_unread_count_lists_with_zero_what_has_nothing_unread(
    gr: GReader, reader: User, news: Subscription
) -> None:
    # As FreshRSS does: an app that updates its counts from this list kept a feed's last
    # count once the feed had left the list.
    EntryState.objects.filter(user=reader).update(is_read=True)
    Category.objects.create(user=reader, name="Empty")
    Label.objects.create(user=reader, name="Later")
    body = gr.json("reader/api/0/unread-count", output="json")
    assert body["max"] == 0
    assert {
        row["id"]: (row["count"], row["newestItemTimestampUsec"]) for row in body["unreadcounts"]
    } == {
        f"feed/{news.feed_id}": (0, "0"),
        "user/-/label/Tech": (0, "0"),
        "user/-/label/Empty": (0, "0"),
        "user/-/label/Later": (0, "0"),
        READING_LIST: (0, "0"),
    }


def test_stream_contents_of_the_reading_list_newest_first_with_item_shape(
    gr: GReader, reader: User, news: Subscription
) -> None:
    state(reader, "news 5").__class__.objects.filter(user=reader, entry__title="news 5").update(
        is_starred=True, is_read=True
    )
    body = gr.json(f"reader/api/0/stream/contents/{READING_LIST}", n=2)
    assert titles(body) == ["news 5", "news 4"] and "continuation" in body
    item = body["items"][0]
    entry = Entry.objects.get(title="news 5")
    assert item["id"] == f"tag:google.com,2005:reader/item/{entry.pk:016x}"
    assert item["categories"][:4] == [READING_LIST, "user/-/label/Tech", READ, STARRED]
    assert item["origin"] == {
        "streamId": f"feed/{news.feed_id}",
        "htmlUrl": "https://news.example/",
        "title": "News",
    }
    assert item["summary"]["content"] == "<p>Body</p>" and item["alternate"][0]["href"] == entry.url
    assert item["timestampUsec"] == str(ids.usec(entry.published))


def test_continuation_walks_the_whole_stream_once(gr: GReader, news: Subscription) -> None:
    seen: list[str] = []
    params: dict[str, Any] = {"n": 2, "r": "o"}
    for _ in range(5):
        body = gr.json("reader/api/0/stream/contents", s=f"feed/{news.feed_id}", **params)
        seen += titles(body)
        if "continuation" not in body:
            break
        params["c"] = body["continuation"]
    assert seen == [f"news {n}" for n in range(1, 6)]


def test_n_is_bounded_so_a_huge_page_becomes_pages(
    gr: GReader, news: Subscription, monkeypatch: pytest.MonkeyPatch
) -> None:
    from liseuse.feeds import queries

    monkeypatch.setattr(queries, "MAX_PAGE", 3)
    body = gr.json(f"reader/api/0/stream/contents/feed/{news.feed_id}", n=100_000)
    assert len(body["items"]) == 3 and body["continuation"]


def test_xt_it_ot_and_nt_narrow_the_stream(gr: GReader, reader: User, news: Subscription) -> None:
    EntryState.objects.filter(user=reader, entry__title__in=["news 1", "news 2"]).update(
        is_read=True
    )
    EntryState.objects.filter(user=reader, entry__title="news 2").update(is_starred=True)
    path = f"reader/api/0/stream/contents/{READING_LIST}"
    assert titles(gr.json(path, xt=READ)) == ["news 5", "news 4", "news 3"]
    assert titles(gr.json(path, it=READ)) == ["news 2", "news 1"]
    assert titles(gr.json(path, xt=STARRED, it=READ)) == ["news 1"]
    assert titles(gr.json(f"reader/api/0/stream/contents/{STARRED}", xt=READ)) == []
    assert titles(gr.json(path, it=READ, xt=READ)) == []
    minute = int(BASE.timestamp()) + 60
    assert titles(gr.json(path, ot=minute * 1 + 120, nt=minute + 180)) == ["news 4", "news 3"]


def test_ot_and_nt_are_about_when_entries_arrived_not_their_date(
    gr: GReader, reader: User, news: Subscription
) -> None:
    """A client syncing "what arrived since my last sync" gets an entry dated long before that
    sync but fetched after it (FreshRSS filters on reception time too)."""
    last_sync = timezone.now() - timedelta(hours=1)
    late = EntryState.objects.get(user=reader, entry__title="news 2")  # dated 2024
    late.arrived_at = timezone.now()
    late.save()
    path = f"reader/api/0/stream/contents/{READING_LIST}"
    body = gr.json(path, ot=int(last_sync.timestamp()))
    assert titles(body) == ["news 2"]
    (item,) = body["items"]
    assert int(item["crawlTimeMsec"]) >= int(last_sync.timestamp() * 1000)
    assert int(item["timestampUsec"]) // 1_000_000 == item["published"] < last_sync.timestamp()
    assert "news 2" not in titles(gr.json(path, nt=int(last_sync.timestamp())))


def test_streams_by_folder_label_feed_url_and_starred(
    gr: GReader, reader: User, news: Subscription
) -> None:
    label = Label.objects.create(user=reader, name="Later")
    state(reader, "news 3").labels.add(label)
    EntryState.objects.filter(user=reader, entry__title="news 4").update(is_starred=True)
    other = subscribe(reader, "https://other.example/feed")
    add_entry(other.feed, "other 1", minutes=10)
    path = "reader/api/0/stream/contents/"
    assert len(gr.json(path + "user/-/label/Tech")["items"]) == 5
    assert titles(gr.json(path + "user/-/label/Later")) == ["news 3"]
    assert titles(gr.json(path + "feed/https://other.example/feed")) == ["other 1"]
    assert titles(gr.json(path + f"user/{reader.pk}/state/com.google/starred")) == ["news 4"]
    assert (
        gr.json(path + "user/-/label/Later")["items"][0]["categories"][-1] == "user/-/label/Later"
    )


def test_items_ids_then_contents_with_long_and_short_ids(gr: GReader, news: Subscription) -> None:
    refs = gr.json("reader/api/0/stream/items/ids", s=READING_LIST, xt=READ, n=1000)["itemRefs"]
    assert len(refs) == 5 and all(ref["id"].isdigit() for ref in refs)
    wanted = [refs[0]["id"], ids.long_id(int(refs[1]["id"])), f"{int(refs[2]['id']):016x}"]
    body = gr.post("reader/api/0/stream/items/contents", {"i": wanted}).json()
    assert titles(body) == ["news 5", "news 4", "news 3"]


def test_items_ids_pages_with_a_continuation(gr: GReader, news: Subscription) -> None:
    first = gr.json("reader/api/0/stream/items/ids", s=f"feed/{news.feed_id}", n=3)
    second = gr.json(
        "reader/api/0/stream/items/ids", s=f"feed/{news.feed_id}", n=3, c=first["continuation"]
    )
    assert (
        len(first["itemRefs"]) == 3
        and len(second["itemRefs"]) == 2
        and "continuation" not in second
    )
    assert not {r["id"] for r in first["itemRefs"]} & {r["id"] for r in second["itemRefs"]}


# --- reading-state writes ------------------------------------------------------------------------


def test_edit_tag_marks_read_unread_starred_and_labels_both_ways(
    gr: GReader, reader: User, news: Subscription
) -> None:
    one, two = Entry.objects.get(title="news 1"), Entry.objects.get(title="news 2")
    token = gr.edit_token()
    assert (
        gr.post(
            "reader/api/0/edit-tag",
            {
                "i": [one.pk, ids.long_id(two.pk)],
                "a": [READ, STARRED, "user/-/label/Later"],
                "T": token,
            },
        ).content
        == b"OK"
    )
    for title in ("news 1", "news 2"):
        row = state(reader, title)
        assert row.is_read and row.is_starred and [lb.name for lb in row.labels.all()] == ["Later"]
    gr.post(
        "reader/api/0/edit-tag",
        {"i": one.pk, "r": [READ, STARRED, "user/-/label/Later"], "T": token},
    )
    row = state(reader, "news 1")
    assert not row.is_read and not row.is_starred and not row.labels.exists()
    assert state(reader, "news 2").is_read


def test_edit_tag_refuses_a_label_named_like_a_folder(gr: GReader, news: Subscription) -> None:
    one = Entry.objects.get(title="news 1")
    response = gr.post("reader/api/0/edit-tag", {"i": one.pk, "a": "user/-/label/Tech"})
    assert response.status_code == 400 and b"categories" in response.content


def test_mark_all_as_read_with_ts_leaves_newer_entries_unread(
    gr: GReader, reader: User, news: Subscription
) -> None:
    three = state(reader, "news 3")
    ts = ids.usec(three.sort_date)
    assert (
        gr.post(
            "reader/api/0/mark-all-as-read",
            {"s": f"feed/{news.feed_id}", "ts": ts, "T": gr.edit_token()},
        ).content
        == b"OK"
    )
    read = set(
        EntryState.objects.filter(user=reader, is_read=True).values_list("entry__title", flat=True)
    )
    assert read == {"news 1", "news 2", "news 3"}
    gr.post("reader/api/0/mark-all-as-read", {"s": "user/-/label/Tech"})
    assert not EntryState.objects.filter(user=reader, is_read=False).exists()


def test_mark_all_as_read_of_the_starred_stream_touches_only_starred(
    gr: GReader, reader: User, news: Subscription
) -> None:
    EntryState.objects.filter(user=reader, entry__title="news 2").update(is_starred=True)
    gr.post("reader/api/0/mark-all-as-read", {"s": STARRED})
    assert list(
        EntryState.objects.filter(user=reader, is_read=True).values_list("entry__title", flat=True)
    ) == ["news 2"]


# --- another person's data, and bad input ------------------------------------------------------


def test_another_persons_feed_is_404_and_items_nothing(
    gr: GReader, bob: User, news: Subscription
) -> None:
    with_api_password(bob)
    bobs = subscribe(bob, "https://bob.example/feed")
    secret = add_entry(bobs.feed, "bob's secret")
    assert gr.get(f"reader/api/0/stream/contents/feed/{bobs.feed_id}").status_code == 404
    assert gr.get("reader/api/0/stream/contents/feed/https://bob.example/feed").status_code == 404
    # Items are answered as FreshRSS does, the same as ids that exist nowhere: none of them.
    contents = gr.post("reader/api/0/stream/items/contents", {"i": secret.pk})
    assert contents.status_code == 200 and contents.json()["items"] == []
    for tag in (READ, STARRED, "user/-/label/Mine"):
        tagged = gr.post("reader/api/0/edit-tag", {"i": secret.pk, "a": tag})
        assert tagged.status_code == 200 and tagged.content == b"OK"
    assert not EntryState.objects.filter(user=bob).exclude(is_read=False, is_starred=False).exists()
    assert not EntryState.objects.filter(user=bob, labels__isnull=False).exists()
    assert not Label.objects.filter(user=news.user).exists(), "no label made for nothing"
    assert (
        gr.post("reader/api/0/mark-all-as-read", {"s": f"feed/{bobs.feed_id}"}).status_code == 404
    )
    assert not EntryState.objects.filter(user=bob, is_read=True).exists()
    assert gr.get("reader/api/0/stream/contents/user/-/label/Nope").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("get", "reader/api/0/stream/contents/" + READING_LIST, {"n": "many"}),
        ("get", "reader/api/0/stream/contents/" + READING_LIST, {"c": "not-a-token"}),
        ("get", "reader/api/0/stream/contents/" + READING_LIST, {"ot": "yesterday"}),
        ("get", "reader/api/0/stream/contents/" + READING_LIST, {"ot": "9" * 30}),
        ("get", "reader/api/0/stream/items/ids", {}),
        ("get", "reader/api/0/stream/contents/odd/stream/id", {}),
        (
            "post",
            "reader/api/0/stream/items/contents",
            {"i": "tag:google.com,2005:reader/item/xyz"},
        ),
        ("post", "reader/api/0/stream/items/contents", {}),
        ("post", "reader/api/0/edit-tag", {"i": "1"}),
        ("post", "reader/api/0/mark-all-as-read", {"s": READING_LIST, "ts": "soon"}),
        ("post", "reader/api/0/mark-all-as-read", {}),
        ("post", "reader/api/0/rename-tag", {"s": "x", "dest": "y"}),
        ("post", "reader/api/0/subscription/quickadd", {}),
    ],
)
def test_malformed_parameters_are_a_400_with_a_message(
    gr: GReader, news: Subscription, method: str, path: str, params: dict[str, str]
) -> None:
    response = getattr(gr, method)(path, params) if method == "post" else gr.get(path, **params)
    assert response.status_code == 400 and len(response.content) > 5, response.content


def test_ids_out_of_range_match_nothing_rather_than_fail(gr: GReader, news: Subscription) -> None:
    for raw in ("ffffffffffffffff", "-1", "99999999999999999999"):
        answer = gr.post("reader/api/0/stream/items/contents", {"i": raw})
        assert answer.status_code == 200 and answer.json()["items"] == []


def test_marking_items_purged_since_the_last_sync_is_ok_and_marks_the_others(
    gr: GReader, reader: User, news: Subscription
) -> None:
    # An app marks read what it showed; retention may have deleted some of it meanwhile. An
    # answer other than "OK" makes newsboat send the change again at every sync, for ever.
    gone = Entry.objects.get(title="news 1").pk
    kept = Entry.objects.get(title="news 2")
    Entry.objects.filter(pk=gone).delete()
    for items in ([gone], [gone, kept.pk]):
        answer = gr.post("reader/api/0/edit-tag", {"i": items, "a": READ})
        assert answer.status_code == 200 and answer.content == b"OK"
    assert list(
        EntryState.objects.filter(user=reader, is_read=True).values_list("entry_id", flat=True)
    ) == [kept.pk]


def test_writes_must_be_posts(gr: GReader, news: Subscription) -> None:
    assert gr.get("reader/api/0/edit-tag", i="1", a=READ).status_code == 405


def test_the_atom_stream_carries_the_read_state_as_a_category_label(
    gr: GReader, reader: User, news: Subscription
) -> None:
    from lxml import etree

    EntryState.objects.filter(user=reader, entry__title="news 5").update(is_read=True)
    response = gr.get(f"reader/atom/feed/{news.feed.url}", n=3)
    assert response["Content-Type"].startswith("application/atom+xml")
    ns = {"a": "http://www.w3.org/2005/Atom", "gr": "http://www.google.com/schemas/reader/atom/"}
    doc = etree.fromstring(response.content)
    entries = doc.findall("a:entry", ns)
    assert [e.findtext("a:title", namespaces=ns) for e in entries] == ["news 5", "news 4", "news 3"]
    labels = [[c.get("label") for c in e.findall("a:category", ns)] for e in entries]
    assert "read" in labels[0] and "read" not in labels[1]
    assert entries[0].findtext("a:id", namespaces=ns) == ids.long_id(
        Entry.objects.get(title="news 5").pk
    )
    assert doc.findtext("gr:continuation", namespaces=ns)


def test_a_folder_named_read_never_reads_as_the_read_state_in_atom(
    gr: GReader, reader: User
) -> None:
    sub = subscribe(reader, "https://odd.example/feed", category="read")
    add_entry(sub.feed, "odd", categories=["user/-/state/com.google/read", "plain tag"])
    body = gr.get(f"reader/atom/feed/{sub.feed_id}").content.decode()
    assert 'label="read"' not in body and "plain tag" in body
    item = gr.json(f"reader/api/0/stream/contents/feed/{sub.feed_id}")["items"][0]
    assert READ not in item["categories"] and "plain tag" in item["categories"]


def test_titles_are_plain_text_that_clients_cannot_take_for_html(gr: GReader, reader: User) -> None:
    sub = subscribe(reader, "https://t.example/feed", title="A <b> & c")
    add_entry(sub.feed, "x < y & <script>", author="Tom & Jerry")
    item = gr.json(f"reader/api/0/stream/contents/feed/{sub.feed_id}")["items"][0]
    assert item["title"] == "x ＜ y ＆ ＜script＞" and item["author"] == "Tom ＆ Jerry"
    assert item["origin"]["title"] == "A ＜b＞ ＆ c"


def test_links_come_percent_encoded_where_an_app_could_write_them_into_html(
    gr: GReader, reader: User
) -> None:
    # Stored as the feed wrote them (pipeline.sanitize keeps `"` and `<` in a link): an app
    # that writes href="…" without escaping would have let the feed open a tag.
    sub = subscribe(reader, "https://q.example/feed")
    Feed.objects.filter(pk=sub.feed_id).update(site_url="https://q.example/?a='1'&b=<x>")
    hostile = 'https://q.example/a"><script>alert(1)</script>` b'
    add_entry(
        sub.feed,
        "quoted",
        url=hostile,
        enclosures=[
            {"url": "https://q.example/a.mp3?x=\"'<>", "type": "audio/mpeg"},
            {"url": "https://q.example/b.mp3", "type": 'audio/mpeg" onload="alert(1)'},
            {"url": "https://q.example/still.jpg", "type": "image"},
        ],
    )
    encoded = "https://q.example/a%22%3E%3Cscript%3Ealert(1)%3C/script%3E%60%20b"
    item = gr.json(f"reader/api/0/stream/contents/feed/{sub.feed_id}")["items"][0]
    assert item["canonical"] == [{"href": encoded}]
    assert item["alternate"] == [{"href": encoded, "type": "text/html"}]
    assert item["enclosure"][0]["href"] == "https://q.example/a.mp3?x=%22%27%3C%3E"
    # A type is given only if it is one (a thumbnail's "image" too, as FreshRSS gives it).
    assert [e["type"] for e in item["enclosure"]] == ["audio/mpeg", "", "image"]
    assert item["origin"]["htmlUrl"] == "https://q.example/?a=%271%27&b=%3Cx%3E"
    listed = gr.json("reader/api/0/subscription/list")["subscriptions"][0]
    assert listed["htmlUrl"] == "https://q.example/?a=%271%27&b=%3Cx%3E"
    from lxml import etree

    atom = etree.fromstring(gr.get(f"reader/atom/feed/{sub.feed_id}").content)
    hrefs = [link.get("href") for link in atom.iter("{http://www.w3.org/2005/Atom}link")]
    assert encoded in hrefs and hostile not in hrefs


def test_a_folder_or_label_name_too_long_is_refused_not_cut(
    gr: GReader, reader: User, news: Subscription
) -> None:
    # Cut to 255 and answered OK, it was saved under a name the app never sent: its next
    # call to that name found nothing.
    long = "user/-/label/" + "L" * 256
    renamed = gr.post("reader/api/0/rename-tag", {"s": "user/-/label/Tech", "dest": long})
    assert renamed.status_code == 400 and b"at most 255" in renamed.content
    one = Entry.objects.get(title="news 1")
    labelled = gr.post("reader/api/0/edit-tag", {"i": one.pk, "a": long})
    assert labelled.status_code == 400 and b"at most 255" in labelled.content
    assert Category.objects.filter(user=reader, name="Tech").exists()
    assert not Label.objects.filter(user=reader).exists()


def test_a_listed_feed_url_is_an_id_the_app_can_send_back(gr: GReader, reader: User) -> None:
    # Apps (newsboat) name a feed feed/<its url> from the list: percent-encoded there, a URL
    # with a quote named no subscription any more (and quickadd made a second feed).
    sub = subscribe(reader, "https://q.example/feed?q=it's")
    add_entry(sub.feed, "one")
    listed = gr.json("reader/api/0/subscription/list")["subscriptions"][0]
    assert listed["url"] == "https://q.example/feed?q=it's"
    refs = gr.json("reader/api/0/stream/items/ids", s="feed/" + listed["url"])["itemRefs"]
    assert len(refs) == 1
