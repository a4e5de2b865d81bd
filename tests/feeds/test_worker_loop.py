"""The refresh loop keeps going and stops well: a pass the database refused is not the end of
the loop, a SIGTERM stops it within the batch under way (not after every due feed; more in
test_refresh_processes.py), and a child of a split batch killed in the middle of its write does
not hold its sisters up for good."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import OperationalError

from liseuse.feeds import claim
from liseuse.feeds import retention
from liseuse.feeds import search
from liseuse.feeds import websub
from liseuse.feeds import worker
from liseuse.pipeline.refresh import FeedReport
from liseuse.pipeline.refresh import FeedToRefresh
from liseuse.pipeline.refresh import RefreshSummary
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.httpserver import SeenRequest
from tests.process import liseuse
from tests.process import liseuse_env


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_signals_kept")
def test_the_loop_goes_on_after_a_pass_the_database_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_claim = claim.claim_feeds
    calls = 0

    def claim_feeds(**kwargs: object) -> list[FeedToRefresh]:
        nonlocal calls
        calls += 1
        if calls == 1:  # SQLite locked past its time-out, or PostgreSQL restarting
            raise OperationalError("database is locked")
        os.kill(os.getpid(), signal.SIGTERM)  # the loop came back: let it stop
        return real_claim(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(claim, "claim_feeds", claim_feeds)
    worker.run_forever(idle_seconds=0.01)
    assert calls == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_signals_kept")
def test_a_loop_asked_to_stop_leaves_indexing_and_upkeep_for_its_next_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A long queue of entries to index, or WebSub's hubs slow to answer (each up to the
    fetch time-out), held a stopped loop up past what its service manager waits."""

    def claim_feeds(**kwargs: object) -> list[FeedToRefresh]:
        os.kill(os.getpid(), signal.SIGTERM)  # during the pass
        return []

    done: list[str] = []

    def noting(name: str) -> Callable[..., int]:
        def note(*args: object, **kwargs: object) -> int:
            done.append(name)
            return 0

        return note

    monkeypatch.setattr(claim, "claim_feeds", claim_feeds)
    monkeypatch.setattr(search, "index_pending", noting("index"))
    monkeypatch.setattr(retention, "run", noting("retention"))
    monkeypatch.setattr(websub, "maintain", noting("websub"))
    worker.run_forever(idle_seconds=0.01)
    assert done == []


def _blocked_feeds(release: threading.Event) -> dict[str, Callable[[SeenRequest], Reply]]:
    body = (
        b'<rss version="2.0"><channel><title>F</title><item><guid>1</guid></item></channel></rss>'
    )

    def answer(request: SeenRequest) -> Reply:
        release.wait(30)
        return Reply(headers={"Content-Type": "application/rss+xml"}, body=body)

    return {f"/f{n}": answer for n in range(3)}


def _wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_sigterm_stops_the_worker_after_the_batch_under_way(tmp_path: Path) -> None:
    release = threading.Event()
    with LocalServer(_blocked_feeds(release)) as server:
        outlines = "".join(
            f'<outline text="F{n}" xmlUrl="{server.url(f"/f{n}")}"/>' for n in range(3)
        )
        (tmp_path / "feeds.opml").write_text(f"<opml><body>{outlines}</body></opml>")
        assert (
            liseuse(tmp_path, "user", "add", "alice", stdin="a long enough password\n").returncode
            == 0
        )
        imported = liseuse(
            tmp_path, "opml", "import", str(tmp_path / "feeds.opml"), "--user", "alice"
        )
        assert imported.returncode == 0, imported.stderr

        env = {"LISEUSE_ALLOW_PRIVATE_NETWORKS": "1", "LISEUSE_REFRESH_BATCH": "1"}
        running = subprocess.Popen(
            [sys.executable, "-m", "liseuse.cli", "worker"],
            env=liseuse_env(tmp_path, **env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for(lambda: len(server.requests) == 1)  # the first batch is fetching
            running.send_signal(signal.SIGTERM)
            release.set()
            _, err = running.communicate(timeout=60)
        finally:
            release.set()
            if running.poll() is None:
                running.kill()
                running.wait()
    assert running.returncode == 0, err
    feeds = [p for p in server.paths() if p.startswith("/f") and p != "/favicon.ico"]
    assert len(feeds) == 1, "the two other due feeds wait for the next start"
    assert "refresh loop stopped" in err


def _feed(n: int, host: str) -> FeedToRefresh:
    return FeedToRefresh(id=n, url=f"http://{host}.example/{n}")


def test_a_split_batch_ends_though_a_child_died_holding_the_write_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feeds = [_feed(n, "a") for n in range(30)] + [_feed(n, "b") for n in range(30, 60)]

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
        """In each child: the share of host a is killed inside its write (out of memory, say);
        the other one writes after it, under the same lock."""
        if share[0].url.startswith("http://a."):
            with write_lock:
                os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.3)  # the first child has taken the lock by now
        with write_lock:
            for feed in share:
                on_report(FeedReport(feed.id, feed.url, "not-modified"))
        return RefreshSummary(seconds=0.3)

    monkeypatch.setattr(worker, "refresh_batch", refresh_batch)
    monkeypatch.setattr(worker, "_cores", lambda: 2)
    # The lock is SQLite's (PostgreSQL takes every child's writes at once).
    monkeypatch.setattr(worker, "connection", SimpleNamespace(vendor="sqlite"))
    monkeypatch.setattr(worker, "_keeping_leases", lambda owner: _NoLeases())

    done: list[RefreshSummary] = []
    split = threading.Thread(
        target=lambda: done.append(worker.refresh_split(feeds, owner="t")), daemon=True
    )
    split.start()
    split.join(timeout=20)
    assert done, "the pass ended"
    assert sorted(r.feed_id for r in done[0].reports) == list(range(30, 60))


class _NoLeases:
    """No database here: nothing to renew."""

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        pass


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# A parent that starts `liseuse worker`, waits until its loop runs, then leaves: as a shell
# that started `nohup liseuse worker &` and exits, or a `liseuse serve` killed.
PARENT = """
import subprocess, sys, time
from pathlib import Path
log = Path(sys.argv[1])
with log.open("w") as out:
    child = subprocess.Popen(
        [sys.executable, "-m", "liseuse.cli", "worker", *sys.argv[2:]], stdout=out, stderr=out
    )
print(child.pid, flush=True)
while "refresh loop started" not in log.read_text():
    time.sleep(0.02)
"""


def _worker_whose_parent_leaves(tmp_path: Path, *arguments: str) -> tuple[int, Path]:
    log = tmp_path / "worker.log"
    parent = subprocess.run(
        [sys.executable, "-c", PARENT, str(log), *arguments],
        env=liseuse_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(parent.stdout), log


def test_a_worker_outlives_the_process_that_started_it(tmp_path: Path) -> None:
    pid, log = _worker_whose_parent_leaves(tmp_path)
    try:
        time.sleep(3)  # three of the loop's one-second looks
        assert _alive(pid), log.read_text()
    finally:
        os.kill(pid, signal.SIGTERM)
    _wait_for(lambda: not _alive(pid))
    assert "parent process gone" not in log.read_text()


def test_serves_refresh_loop_leaves_with_the_process_that_started_it(tmp_path: Path) -> None:
    pid, log = _worker_whose_parent_leaves(tmp_path, "--leave-with-parent")
    try:
        _wait_for(lambda: not _alive(pid), seconds=10)
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    assert "parent process gone; stopping" in log.read_text()
