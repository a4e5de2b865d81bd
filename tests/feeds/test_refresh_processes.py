"""The processes of a refresh end with it, as an operator stops them: `liseuse serve` stopped by
its service manager (SIGTERM) or by Ctrl-C (SIGINT to the whole process group), `liseuse
worker` killed, `liseuse refresh` interrupted, all during a batch whose fetches hang. Nothing
is left running, no lease is left for the next start to wait out, and a feed is stored whole
or not at all.

The real commands run in a session of their own, on a SQLite data folder: one feed answers at
once, three others not before the test ends (the fetch time-out is longer than the test)."""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import AbstractContextManager
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.context import ForkProcess
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds import claim
from liseuse.feeds import worker
from liseuse.feeds.models import Feed
from liseuse.feeds.subscribe import follow
from liseuse.pipeline.refresh import FeedReport
from liseuse.pipeline.refresh import FeedToRefresh
from liseuse.pipeline.refresh import RefreshSummary
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.httpserver import SeenRequest
from tests.process import free_port
from tests.process import liseuse
from tests.process import liseuse_env

ITEMS = 3
HELD = 3


def _rss(name: str) -> bytes:
    items = "".join(
        f"<item><guid>{name}-{i}</guid><title>E{i}</title></item>" for i in range(ITEMS)
    )
    # A site on loopback's closed port 1: the icon lookup fails at once.
    return (
        f'<rss version="2.0"><channel><title>{name}</title><link>http://127.0.0.1:1/</link>'
        f"{items}</channel></rss>"
    ).encode()


class _Gate:
    """What the held feeds wait for: the end of the test using them."""

    def __init__(self) -> None:
        self.release = threading.Event()


@pytest.fixture(scope="module")
def gate() -> _Gate:
    return _Gate()


@pytest.fixture(scope="module")
def feeds(gate: _Gate) -> Iterator[LocalServer]:
    def held() -> Iterator[bytes]:
        gate.release.wait(60)
        yield _rss("held")

    def answer_held(request: SeenRequest) -> Reply:
        # Streamed: the server takes the connection closed by the refresh in its stride.
        return Reply(body=held())

    routes: dict[str, Reply | Callable[[SeenRequest], Reply]] = {"/fast": Reply(body=_rss("fast"))}
    routes |= {f"/held{n}": answer_held for n in range(HELD)}
    with LocalServer(routes) as server:
        yield server


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, feeds: LocalServer) -> Path:
    """A data folder with alice following the four feeds, copied by each test."""
    data = tmp_path_factory.mktemp("template")
    assert liseuse(data, "user", "add", "alice", stdin="a long enough password\n").returncode == 0
    outlines = "".join(f'<outline text="F" xmlUrl="{feeds.url(path)}"/>' for path in feeds.routes)
    (data / "feeds.opml").write_text(f"<opml><body>{outlines}</body></opml>")
    imported = liseuse(data, "opml", "import", str(data / "feeds.opml"), "--user", "alice")
    assert imported.returncode == 0, imported.stderr
    return data


@dataclass
class Data:
    path: Path
    server: LocalServer
    first_request: int  # the server's, which earlier tests used too

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.path / "liseuse.sqlite3") as db:
            return db.execute(sql).fetchall()

    def entries(self) -> int:
        return int(self.rows("SELECT count(*) FROM feeds_entry")[0][0])

    def held_requests(self) -> int:
        seen = self.server.paths()[self.first_request :]
        return sum(path.startswith("/held") for path in seen)

    def env(self, **extra: str) -> dict[str, str]:
        return liseuse_env(
            self.path,
            LISEUSE_ALLOW_PRIVATE_NETWORKS="1",
            # Longer than the test: a fetch under way ends only if the refresh gives it up.
            LISEUSE_FETCH_TIMEOUT="60",
            LISEUSE_FETCH_PER_HOST="8",
            **extra,
        )


