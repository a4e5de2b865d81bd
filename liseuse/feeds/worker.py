"""The refresh loop (`liseuse worker`, and inside `liseuse serve`) and one-off passes.

Wires the pipeline to the real things: the fetcher configured from settings, `DjangoStore`,
the leases of `claim`. Stops cleanly on SIGTERM / SIGINT, giving its leases back.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from contextlib import contextmanager
from contextlib import nullcontext
from contextlib import suppress
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import timedelta
from multiprocessing import get_all_start_methods
from multiprocessing import get_context
from multiprocessing.connection import Connection
from multiprocessing.connection import wait
from multiprocessing.context import ForkContext
from multiprocessing.process import BaseProcess
from types import FrameType
from types import TracebackType
from typing import Any
from typing import TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db import close_old_connections
from django.db import connection
from django.db import connections
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper
from django.db.models import Q
from django.utils import formats
from django.utils import timezone
from django.utils.translation import gettext as _

from liseuse.accounts.models import User
from liseuse.feeds import claim
from liseuse.feeds import retention
from liseuse.feeds import search
from liseuse.feeds import websub
from liseuse.feeds.models import Feed
from liseuse.feeds.models import feed_host
from liseuse.feeds.store import DjangoStore
from liseuse.lib.progress import Progress
from liseuse.pipeline import reasons
from liseuse.pipeline.decide import ScheduleConfig
from liseuse.pipeline.decide import manual_refresh_allowed
from liseuse.pipeline.fetch import FetchConfig
from liseuse.pipeline.fetch import Fetcher
from liseuse.pipeline.refresh import FeedReport
from liseuse.pipeline.refresh import FeedToRefresh
from liseuse.pipeline.refresh import Fetcher as RefreshFetcher
from liseuse.pipeline.refresh import RefreshSummary
from liseuse.pipeline.refresh import next_fetch_after_error
from liseuse.pipeline.refresh import refresh_feeds

log = logging.getLogger("liseuse.worker")

T = TypeVar("T")

# Seconds between two retention passes once one found nothing to delete.
_RETENTION_PAUSE = 60.0
# Seconds between two looks, while the loop pauses, for feeds made due (a person's "Refresh").
_DUE_LOOK_SECONDS = 3.0

# Below this many feeds a batch is refreshed in this process: starting others would cost more.
_SPLIT_THRESHOLD = 50
# No more processes than this, however many cores: each holds its own bodies and connection.
_MAX_SPLIT = 4
# Seconds the children of a batch have to end once asked to stop (the write under way, the
# feed being parsed) before they are killed: under `liseuse serve` the refresh loop is itself
# killed 10 s after it was asked to stop (server.RefreshLoop), which left them orphaned.
_STOP_GRACE = 5.0
# How often the parent of a batch checks whether it was asked to stop, and a child whether
# its parent is still there.
_STOP_POLL = 1.0


def fetch_config() -> FetchConfig:
    return FetchConfig(
        user_agent=settings.LISEUSE_USER_AGENT,
        allow_private_networks=settings.LISEUSE_ALLOW_PRIVATE_NETWORKS,
        allowed_networks=tuple(settings.LISEUSE_ALLOWED_NETWORKS),
        total_timeout=float(settings.LISEUSE_FETCH_TIMEOUT),
        max_body_bytes=settings.LISEUSE_FETCH_MAX_BYTES,
        global_concurrency=settings.LISEUSE_FETCH_CONCURRENCY,
        per_host_concurrency=settings.LISEUSE_FETCH_PER_HOST,
    )


def schedule_config() -> ScheduleConfig:
    return ScheduleConfig(
        min_interval=timedelta(minutes=settings.LISEUSE_REFRESH_MIN_MINUTES),
        max_interval=timedelta(minutes=settings.LISEUSE_REFRESH_MAX_MINUTES),
    )


def worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def checkpoint_and_close(database: BaseDatabaseWrapper) -> None:
    """On SQLite, copy what the batch left in the WAL into the database (PASSIVE: without
    waiting for readers or writers), so that the next write of a page does not do it (the WAL
    may hold 32 MB, settings.py); then close the connection."""
    if database.vendor == "sqlite" and database.connection is not None:
        with database.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
    database.close()


def _run_in_store_thread_then_close(executor: ThreadPoolExecutor) -> None:
    # The store thread owns a database connection of its own; close it with the batch.
    # (looked up inside the thread: `connection` is a per-thread proxy)
    executor.submit(lambda: checkpoint_and_close(connection)).result()
    executor.shutdown()


def refresh_batch(
    feeds: Sequence[FeedToRefresh],
    *,
    owner: str,
    progress: Progress | None = None,
    fetcher: RefreshFetcher | None = None,
    on_report: Callable[[FeedReport], object] | None = None,
    concurrency_share: int = 1,
    write_lock: AbstractContextManager[object] | None = None,
    on_reading: Callable[[int | None], object] | None = None,
    stop: _Stop | None = None,
) -> RefreshSummary:
    """Refresh claimed feeds in this process; `fetcher` replaces the network (a WebSub push,
    feeds.websub). With `concurrency_share` n, this process is one of n sharing the batch
    (`refresh_split`) and takes 1/n of the global fetch limit. `on_reading` is told which
    feed is being parsed (`pipeline.refresh.refresh_feeds`). Once `stop` is requested, the
    refresh is cancelled and this raises `asyncio.CancelledError` (`_refresh_share`)."""
    store_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="liseuse-store")
    max_in_flight = max(1, settings.LISEUSE_FETCH_CONCURRENCY // concurrency_share)
    clock = claim.database_clock()  # read here: no query from inside the event loop

    def report(result: FeedReport) -> None:
        if progress is not None:
            progress.advance(note=result.url)
        if on_report is not None:
            on_report(result)
        log.debug(
            "feed %s",
            result.outcome,
            extra={
                "feed_id": result.feed_id,
                "feed_url": result.url,
                "duration_ms": result.duration_ms,
                "new_entries": result.new_entries,
            },
        )

    async def run() -> RefreshSummary:
        if stop is not None:
            stop.watch()
        if fetcher is not None:
            return await refresh_with(fetcher)
        config = replace(fetch_config(), global_concurrency=max_in_flight)
        async with Fetcher(config) as network:
            try:
                return await refresh_with(network)
            except asyncio.CancelledError:
                # Stopped: the feeds' own tasks end before the fetcher closes. Still running
                # then, a fetch under way read its closed connection as an empty body, and
                # stored that as the feed's error.
                await _cancel_other_tasks()
                raise

    async def refresh_with(source: RefreshFetcher) -> RefreshSummary:
        return await refresh_feeds(
            feeds,
            fetcher=source,
            store=DjangoStore(owner, write_lock),
            store_executor=store_executor,
            now=clock,
            schedule=schedule_config(),
            on_report=report,
            on_reading=on_reading,
            max_in_flight=max_in_flight,
        )

    try:
        summary = asyncio.run(run())
    finally:
        _run_in_store_thread_then_close(store_executor)
    _note_durations(summary)
    return summary


async def _cancel_other_tasks() -> None:
    """Cancel every task of the running loop but this one, and wait for them to end."""
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


def _note_durations(summary: RefreshSummary) -> None:
    """Keep each feed's last refresh time for /metrics (liseuse.ops), in one transaction.

    One statement run for every feed: bulk_update's CASE over 500 ids took 60 ms of Python to
    build per 500 feeds, this takes 1 ms."""
    rows = [(r.duration_ms, r.feed_id) for r in summary.reports]
    if not rows:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {Feed._meta.db_table} SET last_duration_ms = %s WHERE id = %s", rows
        )


def _lease() -> tuple[timedelta, float]:
    """A batch's lease, and the seconds between two renewals of it: three per lease, so that
    one renewal may fail (the database busy) and the next still comes in time."""
    lease = timedelta(seconds=settings.LISEUSE_LEASE_SECONDS)
    return lease, lease.total_seconds() / 3


def _renew_leases(owner: str, lease: timedelta) -> None:
    try:
        claim.renew_leases(owner, now=claim.database_now(), lease=lease)
    except Exception:  # the batch goes on; the next renewal may get through
        log.warning("could not renew the leases of this batch", exc_info=True)


@contextmanager
def _keeping_leases(owner: str) -> Iterator[None]:
    """Renews the leases of a batch while it runs, from a thread of its own.

    A batch may run longer than its lease (a thousand feeds, a slow host, time-outs): without
    renewal, the feeds still waiting for their turn were claimable again by another worker,
    which fetched them a second time while this one still would. The store gives each feed's
    lease back as it stores it; what is renewed is what this owner still holds."""
    lease, pause = _lease()
    stop = threading.Event()

    def renew() -> None:
        try:
            while not stop.wait(pause):
                _renew_leases(owner, lease)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=renew, name="liseuse-leases", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class _ProcessWriteLock:
    """The turns at the database of the processes of one split refresh (SQLite has one writer).

    A POSIX record lock (`fcntl.lockf`) on a file of its own, which the kernel gives back when
    its holder dies. A `multiprocessing.Lock` held by a child killed in the middle of its
    transaction (out of memory, SIGKILL) stayed taken: the other children waited for it
    forever, and so did the pass and the refresh loop. One thread per process takes it (the
    store's), as such a lock belongs to a process, not a thread."""

    def __init__(self, fileno: int) -> None:
        self.fileno = fileno

    def __enter__(self) -> None:
        import fcntl  # POSIX only, as the fork the split needs

        fcntl.lockf(self.fileno, fcntl.LOCK_EX)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        import fcntl

        fcntl.lockf(self.fileno, fcntl.LOCK_UN)


def _cores() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cores or 1


def split_by_host(feeds: Sequence[FeedToRefresh], parts: int) -> list[list[FeedToRefresh]]:
    """`feeds` in `parts` shares of about the same size, each host's feeds all in one share, so
    that the per-host limit of each share's fetcher still holds for the whole pass. A feed
    whose URL redirected to another host last time (`redirect_host`) ties the two hosts
    together: it will ask both."""
    group: dict[str, str] = {}  # host → a host of its group (union-find)

    def root(host: str) -> str:
        while group.setdefault(host, host) != host:
            host = group[host]
        return host

    for feed in feeds:
        if feed.redirect_host:
            group[root(feed.redirect_host)] = root(feed_host(feed.url))
    by_host: dict[str, list[FeedToRefresh]] = {}
    for feed in feeds:
        by_host.setdefault(root(feed_host(feed.url)), []).append(feed)
    shares: list[list[FeedToRefresh]] = [[] for _ in range(parts)]
    # Biggest hosts first, each into the smallest share so far: shares within one host's size.
    for host_feeds in sorted(by_host.values(), key=len, reverse=True):
        min(shares, key=len).extend(host_feeds)
    return [share for share in shares if share]


class _Stop:
    """How a child process stops its share of a batch early: asked to (SIGTERM, SIGINT), or
    finding its parent gone. The batch's task is cancelled: no feed is fetched or waited for
    any more, and the write under way ends on the store thread, its transaction whole
    (`refresh_batch` waits for it). `request` may be called from a signal handler or from
    another thread."""

    def __init__(self) -> None:
        self.requested = False
        self._running: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self._parent_gone = False

    def watch(self) -> None:
        """Called by the batch's task once its event loop runs."""
        task = asyncio.current_task()
        assert task is not None
        self._running = (asyncio.get_running_loop(), task)
        if self.requested:  # asked before the loop ran
            task.cancel()

    def parent_gone(self) -> None:
        """Stop, the parent being gone: found by the watcher (`_watch_parent`), or by a report
        the pipe refused (the parent's end closed), whichever comes first. Said once: the
        report's way said nothing, and a parent killed just as a feed was stored left no word
        of why its children stopped."""
        if not self._parent_gone:
            self._parent_gone = True
            log.warning("the process that started this refresh is gone; stopping")
        self.request()

    def request(self) -> None:
        self.requested = True
        running = self._running
        if running is not None:
            loop, task = running
            with suppress(RuntimeError):  # its loop closed: the batch is over anyway
                loop.call_soon_threadsafe(task.cancel)


def _refresh_share(
    feeds: list[FeedToRefresh],
    owner: str,
    shares: int,
    write_lock: AbstractContextManager[object],
    reports: Connection,
    parent: int,
    parents_ends: list[Connection],
) -> None:
    """A child process's part of a batch: its own event loop, fetcher, parser and database
    connection. Each report goes back to the parent as it happens, and so does the id of the
    feed being parsed (None once it is): a few bytes, which tell the parent which feed a crash
    of this process was reading.

    It stops early, giving up the feeds it has not stored (`_Stop`), on SIGTERM or SIGINT (its
    parent's, Ctrl-C, a service manager's) and once `parent` is gone. It inherited its
    parent's handlers, which only flagged the parent's copy of a stop: asked to stop, it went
    on with the rest of its share, and so did an orphan, whose parent was killed."""
    stop = _Stop()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.request()

    for signum in _STOP_SIGNALS:
        signal.signal(signum, on_signal)
    # The parent blocked them around the fork (`_Children._start`): one sent since comes now.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    # The parent's ends of the pipes of this child and of its elder sisters, inherited by the
    # fork: held here, they kept this child's pipe open for reading once the parent was gone,
    # and its reports, which nobody read, then blocked it for good once the pipe was full.
    for end in parents_ends:
        end.close()
    reported: set[int] = set()

    def send(message: FeedReport | int | None) -> None:
        try:
            reports.send(message)
        except OSError:  # the parent is gone. Raised, it would be taken for the parser's error
            stop.parent_gone()

    def report(result: FeedReport) -> None:
        reported.add(result.feed_id)
        send(result)

    done = threading.Event()
    threading.Thread(
        target=_watch_parent, args=(parent, stop, done), name="liseuse-parent", daemon=True
    ).start()
    try:
        refresh_batch(
            feeds,
            owner=owner,
            on_report=report,
            concurrency_share=shares,
            write_lock=write_lock,
            on_reading=send,
            stop=stop,
        )
    except asyncio.CancelledError:
        pass  # asked to stop: the feeds not stored yet wait for the next pass
    except Exception:
        # Through logging (JSON with LISEUSE_LOG_FORMAT=json), not multiprocessing's bare
        # traceback on stderr; the exit code stays that of an exception.
        log.exception("the refresh process failed")
        raise SystemExit(1) from None
    finally:
        done.set()
        if os.getppid() != parent:
            _give_back_orphaned(feeds, reported, owner, write_lock)
        connections.close_all()
        reports.close()  # last: its end tells the parent this child is done


def _watch_parent(parent: int, stop: _Stop, done: threading.Event) -> None:
    """Stops the refresh of a child whose parent is gone (killed, out of memory): nobody reads
    its reports any more, nor gives its leases back."""
    while not done.wait(_STOP_POLL):
        if os.getppid() != parent:
            stop.parent_gone()
            return


def _give_back_orphaned(
    feeds: list[FeedToRefresh],
    reported: set[int],
    owner: str,
    write_lock: AbstractContextManager[object],
) -> None:
    """Give back the leases of the feeds of an orphaned child not stored yet, as its parent
    would have at the end of the pass (`refresh_once`): else they waited for the end of their
    lease (LISEUSE_LEASE_SECONDS) when the refresh loop was started again."""
    left = [feed.id for feed in feeds if feed.id not in reported]
    try:
        with write_lock:
            claim.release_feeds(owner, feed_ids=left)
    except Exception:  # they wait for the end of their lease
        log.exception("could not give back the leases of this refresh")


def refresh_split(
    feeds: Sequence[FeedToRefresh],
    *,
    owner: str,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RefreshSummary:
    """Refresh a batch in child processes: one per core when there is enough work for them,
    else one.

    A first refresh is CPU-bound (decompressing, parsing and cleaning every entry) and a
    process is bound to one core by its interpreter lock: with one process, the second core
    was mostly idle (docs/benchmarks.md). Each child takes a share of the hosts and does the
    whole pipeline for it, fetch to store: feeds travel to it by fork and only small reports
    come back, where a pool of parsers was sent every body and sent back every parsed feed.
    The database sees one writer per child; SQLite's lock and PostgreSQL's rows keep them apart
    as they keep several `liseuse worker`s apart.

    A small batch, the usual one once the first refresh is done, goes to one child too: a feed
    whose parsing kills the process (a crash in a C extension, the kernel's memory killer)
    then kills only that child, and the parent marks the feed and refreshes the others
    (`_Children`). In this process, such a feed killed the refresh loop at every pass, with the
    feeds of the batch not stored yet, and showed no error. The fork, the child's own
    database connection and the parent's new one cost about 20 ms of processor time a batch
    (five feeds answering 304 took 13 ms in this process, 30 in a child, on SQLite as on
    PostgreSQL), and a steady loop runs at most one batch a second.

    Once `should_stop()` says so, the children are asked to stop (`_Children`).
    """
    can_fork = "fork" in get_all_start_methods()
    cores = _cores()
    shares = [list(feeds)]
    if can_fork and len(feeds) >= _SPLIT_THRESHOLD and cores >= 2:
        # One host gives one share, as its politeness limit would have it anyway.
        shares = split_by_host(feeds, min(cores, _MAX_SPLIT))
    if len(shares) < 2 and (not can_fork or _database_in_memory()):
        with _keeping_leases(owner):
            return refresh_batch(feeds, owner=owner, progress=progress)
    context = get_context("fork")
    if len(shares) > 1:
        log.info("refreshing %s feeds in %s processes", len(feeds), len(shares))
    # PostgreSQL takes all the children's writes at once; one child at a time needs no turns.
    if connection.vendor != "sqlite" or len(shares) < 2:
        return _Children(context, owner, len(shares), nullcontext(), progress, should_stop).run(
            shares
        )
    # SQLite has one writer: the children take turns under this lock.
    with tempfile.TemporaryFile() as lock_file:
        write_lock = _ProcessWriteLock(lock_file.fileno())
        return _Children(context, owner, len(shares), write_lock, progress, should_stop).run(shares)


def _database_in_memory() -> bool:
    """Whether the database is SQLite's in this process's memory (the test suite's): a forked
    child would write into a copy of its own, which the parent never sees."""
    database = connections[DEFAULT_DB_ALIAS]
    return isinstance(database, SQLiteDatabaseWrapper) and database.is_in_memory_db()


@dataclass
class _Child:
    """A child process refreshing `feeds`, as its parent follows it."""

    process: BaseProcess
    feeds: list[FeedToRefresh]
    reported: set[int] = field(default_factory=set)
    # The feed whose body it said it was parsing, until it said it was done.
    reading: int | None = None


# Signals that ask a process to stop: a child ended by one was not killed by a feed.
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Children:
    """The child processes of one batch, and what they report to their parent.

    A child that dies takes with it the feeds it has not reported. If it was parsing a feed,
    that feed gets the crash as its error, which backs it off as any error does, and the
    others go to a new child in the same pass. Before, a feed that killed its process at
    every pass took the feeds after it in its share along every time, and showed no error.

    Asked to stop (`should_stop()`, checked every `_STOP_POLL` seconds: the refresh loop's
    signal, or its parent gone) or leaving on an exception (Ctrl-C in `liseuse refresh`, a
    fork refused), the parent asks its children to stop (SIGTERM: `_refresh_share`) and
    kills those still there after `_STOP_GRACE`, so that no child outlives its batch. The
    refresh loop waited for the whole batch, and a stopped `liseuse serve` left it running."""

    def __init__(
        self,
        context: ForkContext,
        owner: str,
        shares: int,
        write_lock: AbstractContextManager[object],
        progress: Progress | None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.context = context
        self.owner = owner
        self.shares = shares
        self.write_lock = write_lock
        self.progress = progress
        self.should_stop = should_stop
        self.running: dict[Connection, _Child] = {}
        self.summary = RefreshSummary()
        # Once the children were asked to stop: when those left are killed.
        self.kill_at: float | None = None
        self.killed = False

    def run(self, shares: list[list[FeedToRefresh]]) -> RefreshSummary:
        """Start one child per share, then gather their reports until each has ended."""
        started = time.monotonic()
        try:
            for share in shares:
                self._start(share)
            self._gather()
        except BaseException:
            self._stop()
            try:
                self._gather()
            finally:
                self._kill()  # a second Ctrl-C: still no child left behind
                for child in self.running.values():
                    child.process.join()
            raise
        self.summary.seconds = time.monotonic() - started
        return self.summary

    def _gather(self) -> None:
        """Read the children's reports until each has ended."""
        # The leases are renewed from this loop, not from a thread: no thread of the parent
        # may be running across the fork of a child started again.
        lease, pause = _lease()
        renewal = time.monotonic() + pause
        while self.running:
            if self.kill_at is None and self.should_stop is not None and self.should_stop():
                self._stop()
            if self.kill_at is not None and time.monotonic() >= self.kill_at:
                self._kill()
            wake = min(renewal, time.monotonic() + _STOP_POLL)
            if self.kill_at is not None and not self.killed:
                wake = min(wake, self.kill_at)
            for ready in wait(list(self.running), max(0.0, wake - time.monotonic())):
                assert isinstance(ready, Connection)
                self._receive(ready)
            if time.monotonic() >= renewal:
                _renew_leases(self.owner, lease)
                renewal = time.monotonic() + pause

    def _stop(self) -> None:
        """Ask every child to stop, once."""
        if self.kill_at is not None:
            return
        self.kill_at = time.monotonic() + _STOP_GRACE
        if self.running:
            log.info("stopping the refresh processes of this batch")
        for child in self.running.values():
            child.process.terminate()

    def _kill(self) -> None:
        """Kill the children still there (their transaction rolled back, their lock freed)."""
        if self.killed:
            return
        self.killed = True
        for child in self.running.values():
            log.warning("a refresh process did not stop in time; killing it")
            child.process.kill()

    def _start(self, feeds: list[FeedToRefresh]) -> None:
        # A connection must never cross a fork: the children open their own.
        connections.close_all()
        receive, send = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=_refresh_share,
            args=(
                feeds,
                self.owner,
                self.shares,
                self.write_lock,
                send,
                os.getpid(),
                [receive, *self.running],
            ),
            daemon=True,
        )
        # A stop signal waits until the child has handlers of its own and is listed here: in
        # between, the child ran this process's handler (which does not stop it), and this
        # process could leave on a KeyboardInterrupt without knowing the child to stop.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            # What the parent holds stays shared with the children: the collector must not
            # write to those objects' pages (copying them into every child) when it runs in a
            # child.
            gc.freeze()
            try:
                process.start()
            except BaseException:
                receive.close()
                raise
            finally:
                gc.unfreeze()  # also when the fork failed: else never collected again
                send.close()  # the child's end: once the child exits, reading ours ends
            self.running[receive] = _Child(process, feeds)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _receive(self, ready: Connection) -> None:
        child = self.running[ready]
        try:
            message = ready.recv()
        except EOFError:
            del self.running[ready]
            ready.close()
            child.process.join()
            self._ended(child)
            return
        if isinstance(message, FeedReport):
            child.reported.add(message.feed_id)
            self._report(message)
        else:  # the feed it is parsing now, or None
            child.reading = message

    def _report(self, report: FeedReport) -> None:
        self.summary.reports.append(report)
        if self.progress is not None:
            self.progress.advance(note=report.url)

    def _ended(self, child: _Child) -> None:
        code = child.process.exitcode
        left = [feed for feed in child.feeds if feed.id not in child.reported]
        if not left:
            return
        # Feeds not given to a new child keep their lease (renewed with the batch's) until the
        # pass gives them back (refresh_once): the next pass takes them.
        # Asked to stop: by this process (and killed if it took too long), or by another (a
        # service manager, Ctrl-C); a child ends with 0 then (`_refresh_share`).
        if self.kill_at is not None or not code or -code in _STOP_SIGNALS:
            log.info(
                "a refresh process was stopped (code %s); its %s feeds not refreshed yet wait "
                "for the next pass",
                code,
                len(left),
            )
            return
        culprit = next((feed for feed in left if feed.id == child.reading), None)
        if culprit is not None:
            left.remove(culprit)
            self._report(self._mark_crashed(culprit, _crash_reason(code)))
        # Each new child has fewer feeds than the dead one: this ends, however often they die.
        if left and (culprit is not None or child.reported):
            log.error(
                "a refresh process ended with code %s; its %s feeds not refreshed yet go to a "
                "new one",
                code,
                len(left),
            )
            self._start(left)
        else:
            log.error(
                "a refresh process ended with code %s; its %s feeds not refreshed yet wait for "
                "the next pass",
                code,
                len(left),
            )

    def _mark_crashed(self, feed: FeedToRefresh, reason: str) -> FeedReport:
        """Store `reason` as the feed's error, as the refresh stores any error (its lease given
        back, its next fetch backed off)."""
        log.error("feed failed", extra={"feed_id": feed.id, "feed_url": feed.url, "error": reason})
        now = claim.database_now()
        when = next_fetch_after_error(feed, now=now, schedule=schedule_config())
        try:
            with self.write_lock:
                DjangoStore(self.owner).save_error(
                    feed.id, fetched_at=now, reason=reason, next_fetch_at=when, gone=False
                )
        except Exception:  # unwritten, it keeps its lease until the pass gives it back
            log.exception("could not store", extra={"feed_id": feed.id, "feed_url": feed.url})
        return FeedReport(feed.id, feed.url, "error", error=reason)


def _crash_reason(code: int) -> str:
    """Why a child ended, by its exit code: negative, the signal that killed it."""
    if code > 0:
        return reasons.PROCESS_EXITED.format(code=code)
    try:
        name = f"{-code}, {signal.Signals(-code).name}"
    except ValueError:
        name = str(-code)
    return reasons.PROCESS_KILLED.format(signal=name)


def refresh_once(
    *,
    all_feeds: bool = False,
    user: User | None = None,
    progress: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> RefreshSummary:
    """One pass over the due feeds (or all of them), in batches, then return; early once
    `should_stop()` says so (the loop was asked to stop): the batch under way gives up the
    feeds it has not stored (`refresh_split`), and no other batch starts."""
    owner = worker_id()
    total = RefreshSummary()
    lease = timedelta(seconds=settings.LISEUSE_LEASE_SECONDS)
    batch_size = settings.LISEUSE_REFRESH_BATCH
    last_id: int | None = None
    bar: Progress | None = None
    try:
        while should_stop is None or not should_stop():
            now = claim.database_now()
            feeds = claim.claim_feeds(
                owner=owner,
                now=now,
                lease=lease,
                limit=batch_size,
                due_only=not all_feeds,
                user=user,
                after_id=last_id,
            )
            if not feeds:
                break
            last_id = max(f.id for f in feeds)
            if progress and bar is None:
                bar = Progress(len(feeds), "refreshing")
            elif bar is not None:
                bar.total += len(feeds)
            # Children per batch: they give their memory back between batches, so the peak
            # stays that of one batch however many feeds there are.
            summary = refresh_split(feeds, owner=owner, progress=bar, should_stop=should_stop)
            total.reports.extend(summary.reports)
            total.seconds += summary.seconds
    finally:
        if bar is not None:
            bar.close()
        claim.release_feeds(owner)
    return total


class RefreshRefused(Exception):
    """A manual refresh that cannot happen now; the message says why."""


class NotFollowed(RefreshRefused):
    """The person does not follow this feed: to them, it does not exist (a 404, not a 429)."""


def refresh_feed_now(user: User, feed_id: int) -> FeedReport:
    """A person's "refresh this feed now": allowed once per `manual_refresh_gap` per feed, so
    that a button pressed in a loop never becomes a way to hammer a site."""
    feed = Feed.objects.filter(id=feed_id, subscriptions__user=user).first()
    if feed is None:
        raise NotFollowed(_("you do not follow this feed"))
    now = timezone.now()
    config = schedule_config()
    # The site's own "not before" wins over any person's wish: the loop keeps to it, and a
    # button must not be the way around it.
    refusal = _refused_by_the_site(feed)
    if refusal is not None:
        raise refusal
    if reasons.is_process_crash(feed.last_error):
        # Read here, in a web process, it would take the process down with the requests it
        # serves; the refresh loop reads it in a child of its own, and backs off (_Children).
        raise RefreshRefused(
            _(
                "reading this feed crashed the refresh process: "
                "only the background refresh tries it again"
            )
        )
    if not manual_refresh_allowed(last_fetch=feed.last_fetched_at, now=now, config=config):
        wait = int(config.manual_refresh_gap.total_seconds())
        raise RefreshRefused(
            _("this feed was fetched less than %(seconds)s seconds ago; try again soon")
            % {"seconds": wait}
        )
    owner = worker_id()
    claimed = claim.claim_feeds(
        owner=owner,
        now=claim.database_now(),
        lease=timedelta(seconds=settings.LISEUSE_LEASE_SECONDS),
        limit=1,
        due_only=False,
        feed_ids=[feed_id],
        # A gone feed (410) is tried again when someone asks: a site back, or a URL that works
        # again, enables it (the store's success clears `disabled`).
        even_disabled=True,
    )
    if not claimed:
        raise RefreshRefused(_("this feed is being refreshed right now"))
    return refresh_batch(claimed, owner=owner).reports[0]


def refresh_soon(user: User, *, category_id: int | None = None, feed_id: int | None = None) -> int:
    """A person's "Refresh" on a stream of several feeds (all theirs, a category's; or one
    feed's, `feed_id`): those feeds made due now, for the refresh loop to fetch within
    seconds, as Miniflux's "Refresh all feeds" does; returns how many. Fetching them here, in
    a web process, would hold the request for as long as the slowest site.

    Left as they are: feeds fetched less than `manual_refresh_gap` ago (the limit of "Refresh
    now" on one feed: a button pressed in a loop must not hammer sites), those whose site asked
    to wait (Retry-After), disabled ones, and those due already."""
    now = claim.database_now()
    gap = schedule_config().manual_refresh_gap
    mine = Q(subscriptions__user=user)
    if category_id is not None:
        mine &= Q(subscriptions__category_id=category_id)  # the same subscription row
    if feed_id is not None:
        mine &= Q(id=feed_id)
    waiting = (
        Feed.objects.filter(mine, disabled=False, next_fetch_at__gt=now)
        .exclude(last_fetched_at__gt=now - gap)
        .exclude(retry_after_until__gt=now)
    )
    return Feed.objects.filter(id__in=waiting.values("id")).update(next_fetch_at=now)


def _refused_by_the_site(feed: Feed) -> RefreshRefused | None:
    """The refusal of a manual refresh before the time the feed's server asked for at its last
    failure (a 429 or 503 with Retry-After, kept as `Feed.retry_after_until`), while that time
    is still to come; None otherwise. liseuse's own back-off never refuses: only the
    once-a-minute limit does."""
    until = feed.retry_after_until
    if until is None or until <= timezone.now():
        return None
    when = formats.localize(timezone.localtime(until))
    return RefreshRefused(
        _("the site asked not to be fetched again before %(time)s") % {"time": when}
    )


def _due_now() -> bool:
    try:
        return claim.any_due(now=claim.database_now())
    except Exception:  # the database busy or restarting: the pause goes on as planned
        log.debug("could not look for due feeds", exc_info=True)
        return False


def run_forever(*, idle_seconds: float = 30.0, parent: int | None = None) -> None:
    """Claim and refresh due feeds until SIGTERM / SIGINT, or, given `parent` (`liseuse
    serve`'s loop), until this process's parent is that one no more.

    Only then: a `liseuse worker` started with `nohup … &`, or from a shell that exits, has a
    new parent as soon as its shell is gone, and stopped there without a word."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("stopping (signal %s)", signum)
        stop.set()

    def should_stop() -> bool:
        # Started by `liseuse serve`: leave with it, even if it was killed without a word.
        if parent is not None and not stop.is_set() and os.getppid() != parent:
            log.info("parent process gone; stopping")
            stop.set()
        return stop.is_set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("refresh loop started")
    retention_cursor = retention.Cursor()
    next_retention = time.monotonic()
    while not stop.is_set():
        close_old_connections()
        try:
            # A pass stops within its batch once a signal came: a pass over every due feed
            # may take many batches, and a batch minutes, longer than a service manager waits.
            summary = refresh_once(should_stop=should_stop)
            if summary.reports:
                log.info(summary.describe())
            if should_stop():
                # Indexing and upkeep wait for the next start (the queue is kept): a long
                # queue of entries, or WebSub's hubs slow to answer, held the stop up.
                break
            indexed = search.index_pending()
            if indexed:
                log.info("indexed %s new entries for search", indexed)
        except Exception:
            # The database locked for longer than its time-out, PostgreSQL restarting: this
            # pass is lost, never the loop (under `liseuse serve` nothing would start it
            # again). Leases left behind end on their own; broken connections are opened anew.
            log.exception("the refresh pass failed; trying again in %s s", idle_seconds)
            connections.close_all()
            summary = RefreshSummary()
        if time.monotonic() >= next_retention:
            next_retention = time.monotonic() + _RETENTION_PAUSE
            try:
                # A small retention pass between refreshes (feeds.retention); idempotent, so
                # several workers doing it at once only share the work.
                purged = retention.run(cursor=retention_cursor)
                if purged:
                    log.info(
                        "retention: %s entries and reading states deleted "
                        "(past the retention rules, or of feeds nobody follows)",
                        purged,
                    )
                    next_retention = time.monotonic() + 1.0
                # New hubs and expiring WebSub leases (feeds.websub), at the same slow pace.
                websub.maintain()
            except Exception:  # housekeeping must never stop the refresh loop
                log.exception("retention or WebSub upkeep failed; trying again later")
        if should_stop():
            break
        # In slices of a second: a parent gone is noticed within one, not at the next pass; and
        # every few seconds a look for feeds made due meanwhile (a person's "Refresh").
        resume = time.monotonic() + (idle_seconds if not summary.reports else 1.0)
        next_look = time.monotonic() + _DUE_LOOK_SECONDS
        while not stop.wait(min(1.0, max(0.0, resume - time.monotonic()))):
            if should_stop() or time.monotonic() >= resume:
                break
            if time.monotonic() >= next_look:
                next_look = time.monotonic() + _DUE_LOOK_SECONDS
                if _due_now():
                    break
    log.info("refresh loop stopped")
