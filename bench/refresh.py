"""The refresh benchmark: liseuse and the `reader` library, side by side, in one run.

For each corpus size it starts the local feed server (bench/feedserver.py, every feed rendered
before timing starts), writes the OPML file of the corpus, then for each side, on a fresh SQLite
database in a temporary folder:

1. subscribes to every feed (not timed: that is an import, not a refresh);
2. first refresh: every feed answers 200 with its full body (no added latency by default);
3. all-304 refresh: the server now waits --latency-ms before every answer, and every feed answers
   304 Not Modified to the side's conditional request.

Each refresh is its own child process, timed from the outside (wall clock, start-up included, the
same for both sides), with its peak memory from wait4() (ru_maxrss: the largest single process of
its tree) and, sampled every 100 ms, the sum of PSS over its whole process tree (worker processes
included, shared pages counted once). The server's own counts (200s, 304s, most requests in
flight on one host and in all) are printed beside them: a side that did not fetch every feed, or
not conditionally, shows it there.

    .venv/bin/python bench/refresh.py --feeds 100                # quick look
    .venv/bin/python bench/refresh.py                            # 1,000 feeds, both sides
    .venv/bin/python bench/refresh.py --feeds 1000,5000 --sides liseuse   # memory flat?
    .venv/bin/python bench/refresh.py --reader-search            # and like for like (below)

liseuse's first refresh ends by indexing the new entries for search; reader's `update_feeds`
does not (reader's search is off by default). With --reader-search, reader's index is then
built too (`enable_search()`, `update_search()`, timed on its own) and a line compares the two
sides doing the same work. It is printed beside the targets, never instead of them: the issue's
figure is reader's `update_feeds` alone.

Results are also written as JSON to bench/out/ (git-ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import IO
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # bench/ is a folder of scripts, not a package
import reader_side

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
BENCH_USER = "bench"
# Only ever used on a throw-away database in a temporary folder.
BENCH_PASSWORD = "Refresh-bench-2024-liseuse"

# The figures the issue asks for, on this 2-core machine.
TARGET_FIRST_S = 8.0
TARGET_SPEEDUP = 10.0
TARGET_304_S = 2.0
TARGET_PEAK_MB = 150.0


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and why."""


@dataclass
class Phase:
    """One measured child process."""

    command: list[str]
    seconds: float = 0.0  # wall clock, start-up included
    cpu_seconds: float = 0.0  # user + system, its waited-for children included
    peak_kb: int = 0  # ru_maxrss from wait4: the largest single process of the tree
    tree_peak_kb: int = 0  # sampled sum of PSS over the whole tree (see _memory_kb)
    returncode: int = 0
    report: dict[str, Any] = field(default_factory=dict)  # the child's last line of output
    server: dict[str, Any] = field(default_factory=dict)  # the feed server's counts

    @property
    def peak_mb(self) -> float:
        return max(self.peak_kb, self.tree_peak_kb) / 1024


@dataclass
class SideResult:
    side: str
    feeds: int
    entries: int | None = None
    first: Phase | None = None
    again: Phase | None = None
    search: Phase | None = None  # reader's update_search after its passes (--reader-search)
    notes: list[str] = field(default_factory=list)


# --- measuring a child process -------------------------------------------------------------


def _memory_kb(pid: int) -> int:
    """The process's proportional set size: its share of the pages it shares with others.

    Summing RSS over a process and the workers it forked would count every shared page once per
    process; PSS divides each shared page among the processes that map it, so the sum is fair.
    """
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB


def _tree_memory_kb(root: int) -> int:
    total = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            total += _memory_kb(pid)
            for task in Path(f"/proc/{pid}/task").iterdir():
                stack.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue  # the process ended between two reads
    return total


