"""A batch that runs longer than its lease keeps its feeds: a second worker started meanwhile
does not fetch them again. On SQLite (one machine) and on PostgreSQL (several).

The first worker's fetch is held open by the feed server until the second worker has done its
whole pass, well after the first worker's one-second lease would have ended."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.httpserver import SeenRequest
from tests.process import liseuse
from tests.process import liseuse_env
from tests.scale.conftest import PgDatabase

BODY = b'<rss version="2.0"><channel><title>F</title><item><guid>1</guid></item></channel></rss>'
LEASE = 1.0


def _held_then_answered(release: threading.Event) -> Callable[[SeenRequest], Reply]:
    held = threading.Lock()

    def answer(request: SeenRequest) -> Reply:
        if held.acquire(blocking=False):  # the first request only; the others at once
            release.wait(30)
        return Reply(headers={"Content-Type": "application/rss+xml"}, body=BODY)

    return answer


def _two_workers_during_one_long_fetch(data: Path, **env: str) -> tuple[LocalServer, str]:
    """alice (who exists) follows one feed; a first `liseuse refresh` fetches it, slowly (its
    request is held, any other is answered at once); a second runs its pass once the first's
    lease would have ended. The feed server, and the second's output."""
    release = threading.Event()
    env = {"LISEUSE_ALLOW_PRIVATE_NETWORKS": "1", "LISEUSE_LEASE_SECONDS": str(int(LEASE)), **env}
    with LocalServer({"/feed": _held_then_answered(release)}) as server:
        opml = data / "feeds.opml"
        opml.write_text(
            f'<opml><body><outline text="F" xmlUrl="{server.url("/feed")}"/></body></opml>'
        )
        imported = liseuse(data, "opml", "import", str(opml), "--user", "alice", **env)
        assert imported.returncode == 0, imported.stderr
        first = subprocess.Popen(
            [sys.executable, "-m", "liseuse.cli", "refresh", "--all"],
            env=liseuse_env(data, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not server.requests:  # the first worker is fetching the feed now
                assert time.monotonic() < deadline and first.poll() is None, "no fetch"
                time.sleep(0.02)
            time.sleep(LEASE * 1.5)  # its lease, never renewed, would have ended
            second = liseuse(data, "refresh", "--all", **env)
            assert second.returncode == 0, second.stderr
        finally:
            release.set()
            out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
        assert "1 fetched" in out
    return server, second.stdout


def _fetches(server: LocalServer) -> int:
    return sum(1 for path in server.paths() if path == "/feed")


def test_a_long_batch_keeps_its_leases_on_sqlite(tmp_path: Path) -> None:
    assert (
        liseuse(tmp_path, "user", "add", "alice", stdin="a long enough password\n").returncode == 0
    )
    server, second = _two_workers_during_one_long_fetch(tmp_path)
    assert "refreshed 0 feed(s)" in second
    assert _fetches(server) == 1, "fetched once, by the first worker"


def test_a_long_batch_keeps_its_leases_on_postgresql(pg: PgDatabase) -> None:
    server, second = _two_workers_during_one_long_fetch(pg.data_dir, **pg.env())
    assert "refreshed 0 feed(s)" in second
    assert _fetches(server) == 1, "fetched once, by the first worker"
    assert pg.value("SELECT count(*) FROM feeds_feed WHERE lease_owner != ''") == 0