@pytest.fixture
def data(tmp_path: Path, template: Path, feeds: LocalServer, gate: _Gate) -> Iterator[Data]:
    gate.release = threading.Event()
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    yield Data(tmp_path, feeds, len(feeds.requests))
    gate.release.set()


def _session(sid: int) -> list[int]:
    """The processes of a session still running (not zombies), wherever they were moved."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended since it was listed
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _wait_for(condition: Callable[[], object], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _start(data: Data, argv: list[str], **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        env=data.env(**env),
        stdout=(data.path / "out.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


def _batch_under_way(data: Data, process: subprocess.Popen[bytes]) -> None:
    """The fast feed stored, the held ones being fetched."""

    def under_way() -> bool:
        assert process.poll() is None, (data.path / "out.log").read_text()
        return data.entries() == ITEMS and data.held_requests() == HELD

    _wait_for(under_way, "the batch")


def _assert_left_clean(data: Data) -> None:
    # The fast feed whole, the held ones untouched, and every lease given back.
    per_feed = data.rows(
        "SELECT f.url, count(e.id), f.last_fetched_at IS NOT NULL, f.lease_owner"
        " FROM feeds_feed f LEFT JOIN feeds_entry e ON e.feed_id = f.id GROUP BY f.id"
    )
    assert sorted(per_feed) == sorted(
        (url, ITEMS, 1, "") if url.endswith("/fast") else (url, 0, 0, "")
        for url in (data.server.url(path) for path in data.server.routes)
    )


def _stop(process: subprocess.Popen[bytes], how: str) -> None:
    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM)


def _kill_session(sid: int) -> None:
    for pid in _session(sid):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_serve_stopped_during_a_batch_leaves_no_process_and_no_lease(data: Data, how: str) -> None:
    """The refresh loop was killed 10 s after the server asked it to stop, its child left
    refreshing the rest of the batch alone (or blocked for good), and the leases waited."""
    port = free_port()
    serve = _start(
        data, [sys.executable, "-m", "liseuse.cli", "serve"], LISEUSE_LISTEN=f"127.0.0.1:{port}"
    )
    try:
        _batch_under_way(data, serve)
        assert len(_session(serve.pid)) >= 5, "gunicorn, two web processes, the loop, its child"
        _stop(serve, how)
        serve.wait(timeout=30)
        output = (data.path / "out.log").read_text()
        assert serve.returncode == 0, output
        assert _session(serve.pid) == [], output
    finally:
        _kill_session(serve.pid)
    # Stopped by itself (the write under way ended whole), not killed.
    assert "a refresh process was stopped (code 0)" in output
    _assert_left_clean(data)


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_the_worker_stopped_during_a_batch_gives_it_up_at_once(data: Data, how: str) -> None:
    """It waited for the whole batch: a thousand feeds, minutes."""
    loop = _start(data, [sys.executable, "-m", "liseuse.cli", "worker"])
    try:
        _batch_under_way(data, loop)
        _stop(loop, how)
        loop.wait(timeout=30)
        output = (data.path / "out.log").read_text()
        assert loop.returncode == 0, output
        assert _session(loop.pid) == [], output
    finally:
        _kill_session(loop.pid)
    assert "refresh loop stopped" in output
    assert "a refresh process was stopped (code 0)" in output, "by itself, not killed"
    _assert_left_clean(data)


def test_the_children_of_a_killed_worker_stop_and_give_their_leases_back(data: Data) -> None:
    """Orphaned, they went on refreshing their share, nobody reading their reports."""
    loop = _start(data, [sys.executable, "-m", "liseuse.cli", "worker"])
    try:
        _batch_under_way(data, loop)
        loop.kill()  # the memory killer, or a service manager out of patience
        loop.wait(timeout=30)
        _wait_for(lambda: not _session(loop.pid), "the orphaned children to end", 20)
    finally:
        _kill_session(loop.pid)
    output = (data.path / "out.log").read_text()
    assert "the process that started this refresh is gone; stopping" in output
    _assert_left_clean(data)


# `liseuse refresh` as a terminal starts it: SIGINT raises KeyboardInterrupt (a job started in
# the background of a script would ignore it). With FAIL, the refresh process fails after its
# feeds are reported, as when the database stays locked for the durations' write.
REFRESH = """
import os, signal, sys