def run_measured(
    command: list[str],
    *,
    env: dict[str, str],
    log_dir: Path,
    name: str,
    timeout: float,
    stdin_text: str | None = None,
) -> Phase:
    """Run `command` to the end and measure it; raise BenchError if it fails."""
    phase = Phase(command=command)
    stdout_path = log_dir / f"{name}.stdout"
    stderr_path = log_dir / f"{name}.stderr"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # its own process group, so a time-out can end all of it
        )
        if stdin_text is not None and process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):  # it ended early: its stderr says why
                process.stdin.write(stdin_text.encode())
                process.stdin.close()
        done = threading.Event()
        timed_out = threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                phase.tree_peak_kb = max(phase.tree_peak_kb, _tree_memory_kb(process.pid))
                if time.perf_counter() - started > timeout:
                    timed_out.set()
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    return

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # wait4 rather than Popen.wait: it also hands back this child's own resource usage.
        _, status, usage = os.wait4(process.pid, 0)
        phase.seconds = time.perf_counter() - started
        done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    phase.returncode = process.returncode
    phase.cpu_seconds = usage.ru_utime + usage.ru_stime
    phase.peak_kb = usage.ru_maxrss  # kilobytes on Linux
    if timed_out.is_set():
        raise BenchError(f"{name}: still running after {timeout:.0f} s, stopped")
    if phase.returncode != 0:
        tail = stderr_path.read_text(errors="replace").strip().splitlines()[-15:]
        raise BenchError(
            f"{name}: `{' '.join(command)}` exited with {phase.returncode}:\n  " + "\n  ".join(tail)
        )
    lines = stdout_path.read_text(errors="replace").strip().splitlines()
    if lines:
        # reader_side.py ends with a JSON line; liseuse with a sentence, kept as it is.
        phase.report = {"output": lines[-1]}
        with contextlib.suppress(json.JSONDecodeError):
            decoded = json.loads(lines[-1])
            if isinstance(decoded, dict):
                phase.report = decoded
    return phase


# --- the feed server -----------------------------------------------------------------------


class FeedServer:
    """bench/feedserver.py as a child process, with its admin side at hand."""

    def __init__(self, feeds: int, seed: int, work: Path, gzip: bool) -> None:
        self.feeds = feeds
        command = [
            sys.executable,
            str(BENCH / "feedserver.py"),
            f"--feeds={feeds}",
            f"--seed={seed}",
            "--warm",
            f"--log={work / 'requests.log'}",
            f"--stats={work / 'server-stats.json'}",
        ]
        if not gzip:
            command.append("--no-gzip")
        self._stderr: IO[bytes] = (work / "feedserver.stderr").open("wb")
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._stderr, start_new_session=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks while it renders the corpus
        if not line:
            self.process.wait()
            raise BenchError(
                "the feed server did not start:\n"
                + (work / "feedserver.stderr").read_text(errors="replace")[-2000:]
            )
        self.port = int(json.loads(line)["port"])
        # Proxies from the environment must never see these requests.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _admin(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://{corpus.ADMIN_HOST}:{self.port}{path}", method=method
        )
        try:
            with self._opener.open(request, timeout=30) as answer:
                result: dict[str, Any] = json.loads(answer.read())
                return result
        except OSError as error:
            raise BenchError(
                f"the feed server's admin side did not answer {path}: {error}"
            ) from None

    def reset(self, latency_ms: float) -> None:
        self._admin("POST", "/_admin/reset")
        self._admin("POST", f"/_admin/latency?ms={latency_ms}")

    def stats(self) -> dict[str, Any]:
        stats = self._admin("GET", "/_admin/stats")
        stats.pop("per_feed", None)  # in the server's own stats file; too long for the results
        stats.pop("max_in_flight_by_host", None)
        return stats

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._stderr.close()


# --- the two sides -------------------------------------------------------------------------


def liseuse_command() -> Path:
    """The liseuse console script of the venv we run in, or a clear reason why not."""
    candidate = Path(sys.executable).parent / "liseuse"
    found = candidate if candidate.exists() else shutil.which("liseuse")
    if found is None:
        raise BenchError(
            "the liseuse command line is missing: install liseuse into this venv "
            "(`.venv/bin/pip install -e .`) and run this script with .venv/bin/python, "
            "or leave it out with --sides reader"
        )
    return Path(found)


def _liseuse_entries(data_dir: Path) -> int | None:
    """Entries stored, read straight from the SQLite file: the CLI has no command for it."""
    for path in sorted(data_dir.rglob("*")):
        if path.suffix not in (".sqlite3", ".sqlite", ".db"):
            continue
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                tables = [
                    row[0]
                    for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                ]
                for table in ("feeds_entry", *[t for t in tables if t.endswith("_entry")]):
                    if table in tables:
                        count = db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                        return int(count)
        except sqlite3.Error:
            continue
    return None


def _two_passes(
    result: SideResult,
    server: FeedServer,
    refresh: list[str],
    env: dict[str, str],
    work: Path,
    args: argparse.Namespace,
) -> None:
    """The two measured refreshes, the same for both sides."""
    server.reset(args.first_latency_ms)
    result.first = run_measured(
        refresh, env=env, log_dir=work, name=f"{result.side}-first", timeout=args.timeout
    )
    result.first.server = server.stats()
    server.reset(args.latency_ms)
    result.again = run_measured(
        refresh, env=env, log_dir=work, name=f"{result.side}-again", timeout=args.timeout
    )
    result.again.server = server.stats()


