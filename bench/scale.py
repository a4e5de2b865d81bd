"""The scale-out benchmark: several refresh workers on one PostgreSQL, over the bench corpus.

For one corpus size it creates a throw-away PostgreSQL database, starts the local feed server
(bench/feedserver.py, every feed rendered before timing, one log line per request), subscribes
one person to every feed (not timed), optionally makes --readers more people follow every feed
too (one SQL statement), then:

1. first cycle: W `liseuse refresh` processes at once, every feed answers 200 with its body;
2. second cycle: every feed made due again, W processes at once, every feed answers 304.

Each cycle is timed from the outside, wall clock, start-up included. From the feed server's own
log it counts, per cycle, the feeds fetched and the feeds fetched more than once (the leases'
promise: zero). It reads the sizes from the database (entries, states, database size) and one
scrape of /metrics' figures through the ops collector.

    .venv/bin/python bench/scale.py --feeds 1000 --workers 4
    .venv/bin/python bench/scale.py --feeds 2000 --workers 1,2,4 --readers 100

Results are also written as JSON to bench/out/ (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # bench/ is a folder of scripts, not a package

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
SERVER = os.environ.get("LISEUSE_SCALE_PG", "postgresql://postgres@127.0.0.1:5432")
# Only ever used on a throw-away database.
PASSWORD = "Scale-bench-2024-liseuse"


def liseuse_env(database: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a liseuse process on this throw-away database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISEUSE_")}
    env.update(
        DJANGO_SETTINGS_MODULE="liseuse.settings",
        LISEUSE_DATA_DIR=str(data_dir),
        LISEUSE_DATABASE_URL=f"{SERVER}/{database}",
        LISEUSE_ALLOW_PRIVATE_NETWORKS="1",
        LISEUSE_SECRET_KEY="scale-bench-" + "k" * 40,
        LISEUSE_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def run_python(env: dict[str, str], argv: list[str], what: str, stdin: str = "") -> str:
    """Run Python with `argv` in the project's folder; its standard output, or stop with the
    end of its errors, named by `what`."""
    done = subprocess.run(
        [sys.executable, *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{what} failed: {done.stderr.strip()[-3000:]}")
    return done.stdout


def _liseuse(env: dict[str, str], *args: str, stdin: str = "") -> str:
    return run_python(env, ["-m", "liseuse.cli", *args], f"liseuse {' '.join(args)}", stdin)


# Run with Django set up: the accounts are made by the model, whatever columns it has today.
_MAKE_READERS = """
import sys, django
django.setup()
from liseuse.accounts.models import User
User.objects.bulk_create(User(username=f"reader{n}") for n in range(int(sys.argv[1])))
"""


def _flush_log(port: int) -> None:
    # The server buffers its log and flushes it when asked for its counts.
    with urllib.request.urlopen(f"http://{corpus.ADMIN_HOST}:{port}/_admin/stats") as answer:
        answer.read()


def run_refresh_workers(env: dict[str, str], workers: int) -> list[str]:
    """`workers` `liseuse refresh` processes started at once; what each printed, once all are
    done (a failed one stops the benchmark with its error)."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "liseuse.cli", "refresh"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"a worker failed: {err.strip()[-2000:]}")
        outputs.append(out)
    return outputs


def refreshed(output: str) -> int:
    """How many feeds a `liseuse refresh` says it refreshed."""
    return int(output.rsplit("refreshed ", 1)[1].split()[0])


def _cycle(env: dict[str, str], workers: int, log: Path, port: int) -> dict[str, Any]:
    _flush_log(port)
    before = log.read_text().count("\n") if log.exists() else 0
    started = time.monotonic()
    outputs = run_refresh_workers(env, workers)
    seconds = time.monotonic() - started
    shares = [refreshed(out) for out in outputs]
    indexing = []
    for out in outputs:
        # `liseuse refresh` indexes new entries for search after its pass (feeds/search.py):
        # inside the cycle's wall clock, but after the entries were readable.
        indexed = re.search(r"indexed (\d+) new entries for search in ([\d.]+) s", out)
        if indexed:
            indexing.append((int(indexed.group(1)), float(indexed.group(2))))
    _flush_log(port)
    lines = log.read_text().splitlines()[before:]
    per_feed = Counter(line.split("\t")[2] for line in lines)
    statuses = Counter(line.split("\t")[3] for line in lines)
    return {
        "workers": workers,
        "seconds": round(seconds, 2),
        "feeds_per_second": round(sum(shares) / seconds, 1),
        "per_worker": shares,
        "indexed_for_search": sum(n for n, _ in indexing),
        "longest_indexing_seconds": max((t for _, t in indexing), default=0.0),
        "feeds_fetched": len(per_feed),
        "feeds_fetched_twice_or_more": sum(1 for n in per_feed.values() if n > 1),
        "statuses": dict(statuses),
    }