signal.signal(signal.SIGINT, signal.default_int_handler)
from liseuse import cli

cli._setup_django()
from liseuse.feeds import worker

if os.environ.get("FAIL"):
    def note_durations(summary):
        raise RuntimeError("database is locked")

    worker._note_durations = note_durations
cli.main(["refresh"])
"""


def test_refresh_interrupted_with_ctrl_c_waits_for_its_children_and_says_so_in_one_line(
    data: Data,
) -> None:
    """Each child printed multiprocessing's traceback of its KeyboardInterrupt, and its parent
    gave the leases back while the children still wrote."""
    refresh = _start(data, [sys.executable, "-c", REFRESH])
    try:
        _batch_under_way(data, refresh)
        os.killpg(refresh.pid, signal.SIGINT)
        refresh.wait(timeout=30)
        assert _session(refresh.pid) == []
    finally:
        _kill_session(refresh.pid)
    output = (data.path / "out.log").read_text()
    assert refresh.returncode == 1, output
    assert output.endswith("liseuse: error: interrupted\n"), output
    assert "Traceback" not in output and "Process ForkProcess" not in output, output
    assert "a refresh process was stopped (code 0)" in output, "by itself, not killed"
    _assert_left_clean(data)


def test_refresh_stopped_with_sigterm_stops_its_children_as_ctrl_c_does(data: Data) -> None:
    """SIGTERM to the command alone (`kill PID`, a timer's stop): by default it ended at once,
    its children left to find that out by themselves."""
    refresh = _start(data, [sys.executable, "-c", REFRESH])
    try:
        _batch_under_way(data, refresh)
        os.kill(refresh.pid, signal.SIGTERM)
        refresh.wait(timeout=30)
        assert _session(refresh.pid) == []
    finally:
        _kill_session(refresh.pid)
    output = (data.path / "out.log").read_text()
    assert refresh.returncode == 1, output
    assert output.endswith("liseuse: error: interrupted\n"), output
    assert "a refresh process was stopped (code 0)" in output, "asked by its parent"
    _assert_left_clean(data)


def test_a_child_that_fails_says_so_in_the_log_format_asked_for(data: Data, gate: _Gate) -> None:
    gate.release.set()  # no feed held
    done = subprocess.run(
        [sys.executable, "-c", REFRESH],
        env=data.env(FAIL="1", LISEUSE_LOG_FORMAT="json"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if not line.startswith("refreshing: ")]
    # Every line JSON, multiprocessing's bare traceback among them no more.
    logged = [json.loads(line) for line in lines]
    failures = [line for line in logged if line["message"] == "the refresh process failed"]
    assert len(failures) == 1, done.stderr
    assert "RuntimeError: database is locked" in failures[0]["exception"]


# --- in this process ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_refresh_stopped_during_its_fetches_stores_nothing_for_them(
    alice: User, feeds: LocalServer, gate: _Gate
) -> None:
    """The fetcher was closed before the feeds' tasks were cancelled: a fetch under way read
    its closed connection as an empty body, and "the body is empty" was stored as the feed's
    error (one more failure, a longer back-off) for a stop."""
    gate.release = threading.Event()
    held = [feeds.url(path) for path in feeds.routes if path.startswith("/held")]
    for url in held:
        follow(alice, url)
    owner = worker.worker_id()
    claimed = claim.claim_feeds(
        owner=owner, now=timezone.now(), lease=timedelta(minutes=5), limit=10, due_only=False
    )
    stop = worker._Stop()
    first = len(feeds.requests)

    def fetching() -> bool:
        return sum(path.startswith("/held") for path in feeds.paths()[first:]) == HELD

    def stop_once_fetching() -> None:
        _wait_for(fetching, "the fetches")
        stop.request()  # as the signal handler of a child does

    threading.Thread(target=stop_once_fetching, daemon=True).start()
    try:
        with (
            override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True, LISEUSE_FETCH_PER_HOST=8),
            pytest.raises(asyncio.CancelledError),
        ):
            worker.refresh_batch(claimed, owner=owner, stop=stop)
    finally:
        gate.release.set()
    untouched = Feed.objects.filter(url__in=held, error_count=0, last_fetched_at__isnull=True)
    assert untouched.count() == HELD


# --- the parent's side ---------------------------------------------------------------------


class _NoLeases:
    """No database here: nothing to renew."""

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        pass


def _feeds(count: int, host: str = "a") -> list[FeedToRefresh]:
    return [FeedToRefresh(id=n, url=f"http://{host}.example/{n}") for n in range(count)]


@pytest.fixture
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "_database_in_memory", lambda: False)
    monkeypatch.setattr(worker, "_keeping_leases", lambda owner: _NoLeases())
    monkeypatch.setattr(worker, "_renew_leases", lambda owner, lease: None)


def _in_thread(call: Callable[[], RefreshSummary]) -> list[RefreshSummary | BaseException]:
    """`call`'s result (or exception) within 20 s, in a thread: the test ends even if it
    hangs."""
    done: list[RefreshSummary | BaseException] = []

    def run() -> None:
        try:
            done.append(call())
        except BaseException as exc:
            done.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=20)
    return done


@pytest.mark.usefixtures("no_database")
def test_children_that_do_not_stop_are_killed_after_a_grace_and_blamed_for_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A child that takes too long to stop (a write waiting for the database, a huge feed
    being parsed) must not hold its parent, and so the service, for longer than it waits."""

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
        """In the child: reading a feed, deaf to the request to stop."""
        on_reading(share[0].id)
        time.sleep(60)
        raise AssertionError("not killed")

    marked: list[int] = []

    def mark_crashed(self: object, feed: FeedToRefresh, reason: str) -> FeedReport:
        marked.append(feed.id)
        return FeedReport(feed.id, feed.url, "error", error=reason)

    monkeypatch.setattr(worker, "refresh_batch", refresh_batch)
    monkeypatch.setattr(worker._Children, "_mark_crashed", mark_crashed)
    monkeypatch.setattr(worker, "_STOP_GRACE", 0.3)
    monkeypatch.setattr(worker, "_STOP_POLL", 0.05)
    started: list[BaseProcess] = []
    start = ForkProcess.start

    def keep(process: ForkProcess) -> None:
        started.append(process)
        start(process)

    monkeypatch.setattr(ForkProcess, "start", keep)
    try:
        done = _in_thread(
            lambda: worker.refresh_split(_feeds(3), owner="t", should_stop=lambda: True)
        )
        assert done and isinstance(done[0], RefreshSummary), "the batch ended"
        assert done[0].reports == []
        assert marked == [], "a child stopped is not a feed's crash"
        assert [process.exitcode for process in started] == [-signal.SIGKILL]
    finally:
        for process in started:
            process.kill()


@pytest.mark.usefixtures("no_database")
def test_a_fork_refused_stops_the_children_started_and_leaves_the_collector_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process limit reached or no memory left: the error ends the pass (the loop goes
    on), and the children already started must end with it, not refresh on unwatched while
    the next pass takes their feeds again."""

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
        """In the first child: busy until asked to stop, as a batch's task is."""
        for _ in range(3000):
            if stop.requested:
                raise asyncio.CancelledError
            time.sleep(0.01)
        raise AssertionError("never asked to stop")

    started: list[BaseProcess] = []
    start = ForkProcess.start

    def second_refused(process: ForkProcess) -> None:
        if started:
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        started.append(process)
        start(process)

    monkeypatch.setattr(worker, "refresh_batch", refresh_batch)
    monkeypatch.setattr(worker, "_cores", lambda: 2)
    monkeypatch.setattr(worker, "_SPLIT_THRESHOLD", 2)
    monkeypatch.setattr(ForkProcess, "start", second_refused)
    frozen = gc.get_freeze_count()
    feeds = [*_feeds(2, "a"), FeedToRefresh(id=9, url="http://b.example/9")]
    try:
        done = _in_thread(lambda: worker.refresh_split(feeds, owner="t"))
        assert done and isinstance(done[0], OSError), done
        assert len(started) == 1
        assert started[0].exitcode == 0, "asked to stop, and waited for"
        assert gc.get_freeze_count() == frozen, "nothing left out of the collector's reach"
    finally:
        for process in started:
            process.kill()


_signal_at_fork = False


def _signal_at_fork_if_asked() -> None:
    if _signal_at_fork:
        os.kill(os.getpid(), signal.SIGTERM)


os.register_at_fork(after_in_child=_signal_at_fork_if_asked)


@pytest.mark.usefixtures("no_database")
def test_a_stop_signal_at_the_fork_stops_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGTERM or Ctrl-C that reaches a child before it has its own handlers ran its
    parent's: the refresh loop's, which only flags the loop's stop (in the child's copy)."""

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
        for _ in range(300):
            if stop.requested:
                raise asyncio.CancelledError
            time.sleep(0.01)
        raise AssertionError("never asked to stop")

    global _signal_at_fork
    monkeypatch.setattr(worker, "refresh_batch", refresh_batch)
    flagged = threading.Event()
    # As run_forever's handler: the loop's own stop, flagged.
    kept = signal.signal(signal.SIGTERM, lambda signum, frame: flagged.set())
    started: list[BaseProcess] = []
    start = ForkProcess.start

    def keep(process: ForkProcess) -> None:
        started.append(process)
        start(process)

    monkeypatch.setattr(ForkProcess, "start", keep)
    _signal_at_fork = True
    try:
        done = _in_thread(lambda: worker.refresh_split(_feeds(1), owner="t"))
    finally:
        _signal_at_fork = False
        signal.signal(signal.SIGTERM, kept)
        for process in started:
            process.kill()
    assert done and isinstance(done[0], RefreshSummary), done
    assert [process.exitcode for process in started] == [0], "it stopped, as asked"
    assert not flagged.is_set()


# A parent that splits a batch of many feeds and is then killed: its child, once orphaned,
# reports every feed of its share, to a pipe nobody reads any more.
ORPHAN = """
import os, time

