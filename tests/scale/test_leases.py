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
from collections.abc import Callable
from contextlib import ExitStack

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


def _conditional(body: bytes, etag: str, delay: float = 0.0) -> Callable[[SeenRequest], Reply]:
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
# Loopback addresses the feeds are spread over: workers keep away from one another's hosts, so
# four of them share the work only when there are hosts enough.
HOSTS = [f"127.0.0.{n}" for n in range(2, 10)]


def test_four_workers_fetch_each_of_2000_feeds_exactly_once_per_cycle(pg: PgDatabase) -> None:
    servers = [
        LocalServer(
            {
                f"/f{n}": _conditional(_rss(n, 2), f'"v{n}"')
                for n in range(FEEDS)
                if n % len(HOSTS) == k
            },
            host=host,
        )
        for k, host in enumerate(HOSTS)
    ]
    with ExitStack() as stack:
        for server in servers:
            stack.enter_context(server)
        _follow_all(pg, [servers[n % len(HOSTS)].url(f"/f{n}") for n in range(FEEDS)])
        # Batches under worker._SPLIT_THRESHOLD: each worker refreshes in its own process, with no
        # children to start on a machine with two cores and four workers.
        settings = {"LISEUSE_REFRESH_BATCH": "40", "LISEUSE_FETCH_PER_HOST": "8"}

        def requests() -> list[SeenRequest]:
            return [request for server in servers for request in server.requests]

        for cycle in (1, 2):
            if cycle == 2:
                # The next cycle: everything is due again.
                pg.execute("UPDATE feeds_feed SET next_fetch_at = now()")
            before = {id(request) for request in requests()}
            done = [_refreshed(worker) for worker in _workers(pg, 4, **settings)]
            this_cycle = [request for request in requests() if id(request) not in before]
            fetched = Counter(
                request.path for request in this_cycle if request.path not in ICON_PATHS
            )
            assert len(fetched) == FEEDS, f"cycle {cycle}: every feed fetched"
            assert set(fetched.values()) == {1}, f"cycle {cycle}: none fetched twice"
            assert sum(done) == FEEDS
            assert sum(1 for n in done if n > 0) >= 2, f"cycle {cycle}: the work was shared"
            assert all(server.max_active <= 8 for server in servers), "8 at most per host"
        # The second cycle sent back the validators and got 304s: nothing stored twice.
        assert all("if-none-match" in r.headers for r in this_cycle if r.path not in ICON_PATHS)

    assert pg.value("SELECT count(*) FROM feeds_entry") == FEEDS * 2
    assert pg.value("SELECT count(*) FROM feeds_entrystate") == FEEDS * 2
    assert pg.value("SELECT count(*) FROM feeds_feed WHERE lease_owner != ''") == 0
    assert pg.value("SELECT count(*) FROM feeds_feed WHERE last_error != ''") == 0


POLITE_FEEDS = 24


def test_workers_together_keep_to_the_per_host_limit(pg: PgDatabase) -> None:
    # Two slow hosts, three workers, two requests at a time per host: each worker alone keeps
    # to it, and without claims keeping hosts apart the three together sent up to six.
    servers = [
        LocalServer(
            {
                f"/f{n}": Reply(body=_rss(n, 1), delay=0.25)
                for n in range(POLITE_FEEDS)
                if n % 2 == k
            },
            host=host,
        )
        for k, host in enumerate(HOSTS[:2])
    ]
    with ExitStack() as stack:
        for server in servers:
            stack.enter_context(server)
        _follow_all(pg, [servers[n % 2].url(f"/f{n}") for n in range(POLITE_FEEDS)])
        settings = {"LISEUSE_REFRESH_BATCH": "6", "LISEUSE_FETCH_PER_HOST": "2"}
        workers = _workers(pg, 3, **settings)
        outputs = [worker.communicate(timeout=120) for worker in workers]
        assert all(worker.returncode == 0 for worker in workers), outputs
        fetched = Counter(
            request.path
            for server in servers
            for request in server.requests
            if request.path not in ICON_PATHS
        )
    assert set(fetched) == {f"/f{n}" for n in range(POLITE_FEEDS)}
    assert set(fetched.values()) == {1}
    assert [server.max_active for server in servers] == [2, 2]
    assert pg.value("SELECT count(*) FROM feeds_feed WHERE last_fetched_at IS NULL") == 0


SLOW_FEEDS = 40
ITEMS = 5


def test_a_killed_workers_feeds_are_taken_up_after_its_lease_with_nothing_lost(
    pg: PgDatabase,
) -> None:
    # Slow answers, one at a time from each host and two in all, ten feeds per batch (five of
    # each of two hosts): the first worker is still busy when killed, holding the leases of
    # its current batch.
    routes = {f"/f{n}": Reply(body=_rss(n, ITEMS), delay=0.1) for n in range(SLOW_FEEDS)}
    settings = {
        "LISEUSE_LEASE_SECONDS": "6",
        "LISEUSE_REFRESH_BATCH": "10",
        "LISEUSE_FETCH_PER_HOST": "1",
        "LISEUSE_FETCH_CONCURRENCY": "2",
    }
    servers = [LocalServer(routes, host=host) for host in HOSTS]
    with ExitStack() as stack:
        for server in servers:
            stack.enter_context(server)
        _follow_all(pg, [servers[n % len(HOSTS)].url(f"/f{n}") for n in range(SLOW_FEEDS)])
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

        held = "host IN (SELECT host FROM feeds_feed WHERE lease_owner != '')"
        of_held_hosts = pg.value(
            f"SELECT count(*) FROM feeds_feed WHERE {held} AND last_fetched_at IS NULL"
        )
        of_free_hosts = pg.value(
            f"SELECT count(*) FROM feeds_feed WHERE NOT {held} AND last_fetched_at IS NULL"
        )
        assert of_free_hosts > 0, "hosts the dead worker did not hold"

        # Another worker at once: it takes every feed of the other hosts, and leaves the dead
        # one's hosts alone, its leased feeds and the others.
        (second,) = _workers(pg, 1, **settings)
        assert _refreshed(second) == of_free_hosts
        assert time.monotonic() - killed_at < 6, "the lease still held during that pass"
        untouched = pg.value(
            f"SELECT count(*) FROM feeds_feed WHERE {held} AND last_fetched_at IS NULL"
        )
        assert untouched == of_held_hosts, "hosts held by a live lease are left to their owner"

        # Once the lease has ended, the orphans and the rest of their host are taken up.
        time.sleep(max(0.0, 6.3 - (time.monotonic() - killed_at)))
        (third,) = _workers(pg, 1, **settings)
        assert _refreshed(third) == of_held_hosts
        fetched = Counter(
            path for server in servers for path in server.paths() if path not in ICON_PATHS
        )
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
