"""Fever's writes: mark an item, a feed or a group; and malformed calls that change nothing."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds.models import Category
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.subscribe import follow
from tests.fever.conftest import T0
from tests.fever.conftest import URL
from tests.fever.conftest import Caller
from tests.fever.conftest import entry_ids
from tests.fever.conftest import fever_key
from tests.fever.conftest import item_ids
from tests.fever.conftest import make_feed

pytestmark = pytest.mark.django_db


def unread(user: User) -> list[int]:
    return queries.state_ids_with(user, "unread")


def saved(user: User) -> list[int]:
    return queries.state_ids_with(user, "starred")


def test_an_item_is_marked_read_and_unread_and_the_answer_lists_the_unread(
    reader: User, bob: User, fever: Caller
) -> None:
    # The item id is the person's state id (with bob following too, not the entry id).
    ids = item_ids(reader, make_feed("a", reader, bob))
    answer = fever(reader, f"mark=item&as=read&id={ids[1]}")
    assert answer["unread_item_ids"] == f"{ids[0]},{ids[2]}"
    assert "saved_item_ids" not in answer
    assert unread(reader) == [ids[0], ids[2]]
    assert EntryState.objects.get(pk=ids[1]).read_at is not None
    assert len(unread(bob)) == 3
    answer = fever(reader, f"mark=item&as=unread&id={ids[1]}")
    assert answer["unread_item_ids"] == ",".join(map(str, ids))
    assert unread(reader) == ids


def test_an_item_is_saved_and_unsaved_and_the_answer_lists_the_saved(
    reader: User, bob: User, fever: Caller
) -> None:
    ids = item_ids(reader, make_feed("a", reader, bob))
    answer = fever(reader, f"mark=item&as=saved&id={ids[2]}")
    assert answer["saved_item_ids"] == str(ids[2])
    assert "unread_item_ids" not in answer
    assert saved(reader) == [ids[2]]
    assert fever(reader, f"mark=item&as=unsaved&id={ids[2]}")["saved_item_ids"] == ""
    assert saved(reader) == []


def test_writes_in_the_body_work_like_writes_in_the_query_string(
    reader: User, fever: Caller
) -> None:
    ids = item_ids(reader, make_feed("a", reader))
    fever(reader, "", {"mark": "item", "as": "read", "id": str(ids[0])})
    assert unread(reader) == ids[1:]
    # The body wins when both say something.
    fever(reader, f"mark=item&as=read&id={ids[1]}", {"as": "saved"})
    assert unread(reader) == ids[1:] and saved(reader) == [ids[1]]


def test_a_feed_is_marked_read_up_to_before(reader: User, fever: Caller) -> None:
    a = item_ids(reader, make_feed("a", reader, entries=4))
    b = item_ids(reader, make_feed("b", reader, entries=2))
    feed_id = EntryState.objects.get(pk=a[0]).feed_id
    # Entries arrived at T0, T0+1h, T0+2h, T0+3h: `before` at T0+1h marks the first two.
    before = int((T0 + timedelta(hours=1)).timestamp())
    answer = fever(reader, f"mark=feed&as=read&id={feed_id}&before={before}")
    assert answer["unread_item_ids"] == ",".join(map(str, a[2:] + b))
    fever(reader, f"mark=feed&as=read&id={feed_id}")  # no before: all of it
    assert unread(reader) == b


def test_before_counts_arrival_not_the_feeds_date(reader: User, fever: Caller) -> None:
    ids = item_ids(reader, make_feed("a", reader, entries=2))
    feed_id = EntryState.objects.get(pk=ids[0]).feed_id
    # The second entry is dated long ago but arrived after the client's last sync.
    EntryState.objects.filter(pk=ids[1]).update(sort_date=T0 - timedelta(days=30))
    before = int((T0 + timedelta(minutes=30)).timestamp())
    fever(reader, f"mark=feed&as=read&id={feed_id}&before={before}")
    assert unread(reader) == [ids[1]]


def test_a_group_is_marked_read_and_group_0_is_everything(reader: User, fever: Caller) -> None:
    a = item_ids(reader, make_feed("a", reader, entries=2, category="News"))
    b = item_ids(reader, make_feed("b", reader, entries=2, category="Tech"))
    c = item_ids(reader, make_feed("c", reader, entries=2))
    news = Category.objects.get(user=reader, name="News")
    answer = fever(reader, f"mark=group&as=read&id={news.pk}&before=0")
    assert not set(a) & set(unread(reader))
    assert answer["unread_item_ids"] == ",".join(map(str, b + c))
    before = int(T0.timestamp())
    fever(reader, f"mark=group&as=read&id=0&before={before}")
    assert unread(reader) == [b[1], c[1]]
    fever(reader, "mark=group&as=read&id=0")
    assert unread(reader) == []


def test_sparks_group_minus_1_changes_nothing(reader: User, fever: Caller) -> None:
    ids = item_ids(reader, make_feed("a", reader))
    answer = fever(reader, "mark=group&as=read&id=-1&before=0")
    assert answer["unread_item_ids"] == ",".join(map(str, ids))


def test_another_persons_item_feed_or_group_is_left_alone(
    reader: User, bob: User, fever: Caller
) -> None:
    mine = item_ids(reader, make_feed("a", reader))
    theirs = make_feed("b", bob, category="Bob's")
    their_ids = item_ids(bob, theirs)
    group = Category.objects.get(user=bob)
    for query in (
        f"mark=item&as=read&id={their_ids[0]}",
        f"mark=item&as=saved&id={their_ids[0]}",
        f"mark=feed&as=read&id={theirs.pk}",
        f"mark=group&as=read&id={group.pk}",
    ):
        answer = fever(reader, query)
        assert answer.get("unread_item_ids", ",".join(map(str, mine))) == ",".join(map(str, mine))
    assert unread(bob) == their_ids and saved(bob) == []
    fever(reader, "mark=group&as=read&id=0")
    assert unread(bob) == their_ids


def test_another_persons_item_id_is_left_alone_for_an_entry_both_follow(
    reader: User, bob: User, fever: Caller
) -> None:
    feed = make_feed("a", reader, bob)
    mine, theirs = item_ids(reader, feed), item_ids(bob, feed)
    for state in ("read", "saved"):
        fever(reader, f"mark=item&as={state}&id={theirs[0]}")
    assert fever(reader, f"items&with_ids={theirs[0]}")["items"] == []
    assert unread(reader) == mine and saved(reader) == []
    assert unread(bob) == theirs and saved(bob) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("mark=item&as=read&id=abc", "fever: id must be a whole number, not 'abc'"),
        ("mark=item&as=read&id=-1", "fever: id must be a whole number, not '-1'"),
        ("mark=item&as=read", "fever: mark needs an id"),
        ("mark=item&as=seen&id=1", "fever: as must be read, unread, saved or unsaved"),
        ("mark=entry&as=read&id=1", "fever: mark must be item, feed or group"),
        ("mark=feed&as=unread&id=1", "fever: a feed can only be marked as read"),
        ("mark=group&as=saved&id=1", "fever: a group can only be marked as read"),
        ("mark=feed&as=read&id=1&before=yesterday", "fever: before must be a whole number"),
        ("items&since_id=x", "fever: since_id must be a whole number"),
        ("items&max_id=1.5", "fever: max_id must be a whole number"),
        ("items&with_ids=1,two", "fever: with_ids must be a whole number"),
        ("items&feed_ids=1;2", "fever: feed_ids must be a whole number"),
        ("items&group_ids=%E2%91%A0", "fever: group_ids must be a whole number"),
    ],
)
def test_a_malformed_call_is_400_with_a_message_and_writes_nothing(
    reader: User, fever: Caller, query: str, message: str
) -> None:
    ids = item_ids(reader, make_feed("a", reader))
    # The item mark would be valid; the malformed part must stop it all the same.
    answer = fever(reader, f"{query}&unread_item_ids", status=400)
    assert answer["error"].startswith(message)
    answer = fever(reader, f"items&since_id=zz&mark=item&as=read&id={ids[0]}", status=400)
    assert unread(reader) == ids


def test_huge_ids_match_nothing_instead_of_failing(reader: User, fever: Caller) -> None:
    ids = item_ids(reader, make_feed("a", reader))
    huge = "9" * 40
    assert fever(reader, f"items&since_id={huge}")["items"] == []
    assert len(fever(reader, f"items&max_id={huge}")["items"]) == 3
    assert fever(reader, f"items&with_ids={huge}")["items"] == []
    assert fever(reader, f"mark=item&as=read&id={huge}")["unread_item_ids"] != ""
    fever(reader, f"mark=feed&as=read&id={huge}&before={huge}")
    assert unread(reader) == ids


def test_a_change_made_in_liseuse_shows_in_fever_and_back(
    reader: User, bob: User, fever: Caller
) -> None:
    # The pages speak of entry ids, Fever of the person's state ids: with bob following too,
    # the two differ.
    feed = make_feed("a", reader, bob)
    entries, ids = entry_ids(feed), item_ids(reader, feed)
    queries.set_read(reader, [entries[0]], True)
    queries.set_starred(reader, [entries[1]], True)
    items = {i["id"]: i for i in fever(reader, "items")["items"]}
    assert (items[ids[0]]["is_read"], items[ids[1]]["is_saved"]) == (1, 1)
    fever(reader, f"mark=item&as=unread&id={ids[0]}")
    fever(reader, f"mark=item&as=unsaved&id={ids[1]}")
    fever(reader, f"mark=item&as=saved&id={ids[2]}")
    assert [s.entry_id for s in queries.stream(reader, queries.StreamFilter()).entries] == list(
        reversed(entries)
    )
    starred = queries.stream(reader, queries.StreamFilter(state="starred")).entries
    assert [s.entry_id for s in starred] == [entries[2]]


_KEYS = ["mark", "as", "id", "before", "items", "since_id", "max_id", "with_ids", "feed_ids"]
_KEYS += ["group_ids", "unread_item_ids", "saved_item_ids", "groups", "feeds", "favicons"]
_VALUES = st.one_of(
    st.sampled_from(["item", "feed", "group", "read", "unread", "saved", "unsaved", "0", "-1"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(max_size=12),
    st.lists(st.integers(min_value=-5, max_value=2**64), max_size=4).map(
        lambda ids: ",".join(map(str, ids))
    ),
)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dictionaries(st.sampled_from(_KEYS), _VALUES, max_size=6), st.booleans())
def test_no_combination_of_parameters_is_a_server_error(
    reader: User, client: Client, params: dict[str, str], in_body: bool
) -> None:
    if not Entry.objects.exists():
        make_feed("a", reader, category="News")
    data = {"api_key": fever_key("alice"), **(params if in_body else {})}
    response = client.post(URL + "?api", data, QUERY_STRING="" if in_body else urlencode(params))
    assert response.status_code in (200, 400), response.content
    assert response.json()["auth"] == 1


def test_before_counts_arrival_to_the_person_for_a_feed_they_followed_late(
    reader: User, bob: User, fever: Caller
) -> None:
    # bob's feed had its entries long before alice followed it: for her, they arrived when she
    # followed. Her app, last synced before that, never saw them: a `before` of that sync must
    # leave them unread.
    feed = make_feed("other", bob, entries=2)
    synced = int((timezone.now() - timedelta(minutes=5)).timestamp())
    follow(reader, "https://other.example/feed")
    fever(reader, f"mark=feed&as=read&id={feed.pk}&before={synced}")
    fever(reader, f"mark=group&as=read&id=0&before={synced}")
    assert len(unread(reader)) == 2
    fever(reader, f"mark=feed&as=read&id={feed.pk}")
    assert unread(reader) == [] and len(unread(bob)) == 2
