"""The queries.py functions added for the APIs agree with the ones the pages use."""

from __future__ import annotations

import pytest

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Label
from liseuse.feeds.queries import StreamFilter
from tests.greader.conftest import add_entry
from tests.greader.conftest import subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def seven(alice: User) -> User:
    sub = subscribe(alice, "https://seven.example/feed", category="Folder")
    for n in range(7):
        # Two entries per minute: paging must break ties by id.
        add_entry(sub.feed, f"entry {n}", minutes=n // 2)
    return alice


def test_stream_rows_pages_like_stream(seven: User) -> None:
    flt = StreamFilter(state="all")
    by_rows: list[int] = []
    by_models: list[int] = []
    after_rows = after_models = None
    pages = 0
    while True:
        rows, after_rows = queries.stream_rows(
            seven, flt, ["entry__title"], limit=3, after=after_rows
        )
        page = queries.stream(seven, flt, limit=3, after=after_models)
        assert after_rows == page.next_after
        after_models = page.next_after
        by_rows += [row["entry_id"] for row in rows]
        by_models += [state.entry_id for state in page.entries]
        pages += 1
        if after_rows is None:
            break
    assert pages == 3 and by_rows == by_models and len(set(by_rows)) == 7


def test_stream_entry_ids_pages_like_the_stream(seven: User) -> None:
    flt = StreamFilter(state="unread", oldest_first=True)
    first, after = queries.stream_entry_ids(seven, flt, limit=4)
    assert after is not None
    rest, end = queries.stream_entry_ids(seven, flt, limit=4, after=after)
    assert end is None
    whole = [state.entry_id for state in queries.stream(seven, flt, limit=100).entries]
    assert len(whole) == 7 and first + rest == whole


def test_rows_by_ids_keeps_the_order_asked_and_drops_others(seven: User, bob: User) -> None:
    ids = list(EntryState.objects.filter(user=seven).values_list("entry_id", flat=True))
    rows = queries.rows_by_ids(seven, [ids[2], 10**12, ids[0]], ["entry__title"])
    assert [row["entry_id"] for row in rows] == [ids[2], ids[0]]
    assert queries.rows_by_ids(bob, ids, ["entry__title"]) == []


def test_starred_only_narrows_a_state(seven: User) -> None:
    EntryState.objects.filter(user=seven, entry__title__in=["entry 1", "entry 2"]).update(
        is_starred=True
    )
    EntryState.objects.filter(user=seven, entry__title="entry 1").update(is_read=True)
    rows, _ = queries.stream_rows(
        seven, StreamFilter(state="unread", starred_only=True), ["entry__title"]
    )
    assert [row["entry__title"] for row in rows] == ["entry 2"]


def test_unread_counts_by_feed_and_label_with_the_newest_date(seven: User) -> None:
    label = Label.objects.create(user=seven, name="Later")
    for state in EntryState.objects.filter(user=seven, entry__title__in=["entry 0", "entry 6"]):
        state.labels.add(label)
    EntryState.objects.filter(user=seven, entry__title="entry 6").update(is_read=True)
    (feed_id,) = queries.unread_by_feed_with_newest(seven)
    count, newest = queries.unread_by_feed_with_newest(seven)[feed_id]
    assert count == 6 and newest == EntryState.objects.get(entry__title="entry 5").sort_date
    assert queries.unread_by_label(seven) == {
        label.pk: (1, EntryState.objects.get(entry__title="entry 0").sort_date)
    }
    assert [row["category__name"] for row in queries.subscription_rows(seven)] == ["Folder"]
