"""A feed whose reading kills the refresh process (a crash in a C extension such as lxml, the
kernel's memory killer) shows that as its error, backs off as any failing feed does, and stops
no other feed: the feeds its process had not stored yet are refreshed in the same pass.

The real `liseuse refresh` runs in a child process, whose parser kills its own process on one
feed (`BOOT`); on a SQLite file here, and on the suite's PostgreSQL database when the suite
runs on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

from liseuse.feeds import worker
from liseuse.pipeline.refresh import FeedReport
from liseuse.pipeline.refresh import FeedToRefresh
from liseuse.pipeline.refresh import RefreshSummary
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.process import liseuse
from tests.process import liseuse_env

# On PostgreSQL, the `liseuse` processes use the suite's test database, emptied after each test.
pytestmark = pytest.mark.django_db(transaction=True)

ITEMS = 3
PASSWORD = "Child-crash-2024-liseuse"

# `liseuse` itself, its parser made to kill its process on any feed at /crash, as a segfault
# in lxml would (CRASH=segv), or as a library that exits would (CRASH=exit). With SPLIT set,
# a batch of a few feeds is split between two processes as a big one is.
BOOT = """
import os, resource, signal, sys

resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file for the crashes asked for
from liseuse import cli

cli._setup_django()
from liseuse.feeds import worker
from liseuse.pipeline import refresh

parse = refresh.parse_and_sanitize


def parse_or_crash(body, url, content_type):
    if url.endswith("/crash"):
        if os.environ["CRASH"] == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        os._exit(70)
    return parse(body, url, content_type)


refresh.parse_and_sanitize = parse_or_crash
if os.environ.get("SPLIT"):
    worker._SPLIT_THRESHOLD = 2
    worker._cores = lambda: 2
