"""Entry identities across fetches: a document's items against what a store holds, fetch after
fetch, as `pipeline.refresh` resolves them (`stored_for`, `Identities.against`, `decide_entries`).

The store here is a dictionary that answers only what it is asked, as the real one does: a
resolution that relied on identities it never asked for would pass here only by luck.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime

import pytest

from liseuse.pipeline import decide
from liseuse.pipeline.decide import Identities
from liseuse.pipeline.decide import content_hash
from liseuse.pipeline.decide import decide_entries
from liseuse.pipeline.decide import entry_identities
from liseuse.pipeline.refresh import stored_for
from liseuse.pipeline.types import ParsedEntry

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SITE = "http://site/"


@dataclass
class Row:
    title: str
    content_hash: str
    starred: bool = False


class Store:
    """A feed's stored entries by identity, and its tombstones."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.tombstones: set[str] = set()

    def stored_hashes(self, feed_id: int, identities: Sequence[str]) -> Mapping[str, str | None]:
        known: dict[str, str | None] = {
            i: self.rows[i].content_hash for i in identities if i in self.rows
        }
        known.update((i, None) for i in identities if i in self.tombstones)
        return known

    def refresh(self, *entries: ParsedEntry) -> list[tuple[str, str]]:
        """Store what a fetch of `entries` decides; returns (kind, title) of each decision."""
        hashes = [content_hash(e) for e in entries]
        identified = Identities(entries, hashes)
        resolved = identified.against(stored_for(self, 1, identified))  # type: ignore[arg-type]
        for old, new in resolved.renames:
            if old in self.rows and new not in self.rows:
                self.rows[new] = self.rows.pop(old)
        decisions = decide_entries(
            entries,
            resolved.stored,
            now=NOW,
            identities=resolved.identities,
            hashes=hashes,
        )
        for d in decisions:
            if d.kind == "new":
                self.rows.setdefault(d.identity, Row(d.entry.title, d.content_hash))
            else:
                row = self.rows[d.identity]
                row.title, row.content_hash = d.entry.title, d.content_hash
        return [(d.kind, d.entry.title) for d in decisions]

    def titles(self) -> list[str]:
        return sorted(row.title for row in self.rows.values())

    def star(self, title: str) -> None:
        (row,) = [row for row in self.rows.values() if row.title == title]
        row.starred = True

    def starred(self) -> list[str]:
        return sorted(row.title for row in self.rows.values() if row.starred)


def post(
    name: str, *, guid: str | None = SITE, link: str | None = None, text: str = ""
) -> ParsedEntry:
    return ParsedEntry(guid=guid, link=link, title=f"Post {name}", content=f"<p>{text or name}</p>")


def linked(name: str, **fields: object) -> ParsedEntry:
    return post(name, link=f"{SITE}{name}", **fields)  # type: ignore[arg-type]


def one_link(name: str, text: str = "") -> ParsedEntry:
    return post(name, link=SITE, text=text)


@pytest.mark.parametrize("make", [post, linked, one_link], ids=["no link", "own links", "one link"])
def test_a_guid_shared_by_one_then_two_items_moves_no_star(
    make: Callable[[str], ParsedEntry],
) -> None:
    # The tester's sequence: every item has the site's address as guid.
    store = Store()
    store.refresh(make("A"))
    store.star("Post A")
    assert store.refresh(make("B"), make("A")) == [("new", "Post B")]
    assert store.refresh(make("C"), make("B")) == [("new", "Post C")]
    assert store.refresh(make("C")) == []
    assert store.refresh(make("C")) == []
    assert store.titles() == ["Post A", "Post B", "Post C"]
    assert store.starred() == ["Post A"]


def test_a_guid_shared_by_two_then_one_item_keeps_both() -> None:
    store = Store()
    store.refresh(post("B"), post("A"))
    store.star("Post A")
    assert store.refresh(post("A")) == []
    assert store.refresh(post("B"), post("A")) == []
    assert store.titles() == ["Post A", "Post B"]
    assert store.starred() == ["Post A"]


def test_a_post_alone_after_its_key_was_shared_is_new_not_a_change_of_an_older_one() -> None:
    store = Store()
    store.refresh(post("A"))
    store.star("Post A")
    store.refresh(post("B"), post("A"))
    # A one-post feed again, with a post never seen: not the starred one's row.
    assert store.refresh(post("D")) == [("new", "Post D")]
    assert store.titles() == ["Post A", "Post B", "Post D"]
    assert store.starred() == ["Post A"]


def test_a_key_shared_by_new_items_only_frees_the_entry_stored_under_it() -> None:
    # The one post goes, two new ones share its guid, then one post again: the first post's
    # row must not become the last one.
    store = Store()
    store.refresh(post("A"))
    store.star("Post A")
    assert store.refresh(post("C"), post("B")) == [("new", "Post C"), ("new", "Post B")]
    assert store.refresh(post("D")) == [("new", "Post D")]
    assert store.starred() == ["Post A"]
    assert store.titles() == ["Post A", "Post B", "Post C", "Post D"]


