"""Deferred full-text indexing: what a refresh stores is queued, then indexed, then found.

SQLite queues entries in a table (migration 0004), PostgreSQL leaves their document NULL
(migration 0006); `search.index_pending` empties either queue, and a search takes a bite of it
first. These tests run on both databases (LISEUSE_DATABASE_URL picks PostgreSQL).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connection
from django.db import connections
from django.db import transaction
from django.test import override_settings

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds import search
from liseuse.feeds import worker
from liseuse.feeds.models import Entry
from liseuse.feeds.subscribe import follow
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.httpserver import SeenRequest

pytestmark = pytest.mark.django_db(transaction=True)

SITE = "http://127.0.0.1:1/"  # closed port: the icon lookup fails at once


def rss(*items: tuple[str, str, str]) -> bytes:
    body = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title><link>{SITE}{guid}</link>"
        f"<description><![CDATA[<p>{text}</p>]]></description>"
        f"<pubDate>Mon, 15 Jan 2024 0{i}:00:00 GMT</pubDate></item>"
        for i, (guid, title, text) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Local</title>'
        f"<link>{SITE}</link>{body}</channel></rss>"
    ).encode()


@pytest.fixture(autouse=True)
def _allow_loopback() -> Iterator[None]:
    with override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True):
        yield


def pending() -> set[int]:
    """Ids of the entries stored but not yet searchable."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT entry_id FROM liseuse_entry_fts_pending")
        else:
            cursor.execute("SELECT id FROM feeds_entry WHERE liseuse_search IS NULL")
        return {row[0] for row in cursor.fetchall()}


def found(user: User, query: str) -> set[str]:
    flt = queries.StreamFilter(state="all", search=query)
    return {s.entry.title for s in queries.stream(user, flt, limit=100).entries}


def test_a_refreshed_entry_is_queued_then_found_by_a_search(alice: User) -> None:
    page = rss(("a", "Marée basse", "Les goélands reviennent."), ("b", "Autre", "rien"))
    with LocalServer({"/feed": lambda request: Reply(body=page)}) as server:
        follow(alice, server.url("/feed"))
        assert worker.refresh_once(all_feeds=True).new_entries == 2
    # Stored and readable, not yet in the index: the refresh did not compute it.
    assert pending() == set(Entry.objects.values_list("pk", flat=True))
    assert found(alice, "goelands") == {"Marée basse"}  # the search indexed its bite first
    assert pending() == set()


def test_a_changed_entry_is_queued_again_and_found_by_its_new_words(alice: User) -> None:
    pages = iter(
        [
            rss(("a", "Brouillon", "un ancien paragraphe")),
            rss(("a", "Version corrigée", "un nouveau paragraphe")),
            rss(("a", "Version corrigée", "un nouveau paragraphe")),
        ]
    )

    def answer(request: SeenRequest) -> Reply:
        return Reply(body=next(pages))

    with LocalServer({"/feed": answer}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
        assert search.index_pending() == 1 and pending() == set()
        worker.refresh_once(all_feeds=True)  # the same entry, new text: updated in place
        entry = Entry.objects.get()
        # PostgreSQL queues it again; SQLite's update trigger swaps its words in the write.
        assert pending() == ({entry.pk} if connection.vendor == "postgresql" else set())
        assert found(alice, "corrigee") == {"Version corrigée"}
        assert found(alice, "ancien") == set()
        worker.refresh_once(all_feeds=True)  # unchanged: nothing to index again
        assert pending() == set()
    # Writing the row with the same text (Django's save writes every column) queues nothing.
    entry.save()
    assert pending() == set()


def test_index_pending_empties_the_queue_within_its_limit(alice: User) -> None:
    items = [(f"g{i}", f"Titre {i}", f"mot{i} commun") for i in range(9)]
    with LocalServer({"/feed": lambda request: Reply(body=rss(*items))}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
    assert len(pending()) == 9
    assert search.index_pending(4) == 4 and len(pending()) == 5
    assert search.index_pending() == 5 and pending() == set()
    assert search.index_pending() == 0
    assert len(found(alice, "commun")) == 9 and found(alice, "mot7") == {"Titre 7"}


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and SKIP LOCKED: PostgreSQL only"
)
def test_on_postgresql_a_worker_never_waits_for_rows_another_is_indexing(alice: User) -> None:
    items = [(f"g{i}", f"Titre {i}", "texte") for i in range(5)]
    with LocalServer({"/feed": lambda request: Reply(body=rss(*items))}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
    held = min(pending())
    locked, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        # Another connection holds one queued row, as a second worker's batch would.
        try:
            with transaction.atomic(), connections["default"].cursor() as cursor:
                cursor.execute("SELECT id FROM feeds_entry WHERE id = %s FOR UPDATE", [held])
                locked.set()
                release.wait(10)
        finally:
            connections["default"].close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        assert search.index_pending() == 4  # the four free rows, at once
        assert time.monotonic() - started < 5
        assert pending() == {held}
    finally:
        release.set()
        thread.join()
    assert search.index_pending() == 1 and pending() == set()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="migration 0008 is PostgreSQL's")
def test_migration_0008_splits_indexed_documents_and_goes_back(alice: User) -> None:
    from django.db.migrations.executor import MigrationExecutor

    def migrate(target: list[tuple[str, str]]) -> None:
        MigrationExecutor(connection).migrate(target)

    def documents(title: str) -> tuple[str | None, ...]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'feeds_entry' AND column_name LIKE 'liseuse%%' "
                "ORDER BY column_name"
            )
            names = [row[0] for row in cursor.fetchall()]
            cursor.execute(
                f"SELECT {', '.join(f'{n}::text' for n in names)} FROM feeds_entry "
                "WHERE title = %s",
                [title],
            )
            return tuple(cursor.fetchone())

    items = [("a", "Indexé", "avant la migration"), ("b", "En attente", "encore dans la file")]
    with LocalServer({"/feed": lambda request: Reply(body=rss(*items))}) as server:
        follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
    assert search.index_pending() == 2
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    migrate([("feeds", "0007_entry_arrival")])
    try:
        # Back to 0006's whole documents (the text is "Indexé"'s, weight D, after the title).
        assert documents("Indexé") == ("'avant':2 'indexe':1A 'la':3 'migration':4",)
        # 0006's trigger is back: a change of text requeues without naming the gone column.
        Entry.objects.filter(title="En attente").update(content="<p>toujours en attente</p>")
        assert documents("En attente") == (None,)
    finally:
        migrate(latest)
    # Split: the title and text on one side, the title (and fields) on the other.
    assert documents("Indexé") == ("'indexe':1A", "'avant':2 'indexe':1A 'la':3 'migration':4")
    assert documents("En attente") == (None, None)
    assert pending() == {Entry.objects.get(title="En attente").pk}
    assert search.index_pending() == 1 and pending() == set()
    assert found(alice, "avant") == {"Indexé"} and found(alice, "toujours") == {"En attente"}


@pytest.mark.skipif(connection.vendor != "sqlite", reason="FTS5's settings (migration 0010)")
def test_the_fts5_index_is_written_in_big_pieces() -> None:
    # Each setting cut the CPU of indexing a first refresh (migration 0010); FTS5 keeps them in
    # the index's own table, so a rebuilt index without them would silently lose them.
    with connection.cursor() as cursor:
        cursor.execute("SELECT k, v FROM liseuse_entry_fts_config WHERE k <> 'version'")
        assert dict(cursor.fetchall()) == {"hashsize": 16 * 1024 * 1024, "automerge": 8}