cli.main(sys.argv[1:])
"""

REASONS = {
    "segv": "the refresh process crashed (signal 11, SIGSEGV) while reading this feed",
    "exit": "the refresh process ended (exit code 70) while reading this feed",
}


def _rss(name: str) -> bytes:
    items = "".join(
        f"<item><guid>{name}-{i}</guid><title>E{i}</title><description>texte {i}</description>"
        f"<pubDate>Mon, 15 Jan 2024 {i:02}:00:00 GMT</pubDate></item>"
        for i in range(ITEMS)
    )
    # A site on loopback's closed port 1: the icon lookup fails at once.
    return (
        f'<rss version="2.0"><channel><title>{name}</title><link>http://127.0.0.1:1/</link>'
        f"{items}</channel></rss>"
    ).encode()


@dataclass
class Database:
    """Where the `liseuse` processes keep their data, and a way to read it back."""

    data: Path
    env: dict[str, str]

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if "LISEUSE_DATABASE_URL" in self.env:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        with sqlite3.connect(self.data / "liseuse.sqlite3") as db:
            return db.execute(sql).fetchall()

    def value(self, sql: str) -> Any:
        [(value,)] = self.rows(sql)
        return value

    def wait_after_error(self) -> timedelta:
        """How long the culprit waits for its next fetch after its last one."""
        times = self.rows(
            "SELECT last_fetched_at, next_fetch_at FROM feeds_feed WHERE url LIKE '%/crash'"
        )
        # SQLite gives the text Django stored; PostgreSQL, datetimes.
        last, following = (datetime.fromisoformat(t) if isinstance(t, str) else t for t in times[0])
        return following - last


@pytest.fixture
def database(tmp_path: Path) -> Database:
    env = {"LISEUSE_ALLOW_PRIVATE_NETWORKS": "1"}
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        login = quote(s["USER"]) + (f":{quote(s['PASSWORD'])}" if s["PASSWORD"] else "")
        env["LISEUSE_DATABASE_URL"] = f"postgresql://{login}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
    done = liseuse(tmp_path, "user", "add", "alice", stdin=PASSWORD + "\n", **env)
    assert done.returncode == 0, done.stderr
    return Database(tmp_path, env)


@pytest.fixture
def servers() -> Iterator[list[LocalServer]]:
    """Two feed hosts. On the first, /crash answers at once and the other feeds after a while:
    the crash comes while they are being fetched, and its process dies without them."""
    first = LocalServer(
        {"/crash": Reply(body=_rss("crash"))}
        | {f"/a{n}": Reply(body=_rss(f"a{n}"), delay=0.5) for n in range(3)}
    )
    second = LocalServer(
        {f"/b{n}": Reply(body=_rss(f"b{n}"), delay=0.05) for n in range(3)}, host="127.0.0.3"
    )
    with first, second:
        yield [first, second]


def _refresh(database: Database, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BOOT, "refresh", "--all"],
        capture_output=True,
        text=True,
        env=liseuse_env(database.data, **database.env, **env),
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("split", "crash"),
    [("split", "segv"), ("one", "segv"), ("one", "exit")],
    ids=["two-processes-segfault", "one-process-segfault", "one-process-exit"],
)
def test_a_feed_that_kills_its_process_gets_the_error_and_stops_no_other_feed(
    database: Database, servers: list[LocalServer], split: str, crash: str
) -> None:
    urls = [servers[0].url("/crash")] + [
        server.url(path) for server in servers for path in server.routes if path != "/crash"
    ]
    outlines = "".join(f'<outline text="F" xmlUrl="{url}"/>' for url in urls)
    opml = database.data / "feeds.opml"
    opml.write_text(f"<opml><body>{outlines}</body></opml>")
    imported = liseuse(
        database.data, "opml", "import", str(opml), "--user", "alice", **database.env
    )
    assert imported.returncode == 0, imported.stderr
    others = len(urls) - 1
    env = {"CRASH": crash, **({"SPLIT": "1"} if split == "split" else {})}

    first = _refresh(database, **env)
    assert first.returncode == 0, first.stderr
    if split == "split":
        assert f"refreshing {len(urls)} feeds in 2 processes" in first.stderr
    # Every other feed was stored in this same pass, the feeds after the culprit too.
    assert (
        f"{others} fetched, 0 unchanged, 1 in error; {others * ITEMS} new entries" in first.stdout
    )
    per_feed = database.rows(
        "SELECT f.url, count(e.id), f.error_count, f.last_error, f.lease_owner"
        " FROM feeds_feed f LEFT JOIN feeds_entry e ON e.feed_id = f.id GROUP BY f.id"
    )
    assert sorted(per_feed) == sorted(
        (url, 0, 1, REASONS[crash], "") if url.endswith("/crash") else (url, ITEMS, 0, "", "")
        for url in urls
    )
    # It backs off as any failing feed does (LISEUSE_REFRESH_MIN_MINUTES, then double), and
    # says why where people look.
    assert database.wait_after_error() == timedelta(minutes=15)
    listed = liseuse(database.data, "feed", "list", **database.env)
    assert f"{urls[0]}\terror (1×, never ok): {REASONS[crash]}" in listed.stdout

    # The next pass kills a process again, and stores nothing twice.
    second = _refresh(database, **env)
    assert second.returncode == 0, second.stderr
    assert f"{others} fetched, 0 unchanged, 1 in error; 0 new entries" in second.stdout
    assert database.value("SELECT count(*) FROM feeds_entry") == others * ITEMS
    assert (
        database.value("SELECT count(DISTINCT feed_id || '/' || identity) FROM feeds_entry")
        == others * ITEMS
    )
    assert database.value("SELECT count(*) FROM feeds_entrystate") == others * ITEMS
    assert database.value("SELECT error_count FROM feeds_feed WHERE url LIKE '%/crash'") == 2
    assert database.wait_after_error() == timedelta(minutes=30)
    assert database.value("SELECT count(*) FROM feeds_feed WHERE lease_owner != ''") == 0


def test_a_process_asked_to_stop_blames_no_feed_and_is_not_started_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A SIGTERM is someone asking the refresh to stop, not a feed killing it."""
    feeds = [FeedToRefresh(id=n, url=f"http://a.example/{n}") for n in range(3)]

    def refresh_batch(
        share: list[FeedToRefresh],
        *,
        owner: str,
        on_report: Callable[[FeedReport], object],
        concurrency_share: int,
        write_lock: AbstractContextManager[object],
        on_reading: Callable[[int | None], object],
        stop: worker._Stop,
    ) -> RefreshSummary:
        """In the child: one feed done, the next being read when the signal comes; the batch's
        task is then cancelled, as `refresh_batch`'s is."""
        on_report(FeedReport(share[0].id, share[0].url, "not-modified"))
        on_reading(share[1].id)
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):
            if stop.requested:
                raise asyncio.CancelledError
            time.sleep(0.01)
        raise AssertionError("the signal did not stop the refresh")

    marked: list[int] = []

    def mark_crashed(self: object, feed: FeedToRefresh, reason: str) -> FeedReport:
        marked.append(feed.id)
        return FeedReport(feed.id, feed.url, "error", error=reason)

    monkeypatch.setattr(worker, "refresh_batch", refresh_batch)
    monkeypatch.setattr(worker, "_database_in_memory", lambda: False)
    monkeypatch.setattr(worker._Children, "_mark_crashed", mark_crashed)
    summary = worker.refresh_split(feeds, owner="t")
    assert [report.feed_id for report in summary.reports] == [0]
    assert marked == []