# Diagnosis only (--index-in-insert): PostgreSQL's full-text document computed inside every
# insert again, as before migration 0006 deferred it, to compare the two on the same machine.
INDEX_IN_INSERT = [
    """CREATE OR REPLACE FUNCTION liseuse_entry_search_trigger() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE doc tsvector;
        BEGIN
            doc := liseuse_entry_document(
                NEW.title, NEW.content, NEW.author, NEW.categories::jsonb);
            -- The two columns of migration 0008.
            NEW.liseuse_search := ts_filter(doc, '{a,b,c}');
            NEW.liseuse_text := ts_filter(doc, '{a,d}');
            RETURN NEW;
        END
    $$""",
    "DROP TRIGGER liseuse_entry_search ON feeds_entry",
    """CREATE TRIGGER liseuse_entry_search BEFORE INSERT OR UPDATE OF
        title, content, author, categories ON feeds_entry
        FOR EACH ROW EXECUTE FUNCTION liseuse_entry_search_trigger()""",
]


def run(
    feeds: int, workers: int, readers: int, batch: int, index_in_insert: bool = False
) -> dict[str, Any]:
    name = f"liseuse_bench_scale_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(f"{SERVER}/postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    work = Path(tempfile.mkdtemp(prefix="liseuse-scale-"))
    log = work / "requests.tsv"
    server = subprocess.Popen(
        [
            *(sys.executable, str(BENCH / "feedserver.py")),
            *("--feeds", str(feeds), "--warm", "--log", str(log)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        ready = json.loads(server.stdout.readline())
        port = int(ready["port"])
        env = liseuse_env(name, work, LISEUSE_REFRESH_BATCH=str(batch))
        _liseuse(env, "user", "add", "bench", stdin=PASSWORD + "\n")
        opml = work / "feeds.opml"
        opml.write_text(corpus.opml(feeds, port), encoding="utf-8")
        _liseuse(env, "opml", "import", str(opml), "--user", "bench")
        with psycopg.connect(f"{SERVER}/{name}", autocommit=True) as db:
            if readers:
                subprocess.run(
                    [sys.executable, "-c", _MAKE_READERS, str(readers)],
                    env=env,
                    cwd=ROOT,
                    check=True,
                )
                db.execute(
                    "INSERT INTO feeds_subscription (user_id, feed_id, title, visibility,"
                    " refresh_floor_minutes, created_at) SELECT u.id, f.id, '', 'main', 0, now()"
                    " FROM accounts_user u CROSS JOIN feeds_feed f WHERE u.username LIKE 'reader%%'"
                )
            if index_in_insert:
                for statement in INDEX_IN_INSERT:
                    db.execute(statement)
            first = _cycle(env, workers, log, port)
            db.execute("UPDATE feeds_feed SET next_fetch_at = now()")
            second = _cycle(env, workers, log, port)

            def value(sql: str) -> Any:
                row = db.execute(sql).fetchone()
                assert row is not None
                return row[0]

            sizes = {
                "entries": value("SELECT count(*) FROM feeds_entry"),
                "entry_states": value("SELECT count(*) FROM feeds_entrystate"),
                # After the cycles: every entry has its full-text document (expected 0).
                "entries_not_indexed": value(
                    "SELECT count(*) FROM feeds_entry WHERE liseuse_search IS NULL"
                ),
                "database_mb": round(value(f"SELECT pg_database_size('{name}')") / 2**20, 1),
            }
        return {
            "feeds": feeds,
            "readers": readers + 1,
            "batch": batch,
            "index_in_insert": index_in_insert,
            "first_cycle": first,
            "second_cycle_304": second,
            **sizes,
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--workers", default="4", help="comma-separated, e.g. 1,2,4")
    parser.add_argument("--readers", type=int, default=0, help="more people following all")
    parser.add_argument("--batch", type=int, default=100, help="LISEUSE_REFRESH_BATCH")
    parser.add_argument(
        "--index-in-insert",
        action="store_true",
        help="diagnosis: compute PostgreSQL's full-text document in the insert (before 0006)",
    )
    args = parser.parse_args(argv)
    results = []
    for workers in (int(w) for w in args.workers.split(",")):
        result = run(args.feeds, workers, args.readers, args.batch, args.index_in_insert)
        results.append(result)
        print(json.dumps(result), flush=True)
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"scale-{stamp}.json").write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