def test_a_post_alone_with_its_guid_is_still_updated_in_place() -> None:
    store = Store()
    store.refresh(post("A", guid="g"))
    store.star("Post A")
    assert store.refresh(post("A", guid="g", text="corrected")) == [("updated", "Post A")]
    assert len(store.rows) == 1 and store.starred() == ["Post A"]


def test_a_corrected_post_among_others_sharing_its_guid_is_updated_by_its_link() -> None:
    store = Store()
    store.refresh(linked("B"), linked("A"))
    store.star("Post A")
    assert store.refresh(linked("B"), linked("A", text="corrected")) == [("updated", "Post A")]
    assert store.refresh(linked("A", text="corrected")) == []
    assert store.titles() == ["Post A", "Post B"]
    assert store.starred() == ["Post A"]


def test_items_sharing_their_guid_and_link_are_told_apart_by_their_content() -> None:
    # A link that several items have names none of them: a new post alone later is new.
    store = Store()
    store.refresh(linked("B"), one_link("A"), one_link("Z"))
    store.star("Post A")
    assert store.refresh(one_link("A"), one_link("Z", text="corrected")) == [("new", "Post Z")]
    assert store.refresh(one_link("D")) == [("new", "Post D")]
    assert store.refresh(one_link("A")) == []
    assert store.starred() == ["Post A"]
    assert store.titles() == ["Post A", "Post B", "Post D", "Post Z", "Post Z"]


def test_items_without_guid_sharing_a_link_keep_their_rows() -> None:
    def item(name: str) -> ParsedEntry:
        return post(name, guid=None, link=SITE)

    store = Store()
    store.refresh(item("A"))
    store.star("Post A")
    assert store.refresh(item("B"), item("A")) == [("new", "Post B")]
    assert store.refresh(item("C"), item("B")) == [("new", "Post C")]
    assert store.refresh(item("C")) == []
    assert store.refresh(item("D")) == [("new", "Post D")]
    assert store.titles() == ["Post A", "Post B", "Post C", "Post D"]
    assert store.starred() == ["Post A"]


def test_a_feed_whose_every_item_has_one_guid_gets_one_entry_per_post() -> None:
    store = Store()
    store.refresh(post("3"), post("2"), post("1"))
    store.star("Post 2")
    assert store.refresh(post("4"), post("3"), post("2")) == [("new", "Post 4")]
    assert store.refresh(post("5"), post("4"), post("3")) == [("new", "Post 5")]
    assert store.titles() == ["Post 1", "Post 2", "Post 3", "Post 4", "Post 5"]
    assert store.starred() == ["Post 2"]


def test_an_item_listed_twice_is_one_entry() -> None:
    a, b = post("A", guid="g1"), post("B", guid="g2")
    store = Store()
    store.refresh(a, b)
    assert store.refresh(a, a, b) == []
    assert store.refresh(b, a, a) == []
    assert store.titles() == ["Post A", "Post B"]
    fresh = Store()
    assert fresh.refresh(a, a, b) == [("new", "Post A"), ("new", "Post B")]


def test_exact_copies_of_items_sharing_a_guid_are_one_entry_each() -> None:
    store = Store()
    assert store.refresh(post("B"), post("A"), post("B"), post("A")) == [
        ("new", "Post B"),
        ("new", "Post A"),
    ]
    assert store.refresh(post("B"), post("B"), post("A")) == []
    assert store.titles() == ["Post A", "Post B"]


def test_a_purged_entry_stays_purged_when_its_key_is_shared_again() -> None:
    store = Store()
    store.refresh(post("B"), post("A"))
    (purged,) = [i for i, row in store.rows.items() if row.title == "Post A"]
    del store.rows[purged]
    store.tombstones.add(purged)
    assert store.refresh(post("B"), post("A")) == []
    assert store.refresh(post("A")) == []


def test_entries_stored_by_the_previous_scheme_are_found_again() -> None:
    # What the previous scheme stored: the plain identity for a key alone in its document,
    # ("repeat", key, content hash, copy number) for keys several items had.
    def old(*parts: str) -> str:
        return decide._digest(*parts)

    a, b, lone = post("A"), post("B"), post("L", guid="lone")
    store = Store()
    store.rows[old("entry", "guid", "lone")] = Row("Post L", content_hash(lone))
    for item in (a, b):
        store.rows[old("repeat", "guid", SITE, content_hash(item), "1")] = Row(
            item.title, content_hash(item)
        )
    assert store.refresh(lone, b, a) == []
    assert store.refresh(b, a) == []
    assert store.refresh(a) == []
    assert len(store.rows) == 3


def test_first_identities_match_the_previous_schemes_for_keys_alone() -> None:
    # Most stored entries: a key alone in its document. Their identity must not change.
    entries = [post("A", guid="g1"), post("B", guid=None, link="https://e.com/b")]
    assert entry_identities(entries) == (
        decide._digest("entry", "guid", "g1"),
        decide._digest("entry", "link", "https://e.com/b"),
    )