from liseuse import cli

cli._setup_django()
from liseuse.feeds import worker
from liseuse.pipeline.refresh import FeedReport, FeedToRefresh


def refresh_batch(share, *, owner, on_report, concurrency_share, write_lock, on_reading, stop):
    parent = os.getppid()
    print(os.getpid(), flush=True)
    while os.getppid() == parent:
        time.sleep(0.01)
    for feed in share:  # deaf to the request to stop, as a batch between two awaits
        on_report(FeedReport(feed.id, feed.url, "not-modified"))


worker.refresh_batch = refresh_batch
worker._give_back_orphaned = lambda *args: None  # no database here
feeds = [FeedToRefresh(id=n, url=f"http://a.example/{n}/" + "x" * 100) for n in range(3000)]
worker.refresh_split(feeds, owner="t")
"""


def test_an_orphaned_child_is_not_blocked_for_good_by_reports_nobody_reads(
    tmp_path: Path,
) -> None:
    """Its own end of the pipe, and its elder sisters', inherited from the parent, kept the
    pipe open: a report, once the pipe was full, blocked it forever."""
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN],
        env=liseuse_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        parent.kill()
        parent.wait(timeout=30)
        _wait_for(lambda: not _session(parent.pid), "the orphaned child to end", 20)
    finally:
        _kill_session(parent.pid)
        if parent.stdout is not None:
            parent.stdout.close()
    assert child not in _session(parent.pid)
