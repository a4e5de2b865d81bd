"""Several workers on one PostgreSQL share the feeds through leases: each feed is fetched once per
cycle, and a worker killed mid-batch loses nothing and duplicates nothing.

The counts come from the feed server's own log of requests, not from liseuse's opinion of what it
did.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.httpserver import SeenRequest
from tests.process import liseuse
from tests.process import liseuse_env
from tests.scale.conftest import PgDatabase

SITE = "http://127.0.0.1:1/"  # a closed port: no test reaches beyond this machine

# The feeds name no site: an icon is looked for once on their host, at these paths.
ICON_PATHS = ("/", "/favicon.ico")


def _rss(n: int, items: int) -> bytes:
    body = "".join(
        f"<item><guid>f{n}-{i}</guid><title>E{i}</title><link>{SITE}{n}/{i}</link>"
        f"<pubDate>Mon, 15 Jan 2024 {i % 24:02}:00:00 GMT</pubDate></item>"
        for i in range(items)
    )
    # No site link: no icon lookup after the fetch, so the server's log holds only feed requests.
    return f'<rss version="2.0"><channel><title>F{n}</title>{body}</channel></rss>'.encode()


def _conditional(body: bytes, etag: str, delay: float = 0.0) -> object:
    def answer(request: SeenRequest) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(status=304, headers={"ETag": etag}, delay=delay)
        return Reply(
            headers={"ETag": etag, "Content-Type": "application/rss+xml"}, body=body, delay=delay
        )

    return answer


def _follow_all(pg: PgDatabase, urls: list[str]) -> None:
    outlines = "".join(f'<outline text="F{n}" xmlUrl="{url}"/>' for n, url in enumerate(urls))
    opml = pg.data_dir / "feeds.opml"
    opml.write_text(f"<opml><body>{outlines}</body></opml>")
    done = liseuse(pg.data_dir, "opml", "import", str(opml), "--user", "alice", **pg.env())
    assert done.returncode == 0, done.stderr


def _workers(pg: PgDatabase, count: int, **extra: str) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "liseuse.cli", "refresh"],
            env=liseuse_env(pg.data_dir, **pg.env(**extra)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, refresh processes included
        )
        for _ in range(count)
    ]


def _refreshed(worker: subprocess.Popen[str]) -> int:
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    # "refreshed N feed(s) in …": what this worker claimed and finished.
    return int(out.rsplit("refreshed ", 1)[1].split()[0])


FEEDS = 2000


def test_four_workers_fetch_each_of_2000_feeds_exactly_once_per_cycle(pg: PgDatabase) -> None:
    routes = {f"/f{n}": _conditional(_rss(n, 2), f'"v{n}"') for n in range(FEEDS)}
    with LocalServer(routes) as server:  # type: ignore[arg-type]
        _follow_all(pg, [server.url(f"/f{n}") for n in range(FEEDS)])
        # Batches under worker._SPLIT_THRESHOLD: each worker refreshes in its own process, with no
        # children to start on a machine with two cores and four workers.
        settings = {"LISEUSE_REFRESH_BATCH": "40", "LISEUSE_FETCH_PER_HOST": "8"}

        for cycle in (1, 2):
            if cycle == 2:
                # The next cycle: everything is due again.
                pg.execute("UPDATE feeds_feed SET next_fetch_at = now()")
            before = len(server.requests)
            done = [_refreshed(worker) for worker in _workers(pg, 4, **settings)]
            fetched = Counter(
                request.path
                for request in server.requests[before:]
                if request.path not in ICON_PATHS
            )
            assert len(fetched) == FEEDS, f"cycle {cycle}: every feed fetched"
            assert set(fetched.values()) == {1}, f"cycle {cycle}: none fetched twice"
            assert sum(done) == FEEDS
            assert sum(1 for n in done if n > 0) >= 2, f"cycle {cycle}: the work was shared"
        # The second cycle sent back the validators and got 304s: nothing stored twice.
        assert all("if-none-match" in r.headers for r in server.requests[-FEEDS:])

    assert pg.value("SELECT count(*) FROM feeds_entry") == FEEDS * 2
    assert pg.value("SELECT count(*) FROM feeds_entrystate") == FEEDS * 2
    assert pg.value("SELECT count(*) FROM feeds_feed WHERE lease_owner != ''") == 0
    assert pg.value("SELECT count(*) FROM feeds_feed WHERE last_error != ''") == 0


SLOW_FEEDS = 40
ITEMS = 5


def test_a_killed_workers_feeds_are_taken_up_after_its_lease_with_nothing_lost(
    pg: PgDatabase,
) -> None:
    # Slow answers, two at a time, ten feeds per batch: the first worker is still busy when
    # killed, holding the lease of its current batch.
    routes = {f"/f{n}": Reply(body=_rss(n, ITEMS), delay=0.15) for n in range(SLOW_FEEDS)}
    settings = {"LISEUSE_LEASE_SECONDS": "6", "LISEUSE_REFRESH_BATCH": "10"}
    with LocalServer(routes) as server:
        _follow_all(pg, [server.url(f"/f{n}") for n in range(SLOW_FEEDS)])
        (first,) = _workers(pg, 1, **settings)
        deadline = time.monotonic() + 60
        while pg.value("SELECT count(*) FROM feeds_entry") < 2 * ITEMS:
            assert first.poll() is None, "the refresh ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # The whole worker at once, its refresh processes too, as a machine that stops dead:
        # nothing of it is left to give its leases back (a worker's refresh processes whose
        # parent alone is killed give theirs back: tests/feeds/test_refresh_processes.py).
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        killed_at = time.monotonic()
        orphans = {
            feed_id
            for (feed_id,) in pg.rows(
                "SELECT id FROM feeds_feed WHERE lease_owner != '' AND last_fetched_at IS NULL"
            )
        }
        assert orphans, "killed mid-batch, holding leases"
        stored = pg.value("SELECT count(*) FROM feeds_entry")
        assert pg.value("SELECT count(*) FROM feeds_entrystate") == stored
        # The person reads everything that arrived before the crash.
        pg.execute("UPDATE feeds_entrystate SET is_read = true, read_at = now()")

        # Another worker at once: it takes every feed but the dead one's leased ones.
        done_before = _done_before(pg, orphans)
        (second,) = _workers(pg, 1, **settings)
        assert _refreshed(second) == SLOW_FEEDS - len(orphans) - done_before
        assert time.monotonic() - killed_at < 6, "the lease still held during that pass"
        untouched = pg.value(
            "SELECT count(*) FROM feeds_feed WHERE id = ANY(%s) AND last_fetched_at IS NULL",
            list(orphans),
        )
        assert untouched == len(orphans), "a leased feed is left to its owner"

        # Once the lease has ended, the orphans are taken up.
        time.sleep(max(0.0, 6.3 - (time.monotonic() - killed_at)))
        (third,) = _workers(pg, 1, **settings)
        assert _refreshed(third) == len(orphans)
        fetched = Counter(path for path in server.paths() if path not in ICON_PATHS)
        assert set(fetched) == {f"/f{n}" for n in range(SLOW_FEEDS)}

    assert pg.value("SELECT count(*) FROM feeds_entry") == SLOW_FEEDS * ITEMS
    assert (
        pg.value("SELECT count(DISTINCT (feed_id, identity)) FROM feeds_entry")
        == SLOW_FEEDS * ITEMS
    )
    assert pg.value("SELECT count(*) FROM feeds_entrystate") == SLOW_FEEDS * ITEMS
    assert pg.value("SELECT count(*) FROM feeds_entrystate WHERE is_read") == stored
    assert pg.value("SELECT count(*) FROM feeds_feed WHERE lease_owner != ''") == 0
    assert pg.value("SELECT count(*) FROM feeds_feed WHERE last_fetched_at IS NULL") == 0


def _done_before(pg: PgDatabase, orphans: set[int]) -> int:
    """Feeds the killed worker had finished (they are not due again)."""
    return int(
        pg.value(
            "SELECT count(*) FROM feeds_feed WHERE last_fetched_at IS NOT NULL AND NOT id = ANY(%s)",
            list(orphans),
        )
    )