def _environment(**extra: str) -> dict[str, str]:
    """The environment both sides run in: this shell's, with what is set here, and without
    PYTHONDONTWRITEBYTECODE. Some machines set it for every process, and then each run compiles
    its program's modules again (0.05 to 0.15 s of liseuse's start-up on the machines measured):
    a person's installation writes its bytecode once, at the first start."""
    env = dict(os.environ, **extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_liseuse(server: FeedServer, opml: Path, work: Path, args: argparse.Namespace) -> SideResult:
    result = SideResult(side="liseuse", feeds=server.feeds)
    command = str(liseuse_command())
    data_dir = work / "liseuse-data"
    data_dir.mkdir()
    env = _environment(LISEUSE_DATA_DIR=str(data_dir), LISEUSE_ALLOW_PRIVATE_NETWORKS="1")
    env.pop("LISEUSE_DATABASE_URL", None)  # SQLite, whatever the shell had

    def setup(name: str, arguments: list[str], stdin_text: str | None = None) -> None:
        run_measured(
            [command, *arguments],
            env=env,
            log_dir=work,
            name=name,
            timeout=args.timeout,
            stdin_text=stdin_text,
        )

    setup("liseuse-user-add", ["user", "add", BENCH_USER], stdin_text=BENCH_PASSWORD + "\n")
    setup("liseuse-opml-import", ["opml", "import", str(opml), "--user", BENCH_USER])
    _two_passes(result, server, [command, "refresh", "--all"], env, work, args)
    result.entries = _liseuse_entries(data_dir)
    if result.entries is None:
        result.notes.append("liseuse: no SQLite file with an *_entry table found")
    return result


def run_reader(server: FeedServer, opml: Path, work: Path, args: argparse.Namespace) -> SideResult:
    result = SideResult(side="reader", feeds=server.feeds)
    python = str(reader_side.ensure_venv())
    script = str(BENCH / "reader_side.py")
    db = work / "reader.sqlite"
    env = _environment()
    run_measured(
        [python, script, "setup", f"--db={db}", f"--opml={opml}"],
        env=env,
        log_dir=work,
        name="reader-setup",
        timeout=args.timeout,
    )
    refresh = [python, script, "refresh", f"--db={db}", f"--workers={args.workers}"]
    _two_passes(result, server, refresh, env, work, args)
    if args.reader_search:
        result.search = run_measured(
            [python, script, "search", f"--db={db}"],
            env=env,
            log_dir=work,
            name="reader-search",
            timeout=args.timeout,
        )
    assert result.again is not None
    result.entries = result.again.report.get("entries")
    for phase in (result.first, result.again):
        if phase is not None and phase.report.get("broken_feeds"):
            result.notes.append(
                f"reader: {phase.report['broken_feeds']} broken feeds, e.g. "
                + "; ".join(phase.report.get("errors", [])[:2])
            )
    return result


# --- the report ----------------------------------------------------------------------------


def _fetches(phase: Phase | None) -> str:
    if phase is None or not phase.server:
        return "-"
    status = phase.server.get("status", {})
    return f"{status.get('200', 0)}/{status.get('304', 0)}"


def format_table(results: list[SideResult], latency_ms: float) -> str:
    header = (
        "side",
        "feeds",
        "entries",
        "first s",
        f"304 s ({latency_ms:g} ms)",
        "peak MB first",
        "peak MB 304",
        "cpu s first",
        "200/304 first",
        "200/304 again",
        "max/host 304",
        "max all 304",
    )
    rows = [header]
    for r in results:
        first, again = r.first, r.again
        rows.append(
            (
                r.side,
                str(r.feeds),
                "?" if r.entries is None else str(r.entries),
                f"{first.seconds:.2f}" if first else "-",
                f"{again.seconds:.2f}" if again else "-",
                f"{first.peak_mb:.0f}" if first else "-",
                f"{again.peak_mb:.0f}" if again else "-",
                f"{first.cpu_seconds:.1f}" if first else "-",
                _fetches(first),
                _fetches(again),
                # Only the pass with added latency can show it: without a wait, the server
                # answers each request before it reads the next one.
                str(again.server.get("max_in_flight_per_host", "-")) if again else "-",
                str(again.server.get("max_in_flight_total", "-")) if again else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_targets(results: list[SideResult]) -> list[str]:
    lines = []
    by_side = {(r.side, r.feeds): r for r in results}
    for r in results:
        if r.side != "liseuse" or r.first is None or r.again is None:
            continue
        checks = [
            (f"first refresh ≤ {TARGET_FIRST_S:g} s", r.first.seconds <= TARGET_FIRST_S),
            (f"all-304 refresh ≤ {TARGET_304_S:g} s", r.again.seconds <= TARGET_304_S),
            (
                f"peak ≤ {TARGET_PEAK_MB:g} MB",
                max(r.first.peak_mb, r.again.peak_mb) <= TARGET_PEAK_MB,
            ),
        ]
        other = by_side.get(("reader", r.feeds))
        if other is not None and other.first is not None:
            speedup = other.first.seconds / r.first.seconds
            checks.append(
                (f"≥ {TARGET_SPEEDUP:g} x reader (is {speedup:.1f} x)", speedup >= TARGET_SPEEDUP)
            )
        marks = ", ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in checks)
        lines.append(f"targets at {r.feeds} feeds — {marks}")
    return lines


def format_like_for_like(results: list[SideResult]) -> list[str]:
    """Both sides' first refresh with their entries indexed for search (--reader-search)."""
    lines = []
    by_side = {(r.side, r.feeds): r for r in results}
    for r in results:
        other = by_side.get(("reader", r.feeds))
        if r.side != "liseuse" or r.first is None or other is None or other.first is None:
            continue
        if other.search is None:
            continue
        both = other.first.seconds + other.search.seconds
        found = other.search.report.get("found", "?")
        lines.append(
            f"like for like at {r.feeds} feeds (not a target) — reader's update_feeds "
            f"{other.first.seconds:.2f} s + update_search {other.search.seconds:.2f} s "
            f"(a test word found: {'yes' if found else 'NO'}) = {both:.2f} s, against liseuse's "
            f"{r.first.seconds:.2f} s indexing included: {both / r.first.seconds:.1f} x"
        )
    return lines


# --- the run -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--feeds", default="1000", help="corpus size(s), e.g. 1000 or 1000,5000")
    parser.add_argument("--sides", default="liseuse,reader", help="liseuse,reader (either or both)")
    parser.add_argument(
        "--latency-ms", type=float, default=50.0, help="added server latency, all-304 pass"
    )
    parser.add_argument(
        "--first-latency-ms", type=float, default=0.0, help="added server latency, first pass"
    )
    parser.add_argument("--seed", type=int, default=corpus.DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=4, help="reader's update_feeds(workers=)")
    parser.add_argument("--no-gzip", action="store_true", help="serve feeds uncompressed")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds, per step")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    parser.add_argument(
        "--reader-search",
        action="store_true",
        help="also time reader's update_search, for a like-for-like line (not a target)",
    )
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.feeds.split(",")]
    sides = [side.strip() for side in args.sides.split(",") if side.strip()]
    unknown = set(sides) - {"liseuse", "reader"}
    if unknown:
        parser.error(f"unknown side(s): {', '.join(sorted(unknown))}")

    try:
        if "liseuse" in sides:
            liseuse_command()  # fail now, not after rendering the corpus
        if "reader" in sides:
            reader_side.ensure_venv()
        results = []
        for size in sizes:
            results.extend(run_size(size, sides, args))
    except BenchError as error:
        print(f"refresh benchmark: {error}", file=sys.stderr)
        return 1

    print()
    print(format_table(results, args.latency_ms))
    for line in format_targets(results) + format_like_for_like(results):
        print(line)
    for r in results:
        for note in r.notes:
            print(f"note: {note}")
    OUT.mkdir(exist_ok=True)
    out = OUT / f"refresh-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(
        json.dumps({"args": vars(args), "results": [asdict(r) for r in results]}, indent=1) + "\n",
        encoding="utf-8",
    )
    print(f"\nresults: {out.relative_to(BENCH.parent)}")
    return 0


def run_size(size: int, sides: list[str], args: argparse.Namespace) -> list[SideResult]:
    work = Path(tempfile.mkdtemp(prefix=f"liseuse-bench-{size}-"))
    print(f"{size} feeds: rendering the corpus and starting the server … ({work})", flush=True)
    server = FeedServer(size, args.seed, work, gzip=not args.no_gzip)
    results = []
    try:
        opml = work / "feeds.opml"
        opml.write_text(corpus.opml(size, server.port, args.seed), encoding="utf-8")
        for side in sides:
            print(f"{size} feeds: {side} …", flush=True)
            side_dir = work / side
            side_dir.mkdir()
            run = run_liseuse if side == "liseuse" else run_reader
            result = run(server, opml, side_dir, args)
            results.append(result)
            phases = (("first", result.first), ("all-304", result.again), ("search", result.search))
            for name, phase in phases:
                if phase is not None:
                    said = phase.report.get("output", "")
                    print(f"  {side}, {name}: {phase.seconds:.2f} s  {said}", flush=True)
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return results


if __name__ == "__main__":
    sys.exit(main())
