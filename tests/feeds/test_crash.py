"""A worker killed half-way through a refresh loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.process import liseuse
from tests.process import liseuse_env

FEEDS = 40
ITEMS = 20


def _feed(n: int) -> bytes:
    items = "".join(
        f"<item><guid>f{n}-{i}</guid><title>Entrée {i}</title><description>texte {i}</description>"
        f"<pubDate>Mon, 15 Jan 2024 {i % 24:02}:00:00 GMT</pubDate></item>"
        for i in range(ITEMS)
    )
    return f'<rss version="2.0"><channel><title>F{n}</title>{items}</channel></rss>'.encode()


def _count(db: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as connection:
        return int(connection.execute(sql).fetchone()[0])


def test_sigkill_mid_refresh_then_rerun_leaves_no_duplicate_and_no_lost_read_state(
    tmp_path: Path,
) -> None:
    # Slow answers, two at a time: the refresh takes seconds, long enough to be killed inside.
    routes = {f"/f{n}": Reply(body=_feed(n), delay=0.15) for n in range(FEEDS)}
    env = {"LISEUSE_ALLOW_PRIVATE_NETWORKS": "1", "LISEUSE_LEASE_SECONDS": "2"}
    with LocalServer(routes) as server:
        outlines = "".join(
            f'<outline text="F{n}" xmlUrl="{server.url(f"/f{n}")}"/>' for n in range(FEEDS)
        )
        (tmp_path / "feeds.opml").write_text(f"<opml><body>{outlines}</body></opml>")
        assert (
            liseuse(tmp_path, "user", "add", "alice", stdin="a long enough password\n").returncode
            == 0
        )
        assert (
            liseuse(
                tmp_path, "opml", "import", str(tmp_path / "feeds.opml"), "--user", "alice"
            ).returncode
            == 0
        )

        db = tmp_path / "liseuse.sqlite3"
        first = subprocess.Popen(
            [sys.executable, "-m", "liseuse.cli", "refresh", "--all"],
            env=liseuse_env(tmp_path, **env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: killed whole, below
        )
        deadline = time.monotonic() + 60
        while _count(db, "SELECT count(*) FROM feeds_entry") < 5 * ITEMS:
            assert first.poll() is None, "the refresh ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # The whole group at once, as a power cut or the memory killer of a service's cgroup
        # would: killed alone, the command left its refresh children writing for up to a
        # second, and the counts below raced them.
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        stored = _count(db, "SELECT count(*) FROM feeds_entry")
        assert 0 < stored < FEEDS * ITEMS, "killed half-way"
        # Every stored entry arrived with its state: the feed's transaction is all or nothing.
        assert _count(db, "SELECT count(*) FROM feeds_entrystate") == stored

        # The person reads what arrived before the crash.
        with sqlite3.connect(db) as connection:
            connection.execute("UPDATE feeds_entrystate SET is_read = 1")
        time.sleep(2.2)  # the dead worker's leases end

        second = liseuse(tmp_path, "refresh", "--all", **env)
        assert second.returncode == 0, second.stderr

    assert _count(db, "SELECT count(*) FROM feeds_entry") == FEEDS * ITEMS
    assert (
        _count(db, "SELECT count(DISTINCT feed_id || '/' || identity) FROM feeds_entry")
        == FEEDS * ITEMS
    )
    assert _count(db, "SELECT count(*) FROM feeds_entrystate") == FEEDS * ITEMS
    assert _count(db, "SELECT count(*) FROM feeds_entrystate WHERE is_read") == stored
    assert _count(db, "SELECT count(*) FROM feeds_feed WHERE last_error != ''") == 0
