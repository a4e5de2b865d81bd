"""A big pass is refreshed by one process per core, each taking whole hosts: every feed is
fetched once, every entry stored once, and no host ever sees more requests at once than the
per-host limit allows, though several processes fetch at the same time.

The real `liseuse` command runs in a child process, as a person runs it, on a SQLite file here
and on PostgreSQL in tests/scale/test_split.py; the counts come from the feed servers' own logs
and from the database.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from liseuse.feeds.worker import split_by_host
from liseuse.pipeline.refresh import FeedToRefresh
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.process import liseuse

HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6")
FEEDS_PER_HOST = 14
TOTAL = len(HOSTS) * FEEDS_PER_HOST  # 70 feeds: over the split threshold
ITEMS = 6
PASSWORD = "Split-refresh-2024-liseuse"


# What a hostile or careless feed puts in an entry; none of it may reach the database as is.
HOSTILE_HTML = (
    '<p onclick="steal()">Texte {i}</p><script>alert(1)</script>'
    '<a href="javascript:alert(2)">piège</a> '
    '<a href="https://example.org/lu?id={i}&amp;utm_source=rss&amp;fbclid=abc">suivi</a> '
    '<a href="/relatif/{i}">relatif</a>'
)


def _rss(host: int, n: int) -> bytes:
    items = "".join(
        f"<item><guid>h{host}-f{n}-{i}</guid><title>E{i}</title>"
        f"<description><![CDATA[{HOSTILE_HTML.format(i=i)}]]></description>"
        f"<pubDate>Mon, 15 Jan 2024 {i:02}:00:00 GMT</pubDate></item>"
        for i in range(ITEMS)
    )
    # No site link: the icon is looked for at the host's home page and /favicon.ico.
    return f'<rss version="2.0"><channel><title>F{n}</title>{items}</channel></rss>'.encode()


def split_refresh(data: Path, **env: str) -> None:
    """Serve the feeds, import them for alice (who exists), run `liseuse refresh --all` once,
    and check what the servers saw and what the command said; the caller checks the database."""
    servers = []
    for h, host in enumerate(HOSTS):
        # A little time per answer, so that the processes' requests do overlap.
        routes = {
            f"/f{n}": Reply(
                headers={"Content-Type": "application/rss+xml"}, body=_rss(h, n), delay=0.03
            )
            for n in range(FEEDS_PER_HOST)
        }
        servers.append(LocalServer(routes, host=host))
    for server in servers:
        server.__enter__()
    try:
        outlines = "".join(
            f'<outline text="F{n}" xmlUrl="{server.url(f"/f{n}")}"/>'
            for server in servers
            for n in range(FEEDS_PER_HOST)
        )
        opml = data / "feeds.opml"
        opml.write_text(f"<opml><body>{outlines}</body></opml>")
        env = {"LISEUSE_ALLOW_PRIVATE_NETWORKS": "1", "LISEUSE_FETCH_PER_HOST": "2", **env}
        imported = liseuse(data, "opml", "import", str(opml), "--user", "alice", **env)
        assert imported.returncode == 0, imported.stderr

        done = liseuse(data, "refresh", "--all", "--user", "alice", **env)
    finally:
        for server in servers:
            server.__exit__(None, None, None)

    assert done.returncode == 0, done.stderr
    processes = min(len(os.sched_getaffinity(0)), 4)
    if processes >= 2:
        assert f"refreshing {TOTAL} feeds in {processes} processes" in done.stderr
    assert f"refreshed {TOTAL} feed(s)" in done.stdout
    assert f"{TOTAL} fetched, 0 unchanged, 0 in error; {TOTAL * ITEMS} new entries" in done.stdout
    for server in servers:
        # Each host is also asked once for its icon (the feeds name no site: its home page).
        fetched = Counter(p for p in server.paths() if p not in ("/", "/favicon.ico"))
        assert fetched == {f"/f{n}": 1 for n in range(FEEDS_PER_HOST)}
        assert 1 <= server.max_active <= 2, "one process per host: its limit holds"


# What the database must hold after the pass, as (query, expected count).
CHECKS = [
    ("SELECT count(*) FROM feeds_entry", TOTAL * ITEMS),
    ("SELECT count(DISTINCT feed_id || identity) FROM feeds_entry", TOTAL * ITEMS),
    ("SELECT count(*) FROM feeds_entrystate", TOTAL * ITEMS),
    ("SELECT count(*) FROM feeds_feed WHERE last_error = '' AND lease_owner = ''", TOTAL),
    # Each process notes its feeds' refresh times for /metrics (every answer takes 30 ms).
    ("SELECT count(*) FROM feeds_feed WHERE last_duration_ms >= 30", TOTAL),
]


# HOSTILE_HTML as stored: the text and the links kept, the relative one made absolute.
SANITIZED = re.compile(
    r'<p>Texte \d</p><a [^>]*>piège</a> <a href="https://example\.org/lu\?id=\d" [^>]*>suivi</a> '
    r'<a href="http://127\.0\.0\.\d:\d+/relatif/\d" [^>]*>relatif</a>'
)
LEFTOVERS = ("<script", "alert(", "onclick", "javascript:", "utm_", "fbclid", '="/')


def assert_sanitized(stored: list[tuple[str, str]]) -> None:
    """Every entry went through the sanitizer on its way in, whichever process stored it: no
    script, handler, javascript: link or tracker is left in its content or summary."""
    assert len(stored) == TOTAL * ITEMS
    # A summary the same as the content is stored once, as the content (feeds.store).
    assert all(content for content, _ in stored)
    for html in (column for row in stored for column in row if column):
        assert not [bit for bit in LEFTOVERS if bit in html.lower()], html
        assert SANITIZED.fullmatch(html), html


def test_a_split_refresh_stores_everything_once_and_stays_polite(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    assert liseuse(data, "user", "add", "alice", stdin=PASSWORD + "\n").returncode == 0
    split_refresh(data)
    with sqlite3.connect(data / "liseuse.sqlite3") as db:
        for sql, expected in CHECKS:
            assert db.execute(sql).fetchone()[0] == expected, sql
        stored = db.execute("SELECT content, summary FROM feeds_entry").fetchall()
    assert_sanitized(stored)


def _feed(n: int, host: str) -> FeedToRefresh:
    return FeedToRefresh(id=n, url=f"http://{host}/feed/{n}")


def test_split_by_host_keeps_each_host_whole_and_the_shares_even() -> None:
    hosts = {"a.example": 9, "b.example": 5, "c.example": 4, "d.example": 3, "e.example": 1}
    feeds = [_feed(n, host) for host, count in hosts.items() for n in range(count)]
    shares = split_by_host(feeds, 2)
    assert len(shares) == 2
    assert sorted(f.url for share in shares for f in share) == sorted(f.url for f in feeds)
    for host in hosts:
        assert sum(any(host in f.url for f in share) for share in shares) == 1
    sizes = sorted(len(share) for share in shares)
    assert sizes[1] - sizes[0] <= max(hosts.values())


def test_split_by_host_shares_many_small_hosts_evenly() -> None:
    feeds = [_feed(n, f"h{n % 50}.example") for n in range(1000)]
    assert sorted(len(share) for share in split_by_host(feeds, 2)) == [500, 500]


@pytest.mark.parametrize("parts", [1, 3, 8])
def test_split_by_host_never_gives_an_empty_share(parts: int) -> None:
    feeds = [_feed(n, f"h{n % 3}.example") for n in range(12)]
    shares = split_by_host(feeds, parts)
    assert all(shares)
    assert len(shares) == min(parts, 3)


def test_a_child_says_once_that_its_parent_is_gone_however_it_found_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A parent killed just as a feed was stored: the report's refused pipe stopped the child
    # before its watcher looked, and nothing said why (a CI run failed on the missing line).
    from liseuse.feeds.worker import _Stop

    stop = _Stop()
    with caplog.at_level("WARNING", logger="liseuse.worker"):
        stop.parent_gone()  # the refused report
        stop.parent_gone()  # then the watcher
    assert stop.requested
    gone = [r for r in caplog.records if "started this refresh is gone" in r.getMessage()]
    assert len(gone) == 1
