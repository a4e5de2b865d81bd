"""Issue #7's figures: 10,000 feeds, 1,000,000 entries and 100 people on one PostgreSQL.

The dataset is built straight into a throw-away database, not by refreshing (that would take
hours on this machine): Django's migrations make the schema, then bulk SQL fills it.

- feeds: the refresh corpus' URLs (bench/corpus.py: 20 feeds per loopback address), each with
  the ETag and Last-Modified the feed server answers 304 to, a site icon already looked for,
  due in a day;
- entries: 100 per feed, one every 3.65 days with a phase per feed (a year), titles, authors
  and tags from the corpus, content from a pool of 4,000 corpus entries run through liseuse's
  own sanitizer and kept when 1 to 4 KB; every entry's full-text document is filled in (as
  `search.index_pending` leaves it), computed once per pooled body and joined to the entry's
  own title, author and tag exactly as `liseuse_entry_document` does (checked on a sample);
- people: 100 accounts with a password and an API password; person k follows between
  --follow-max (k = 0) and --follow-min (k = 99) feeds, chosen by a permutation per person, so
  that their sets overlap the way a popular instance's do, in 10 folders;
- entry states: one per (follower, entry), as the store makes them when an entry arrives, in
  the entries' order, ~70 % read (a hash per row), 1 % starred.

The indexes and constraints of the two big tables are dropped during the load and made again
after it (from their own definitions, read from the catalogue), then VACUUM ANALYZE.

Then, against `liseuse serve --no-worker` (gunicorn, LISEUSE_WEB_WORKERS processes × 4
threads):

1. the main stream page under --connections concurrent connections (wrk, a Lua script rotating
   the 100 people's session and CSRF cookies and asking for gzip, as browsers do), p50 / p99
   and requests per second: made every time (the
   page cache off), then as liseuse runs by default (pages kept while nothing changed for the
   person; --kept-runs runs in a row, through the kept pages' first expiry), then the same
   while --changes-per-second people's pages are made afresh;
2. Google Reader stream/contents n=1000 (ClientLogin, then --runs calls), p50 / p95;
3. marking 100,000 entries read through `queries.mark_stream_read` (one person's main stream);
4. the size on disk: entries (with TOAST), states, the full-text index, the whole database;
5. `search.index_pending` on 20,000 queued entries (the deferred indexer's rate);
6. a refresh cycle of every feed with W `liseuse refresh` processes at once (--workers), each
   feed answering 304 after --latency-ms (network-bound work), timed from the outside and
   counted from the feed server's side.

    .venv/bin/python bench/scale_data.py                     # the whole thing, then drop
    .venv/bin/python bench/scale_data.py --feeds 200 --people 10 --follow-min 20 \
        --follow-max 100 --duration 5 --workers 1,2         # a quick look

Results are printed and written as JSON to bench/out/ (git-ignored); docs/benchmarks-scale.md
says what they mean.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # bench/ is a folder of scripts, not a package
import scale

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
SERVER = scale.SERVER
# Only ever used on a throw-away database.
PASSWORD = "Scale-data-bench-2024"
API_PASSWORD = "scale-data-api-2024"
BODIES = 4000
READING_LIST = "user/-/state/com.google/reading-list"
# The dataset's "now": entries go back a year from here.
T0 = "2026-11-01 12:00:00+00"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _django(env: dict[str, str], code: str, *args: str) -> str:
    """Run `code` in a fresh Python with Django set up; its standard output."""
    return scale.run_python(
        env, ["-c", "import django\ndjango.setup()\n" + code, *args], "a Django step"
    )


# --- building -----------------------------------------------------------------------------------

_MIGRATE = """
from django.core.management import call_command
call_command("migrate", verbosity=0)
"""

# One real hash of each password, copied to every account (no need to hash 100 times).
_PEOPLE = """
import sys
from liseuse.accounts.models import User
count = int(sys.argv[1])
first = User.objects.create_user("person000", password=sys.argv[2])
first.set_api_password(sys.argv[3])
first.save()
User.objects.bulk_create(
    User(username=f"person{n:03d}", password=first.password, api_password=first.api_password)
    for n in range(1, count)
)
"""


def _bodies(seed: int) -> list[tuple[int, str, str, str, str]]:
    """(n, sanitized HTML of 1 to 4 KB, title, author, tag) from the refresh corpus."""
    sys.path.insert(0, str(ROOT))
    from liseuse.pipeline.sanitize import sanitize_html

    out: list[tuple[int, str, str, str, str]] = []
    index = 0
    while len(out) < BODIES:
        feed = corpus.build_feed(seed, index, f"http://{corpus.feed_host(index, 10_000)}:1")
        for entry in feed.entries:
            html = sanitize_html(entry.content_html, base_url=entry.link)
            if 1024 <= len(html.encode()) <= 4096 and len(out) < BODIES:
                title = entry.title.rsplit(" (", 1)[0]
                out.append((len(out), html, title, entry.author, entry.category))
        index += 1
    return out


@contextmanager
def _without_indexes(db: psycopg.Connection[Any], table: str) -> Iterator[None]:
    """Drop a table's secondary indexes and its constraints but the primary key, then make them
    again from their own definitions: a bulk load is several times faster without them."""
    constraints = db.execute(
        "SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC",
        [table],
    ).fetchall()
    names = {row[0] for row in constraints}
    indexes = [
        (name, definition)
        for name, definition in db.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname <> %s",
            [table, f"{table}_pkey"],
        ).fetchall()
        if name not in names
    ]
    for name, _, _ in constraints:
        db.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        db.execute(f'DROP INDEX "{name}"')
    yield
    started = time.monotonic()
    for _, definition in indexes:
        db.execute(definition)
    for name, definition, _ in constraints:  # unique ones first, then foreign keys
        db.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    log(
        f"  {table}: {len(indexes)} indexes, {len(constraints)} constraints in "
        f"{time.monotonic() - started:.0f} s"
    )


def build(args: argparse.Namespace, name: str, env: dict[str, str]) -> dict[str, Any]:
    timings: dict[str, float] = {}

    def step(label: str, started: float) -> None:
        timings[label] = round(time.monotonic() - started, 1)
        log(f"{label}: {timings[label]} s (load {load_average()})")

    started = time.monotonic()
    _django(env, _MIGRATE)
    _django(env, _PEOPLE, str(args.people), PASSWORD, API_PASSWORD)
    step("schema and people", started)

    with psycopg.connect(f"{SERVER}/{name}", autocommit=True) as db:
        for setting in (
            "synchronous_commit = off",
            "maintenance_work_mem = '1GB'",
            "work_mem = '256MB'",
            "max_parallel_maintenance_workers = 2",
        ):
            db.execute(f"SET {setting}")

        started = time.monotonic()
        db.execute(
            "CREATE UNLOGGED TABLE bench_body (n int PRIMARY KEY, html text, title text, "
            "author text, tag text, doc tsvector)"
        )
        with db.cursor().copy("COPY bench_body (n, html, title, author, tag) FROM STDIN") as copy:
            for body in _bodies(args.seed):
                copy.write_row(body)
        # The content's share of `liseuse_entry_document` (weight D), once per body.
        db.execute("UPDATE bench_body SET doc = liseuse_entry_document('', html, '', '[]')")
        step("body pool", started)

        started = time.monotonic()
        with db.cursor().copy(
            "COPY feeds_feed (url, host, title, site_url, description, hub_url, icon_url, "
            "favicon_checked_at, etag, last_modified, next_fetch_at, last_fetched_at, "
            "last_success_at, last_error, error_count, disabled, fetch_interval_minutes, "
            "lease_owner, created_at, listed_identities) FROM STDIN"
        ) as copy:
            for index in range(args.feeds):
                # Port 1 (closed) until the refresh step points the feeds at its feed server.
                url = corpus.feed_url(index, args.feeds, 1, args.seed)
                etag, last_modified = corpus.feed_validators(args.seed, index)
                site = f"http://{corpus.feed_host(index, args.feeds)}:1/site/{index}/"
                never = "2099-01-01 00:00:00+00"
                host = corpus.feed_host(index, args.feeds)
                row = (url, host, f"Flux {index}", site, "", "", "", T0, etag, last_modified, never)
                copy.write_row((*row, T0, T0, "", 0, False, 60, "", T0, "[]"))
        db.execute(
            "INSERT INTO feeds_category (name, position, user_id) "
            "SELECT 'Dossier ' || n, n, u.id FROM accounts_user u, generate_series(0, 9) n"
        )
        # Person k follows `follow` feeds: a permutation of the feed ids per person (7919 is
        # prime to any count of feeds that is not its multiple), the first `follow` of it.
        db.execute(
            """
            WITH people AS (
                SELECT id, row_number() OVER (ORDER BY username) - 1 AS k,
                       count(*) OVER () AS total FROM accounts_user
            ), ranked AS (
                SELECT id, k, %(max)s - round((%(max)s - %(min)s) * k
                       / greatest(total - 1, 1)) AS follow FROM people
            ), feeds AS (
                SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM feeds_feed
            )
            INSERT INTO feeds_subscription (title, visibility, refresh_floor_minutes,
                created_at, category_id, feed_id, user_id)
            SELECT '', 'main', 0, %(t0)s,
                (SELECT c.id FROM feeds_category c WHERE c.user_id = p.id
                 AND c.position = f.i %% 10), f.id, p.id
            FROM ranked p JOIN feeds f ON (f.i * 7919 + p.k * 104729) %% %(feeds)s < p.follow
            """,
            {"max": args.follow_max, "min": args.follow_min, "t0": T0, "feeds": args.feeds},
        )
        step("feeds, folders, subscriptions", started)

        started = time.monotonic()
        with _without_indexes(db, "feeds_entry"):
            # In date order, as entries arrive: ids follow time, as in a real instance.
            db.execute(
                """
                INSERT INTO feeds_entry (identity, content_hash, guid, url, title, author,
                    content, summary, categories, enclosures, published, updated, first_seen,
                    feed_id, liseuse_search, liseuse_text)
                SELECT md5(f.id || '/' || k), md5('c' || f.id || '/' || k),
                    'tag:bench.liseuse,2024:' || f.id || '/' || k,
                    f.site_url || 'article-' || k || '.html',
                    b.title || ' (' || k || ')', b.author, b.html, '',
                    jsonb_build_array(b.tag), '[]', p.published, NULL, p.published, f.id,
                    -- The two parts of the whole document, as search.index_pending fills them
                    -- (migration 0008): title, author, tags; title and text.
                    ts_filter(d.doc, '{a,b,c}'), ts_filter(d.doc, '{a,d}')
                FROM feeds_feed f
                CROSS JOIN generate_series(1, %(per_feed)s) k
                CROSS JOIN LATERAL (SELECT %(t0)s::timestamptz - make_interval(secs =>
                    (k - 1) * 315360 + (f.id * 7919) %% 315360 + (f.id * k * 104729) %% 3600)
                    AS published) p
                JOIN bench_body b ON b.n = ((f.id * 1000 + k) * 7919) %% %(bodies)s
                CROSS JOIN LATERAL (SELECT
                    setweight(to_tsvector('simple',
                        liseuse_unaccent(b.title || ' (' || k || ')')), 'A')
                    || setweight(to_tsvector('simple', liseuse_unaccent(b.author)), 'B')
                    || setweight(to_tsvector('simple', liseuse_unaccent(b.tag)), 'C')
                    || b.doc AS doc) d
                ORDER BY p.published, f.id
                """,
                {"per_feed": args.entries_per_feed, "t0": T0, "bodies": BODIES},
            )
        step("entries", started)
        mismatched = db.execute(
            "SELECT count(*) FROM (SELECT *, liseuse_entry_document(title, content, author, "
            "categories) AS doc FROM feeds_entry ORDER BY id LIMIT 2000) e "
            "WHERE liseuse_search IS DISTINCT FROM ts_filter(doc, '{a,b,c}') "
            "OR liseuse_text IS DISTINCT FROM ts_filter(doc, '{a,d}')"
        ).fetchone()
        if mismatched is None or mismatched[0] != 0:
            raise SystemExit(f"full-text documents differ from the function's: {mismatched}")

        started = time.monotonic()
        with _without_indexes(db, "feeds_entrystate"):
            db.execute(
                """
                INSERT INTO feeds_entrystate (sort_date, is_read, is_starred, read_at,
                    starred_at, entry_id, user_id, feed_id)
                SELECT e.published, h.r < %(read)s, h.s = 0,
                    CASE WHEN h.r < %(read)s THEN e.published + interval '1 day' END,
                    CASE WHEN h.s = 0 THEN e.published + interval '2 hours' END,
                    e.id, s.user_id, e.feed_id
                FROM feeds_entry e
                JOIN feeds_subscription s ON s.feed_id = e.feed_id
                CROSS JOIN LATERAL (SELECT (e.id * 2654435761 + s.user_id * 40503) %% 1000
                    AS r, (e.id * 40503 + s.user_id * 7919) %% 100 AS s) h
                ORDER BY e.id, s.user_id
                """,
                {"read": round(args.read * 1000)},
            )
        step("entry states", started)
        db.execute("DROP TABLE bench_body")
        started = time.monotonic()
        db.execute("VACUUM (ANALYZE)")
        step("vacuum analyze", started)
    return timings


# --- measuring ----------------------------------------------------------------------------------


def sizes(db: psycopg.Connection[Any], name: str) -> dict[str, Any]:
    def value(sql: str) -> Any:
        row = db.execute(sql).fetchone()
        assert row is not None
        return row[0]

    mb = 2**20
    entries = value("SELECT count(*) FROM feeds_entry")
    states = value("SELECT count(*) FROM feeds_entrystate")
    entry_bytes = value("SELECT pg_total_relation_size('feeds_entry')")
    search_bytes = value("SELECT pg_relation_size('liseuse_entry_search_idx')")
    database_bytes = value(f"SELECT pg_database_size('{name}')")
    return {
        "feeds": value("SELECT count(*) FROM feeds_feed"),
        "entries": entries,
        "people": value("SELECT count(*) FROM accounts_user"),
        "subscriptions": value("SELECT count(*) FROM feeds_subscription"),
        "entry_states": states,
        "unread_states": value("SELECT count(*) FROM feeds_entrystate WHERE NOT is_read"),
        "entries_heap_mb": round(value("SELECT pg_relation_size('feeds_entry')") / mb),
        "entries_toast_mb": round(
            value(
                "SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 'feeds_entry'"
            )
            / mb
        ),
        "entries_total_mb": round(entry_bytes / mb),
        "full_text_index_mb": round(search_bytes / mb),
        "entries_indexes_mb": round(value("SELECT pg_indexes_size('feeds_entry')") / mb),
        "states_total_mb": round(value("SELECT pg_total_relation_size('feeds_entrystate')") / mb),
        "states_indexes_mb": round(value("SELECT pg_indexes_size('feeds_entrystate')") / mb),
        "database_mb": round(database_bytes / mb),
        "entries_total_mb_per_million_entries": round(entry_bytes / mb / entries * 1e6),
        "database_mb_per_million_entries": round(database_bytes / mb / entries * 1e6),
    }


_SESSIONS = """
import json
from django.conf import settings
from django.test import Client
from liseuse.accounts.models import User
cookies = []
for user in User.objects.order_by("username"):
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    # A browser has the CSRF cookie from its first page on (the login page sets it).
    assert client.get("/manage/settings/").status_code == 200
    jar = client.cookies
    session, csrf = settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME
    cookies.append(f"{session}={jar[session].value}; {csrf}={jar[csrf].value}")
print(json.dumps(cookies))
"""

_WRK_SCRIPT = """
local cookies = {}
for line in io.lines("%s") do cookies[#cookies + 1] = line end
local n = math.random(#cookies)
request = function()
  n = n %% #cookies + 1
  return wrk.format("GET", "/", {["Cookie"] = cookies[n], ["Accept-Encoding"] = "gzip, deflate, br"})
end
"""


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    assert match, value
    factor = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[match.group(2)]
    return round(float(match.group(1)) * factor, 1)


def wrk(
    base: str, cookies: list[str], work: Path, connections: int, seconds: int
) -> dict[str, Any]:
    cookie_file = work / "cookies.txt"
    cookie_file.write_text("\n".join(cookies) + "\n")
    script = work / "stream.lua"
    script.write_text(_WRK_SCRIPT % cookie_file)
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "30s"]
    command += ["-s", str(script), base + "/"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    percentiles = {
        f"p{m.group(1)}_ms": _ms(m.group(2))
        for m in re.finditer(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", out, re.MULTILINE)
    }
    requests = re.search(r"(\d+) requests in", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)$", out, re.MULTILINE)
    return {
        "connections": connections,
        "seconds": seconds,
        "requests": int(requests.group(1)) if requests else 0,
        "requests_per_second": float(rate.group(1)) if rate else 0.0,
        "non_2xx_3xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
        **percentiles,
        "load_average_after": load_average(),
        "raw": out,
    }


def _get(url: str, headers: dict[str, str]) -> bytes:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as answer:
        body: bytes = answer.read()
        assert answer.status == 200, answer.status
        return body


def greader(base: str, username: str, runs: int) -> dict[str, Any]:
    form = urllib.parse.urlencode({"Email": username, "Passwd": API_PASSWORD}).encode()
    with urllib.request.urlopen(f"{base}/accounts/ClientLogin", form, timeout=60) as answer:
        token = answer.read().decode().splitlines()[-1].removeprefix("Auth=")
    headers = {"Authorization": f"GoogleLogin auth={token}"}
    url = f"{base}/api/greader.php/reader/api/0/stream/contents/{READING_LIST}?n=1000"
    out: dict[str, Any] = {"person": username}
    for label, suffix in (("all", ""), ("unread", "&xt=user/-/state/com.google/read")):
        body = _get(url + suffix, headers)  # warm-up
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            body = _get(url + suffix, headers)
            times.append((time.perf_counter() - began) * 1000)
        times.sort()
        out[label] = {
            "items": len(json.loads(body)["items"]),
            "bytes": len(body),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 1),
            "runs": runs,
        }
    return out


_MARK_READ = """
import json, sys, time
from django.db import connection
from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds.models import EntryState
user = User.objects.get(username=sys.argv[1])
EntryState.objects.filter(user=user).update(is_read=False, read_at=None)  # not timed
with connection.cursor() as cursor:
    cursor.execute("VACUUM ANALYZE feeds_entrystate")
unread = EntryState.objects.filter(user=user, is_read=False).count()
began = time.perf_counter()
marked = queries.mark_stream_read(user, queries.StreamFilter())
seconds = time.perf_counter() - began
# Back to the states as built (not timed), so that the next run sees the same dataset.
with connection.cursor() as cursor:
    cursor.execute(
        "UPDATE feeds_entrystate SET is_read = r < %s, read_at = CASE WHEN r < %s "
        "THEN sort_date + interval '1 day' END FROM (SELECT id AS sid, "
        "(entry_id * 2654435761 + user_id * 40503) %% 1000 AS r FROM feeds_entrystate "
        "WHERE user_id = %s) h WHERE id = h.sid",
        [int(sys.argv[2]), int(sys.argv[2]), user.pk],
    )
print(json.dumps({"person": user.username, "unread_before": unread, "marked": marked,
                  "seconds": round(seconds, 2), "states_per_second": round(marked / seconds)}))
"""

_INDEX_PENDING = """
import json, sys, time
from django.db import connection
from liseuse.feeds import search
with connection.cursor() as cursor:
    cursor.execute("UPDATE feeds_entry SET liseuse_search = NULL, liseuse_text = NULL "
                   "WHERE id IN "
                   "(SELECT id FROM feeds_entry ORDER BY id DESC LIMIT %s)", [int(sys.argv[1])])
began = time.perf_counter()
done = search.index_pending()
seconds = time.perf_counter() - began
print(json.dumps({"indexed": done, "seconds": round(seconds, 2),
                  "entries_per_second": round(done / seconds)}))
"""


@contextmanager
def web_server(env: dict[str, str], port: int) -> Iterator[str]:
    base = f"http://127.0.0.1:{port}"
    OUT.mkdir(exist_ok=True)
    log = OUT / "scale-data-serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "liseuse.cli", "serve", "--no-worker"],
        env={**env, "LISEUSE_LISTEN": f"127.0.0.1:{port}"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    tail = log.read_text(errors="replace")[-2000:]
                    raise SystemExit(f"liseuse serve did not start ({log}):\n{tail}") from None
                time.sleep(0.5)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _admin(port: int, path: str, post: bool = False) -> dict[str, Any]:
    url = f"http://{corpus.ADMIN_HOST}:{port}/_admin/{path}"
    with urllib.request.urlopen(url, data=b"" if post else None, timeout=60) as answer:
        result: dict[str, Any] = json.loads(answer.read())
        return result


def refresh_cycles(
    args: argparse.Namespace, name: str, env: dict[str, str], work: Path
) -> list[dict[str, Any]]:
    port = _free_port()
    refresh_env = dict(env)
    if args.fetch_concurrency:
        refresh_env["LISEUSE_FETCH_CONCURRENCY"] = str(args.fetch_concurrency)
    log(f"feed server: rendering {args.feeds} feeds")
    server = subprocess.Popen(
        [
            *(sys.executable, str(BENCH / "feedserver.py"), "--feeds", str(args.feeds)),
            *("--seed", str(args.seed), "--port", str(port), "--warm"),
            *("--latency-ms", str(args.latency_ms)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    results = []
    try:
        assert server.stdout is not None
        json.loads(server.stdout.readline())
        with psycopg.connect(f"{SERVER}/{name}", autocommit=True) as db:
            db.execute(
                # Whatever port an earlier run left there.
                r"UPDATE feeds_feed SET url = regexp_replace(url, ':\d+/', %s), "
                r"site_url = regexp_replace(site_url, ':\d+/', %s)",
                [f":{port}/", f":{port}/"],
            )
            for workers in args.workers:
                db.execute(
                    "UPDATE feeds_feed SET next_fetch_at = CASE WHEN id IN (SELECT id FROM "
                    "feeds_feed ORDER BY id LIMIT %s) THEN now() - interval '1 minute' "
                    "ELSE now() + interval '1 day' END, "
                    "lease_until = NULL, lease_owner = '', favicon_checked_at = now(), "
                    "error_count = 0, last_error = '', disabled = false",
                    [args.due or args.feeds],
                )
                db.execute("VACUUM ANALYZE feeds_feed")
                _admin(port, "reset", post=True)
                load_before = load_average()
                started = time.monotonic()
                outputs = scale.run_refresh_workers(refresh_env, workers)
                seconds = time.monotonic() - started
                shares = [scale.refreshed(out) for out in outputs]
                stats = _admin(port, "stats")
                result = {
                    "workers": workers,
                    "due": args.due or args.feeds,
                    "fetch_concurrency": args.fetch_concurrency or "100 (default)",
                    "latency_ms": args.latency_ms,
                    "seconds": round(seconds, 1),
                    "feeds_per_second": round(sum(shares) / seconds, 1),
                    "per_worker": shares,
                    "requests": stats["requests"],
                    "status": stats["status"],
                    "feeds_requested": stats["feeds_requested"],
                    "feeds_requested_twice_or_more": stats["feeds_requested_twice_or_more"],
                    "max_in_flight_total": stats["max_in_flight_total"],
                    "max_in_flight_per_host": stats["max_in_flight_per_host"],
                    "load_average_before": load_before,
                    "load_average_after": load_average(),
                }
                log(f"refresh, {workers} worker(s): {json.dumps(result)}")
                results.append(result)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return results


def _main_stream_alone(base: str, cookies: list[str]) -> dict[str, Any]:
    """One request at a time: what a page costs the server on its own (after two rounds not
    kept, so that kept pages are measured kept, whichever web process answers)."""
    for n in range(2 * len(cookies[:20])):
        _get(base + "/", {"Cookie": cookies[n % 20 % len(cookies)]})
    times = []
    for n in range(3 * len(cookies[:20])):
        began = time.perf_counter()
        _get(base + "/", {"Cookie": cookies[n % 20 % len(cookies)]})
        times.append((time.perf_counter() - began) * 1000)
    return {
        "requests": len(times),
        "p50_ms": round(statistics.median(times), 1),
        "max_ms": round(max(times), 1),
    }


@contextmanager
def people_changing(database: str, people: int, per_second: float) -> Iterator[None]:
    """Meanwhile, `per_second` times a second, one person (at random) changes something: their
    change counter goes up as after any of their requests that writes (accounts/changes.py),
    so their next page is made afresh."""
    stop = threading.Event()

    def change() -> None:
        rng = random.Random(7)
        with psycopg.connect(f"{SERVER}/{database}", autocommit=True) as db:
            ids = [row[0] for row in db.execute("SELECT id FROM accounts_user ORDER BY id")]
            while not stop.wait(1 / per_second):
                db.execute(
                    "UPDATE accounts_user SET generation = generation + 1 WHERE id = %s",
                    (rng.choice(ids[:people]),),
                )

    thread = threading.Thread(target=change, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def _cpu_seconds() -> dict[str, float]:
    """CPU seconds so far: the whole machine's (/proc/stat, idle and waiting left out), and
    liseuse's web processes' (gunicorn's workers live as long as the server). PostgreSQL's are
    not read per process: the web node's connections end and start again (CONN_MAX_AGE)."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields) - fields[3] - fields[4]  # less idle and iowait
    web = 0.0
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            if b"liseuse.cli serve" not in (process / "cmdline").read_bytes().replace(b"\0", b" "):
                continue
            stat = (process / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        web += (int(stat[11]) + int(stat[12])) / tick  # utime + stime
    return {"machine": busy / tick, "web": web}


def _main_stream_under_load(
    args: argparse.Namespace, base: str, cookies: list[str], work: Path, name: str, warm: int
) -> dict[str, Any]:
    if warm:
        wrk(base, cookies, work, args.connections, warm)  # warm-up, not kept
    before = _cpu_seconds()
    figures = wrk(base, cookies, work, args.connections, args.duration)
    after = _cpu_seconds()
    # CPU per answer: what bounds the rate on a machine this size.
    for kind, seconds in after.items():
        spent = 1000 * (seconds - before[kind]) / max(1, figures["requests"])
        figures[f"cpu_ms_per_answer_{kind}"] = round(spent, 2)
    shown = {k: v for k, v in figures.items() if k != "raw"}
    log(f"main stream, {name}: {json.dumps(shown)}")
    return figures


def web_figures(
    args: argparse.Namespace, name: str, env: dict[str, str], work: Path, out: dict[str, Any]
) -> None:
    cookies = json.loads(_django(env, _SESSIONS))
    # First with no page kept (LISEUSE_PAGE_CACHE_SECONDS=0): what making a page costs.
    with web_server({**env, "LISEUSE_PAGE_CACHE_SECONDS": "0"}, _free_port()) as base:
        for cookie in cookies:  # every session gets its page, not a redirect to the login
            request = urllib.request.Request(base + "/", headers={"Cookie": cookie})
            with urllib.request.urlopen(request, timeout=60) as answer:
                assert answer.status == 200 and answer.url == base + "/", answer.url
        out["main_stream_alone_uncached"] = _main_stream_alone(base, cookies)
        log(f"main stream, one at a time, made each time: {out['main_stream_alone_uncached']}")
        if shutil.which("wrk"):
            out["main_stream_uncached"] = _main_stream_under_load(
                args, base, cookies, work, "made each time", warm=5
            )
    # Then as liseuse runs by default: pages kept while nothing changed for the person.
    with web_server(env, _free_port()) as base:
        out["main_stream_alone"] = _main_stream_alone(base, cookies)
        log(f"main stream, one at a time, kept pages: {json.dumps(out['main_stream_alone'])}")
        if shutil.which("wrk"):
            # 30 s of warm-up: the web processes make each person's page (35 to 110 ms here;
            # 100 pages, and some again where two requests asked before either had kept it,
            # 150 in a counted run), which takes 10 to 25 s of the two cores.
            out["main_stream"] = _main_stream_under_load(
                args, base, cookies, work, "kept pages, nothing changes", warm=30
            )
            # Then, without a pause, through the kept pages' first expiry: those made in the
            # warm-up stay fresh 60 to 120 s (LISEUSE_PAGE_CACHE_SECONDS), then are made again
            # one by one, as they are all day long.
            runs = [out["main_stream"]]
            for run in range(2, args.kept_runs + 1):
                runs.append(
                    _main_stream_under_load(
                        args, base, cookies, work, f"kept pages, run {run}", warm=0
                    )
                )
            out["main_stream_kept_runs"] = [
                {k: v for k, v in figures.items() if k != "raw"} for figures in runs
            ]
            with people_changing(name, args.people, args.changes_per_second):
                out["main_stream_changing"] = _main_stream_under_load(
                    args, base, cookies, work, f"{args.changes_per_second} changes a second", 5
                )
                out["main_stream_changing"]["changes_per_second"] = args.changes_per_second
        else:
            log("wrk is not installed: main stream under load skipped")
        out["greader"] = [
            greader(base, person, args.runs)
            for person in ("person000", f"person{args.people // 2:03d}")
        ]
        log(f"greader: {json.dumps(out['greader'])}")

    out["mark_read"] = json.loads(
        _django(env, _MARK_READ, "person000", str(round(args.read * 1000)))
    )
    out["mark_read"]["load_average_after"] = load_average()
    log(f"mark read: {json.dumps(out['mark_read'])}")


def measure(args: argparse.Namespace, name: str, env: dict[str, str], work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _django(env, _MIGRATE)  # a database kept from an earlier run may lack newer migrations
    with psycopg.connect(f"{SERVER}/{name}", autocommit=True) as db:
        if args.database:
            # The last run marked 100,000 states read and back and queued entries for
            # indexing: without the visibility map autovacuum would soon restore, the unread
            # counts read the table instead of their index alone (3 ms became 67 ms).
            db.execute("VACUUM ANALYZE")
        out["sizes"] = sizes(db, name)
    log(f"sizes: {json.dumps(out['sizes'])}")

    if not args.skip_web:
        web_figures(args, name, env, work, out)
    out["index_pending"] = json.loads(_django(env, _INDEX_PENDING, "20000"))
    out["index_pending"]["load_average_after"] = load_average()
    log(f"index_pending: {json.dumps(out['index_pending'])}")
    if args.workers:
        out["refresh"] = refresh_cycles(args, name, env, work)
        by_workers = {r["workers"]: r["feeds_per_second"] for r in out["refresh"]}
        if 1 in by_workers and max(by_workers) > 1:
            top = max(by_workers)
            out[f"refresh_throughput_{top}_over_1"] = round(by_workers[top] / by_workers[1], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--entries-per-feed", type=int, default=100)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--follow-min", type=int, default=300)
    parser.add_argument("--follow-max", type=int, default=1000)
    parser.add_argument("--read", type=float, default=0.7, help="share of states read")
    parser.add_argument("--seed", type=int, default=corpus.DEFAULT_SEED)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=int, default=30, help="seconds of wrk")
    parser.add_argument(
        "--kept-runs",
        type=int,
        default=6,
        help="wrk runs in a row on kept pages (6 × 30 s: through their first expiry)",
    )
    parser.add_argument(
        "--changes-per-second",
        type=float,
        default=10.0,
        help="people's changes a second during the last main-stream run (pages made afresh)",
    )
    parser.add_argument("--runs", type=int, default=7, help="calls per Google Reader figure")
    parser.add_argument("--latency-ms", type=float, default=500)
    parser.add_argument("--due", type=int, help="feeds due for the refresh cycles (all)")
    parser.add_argument("--fetch-concurrency", type=int, help="LISEUSE_FETCH_CONCURRENCY")
    parser.add_argument("--skip-web", action="store_true", help="only sizes, indexing, refresh")
    parser.add_argument(
        "--workers",
        type=lambda text: [int(w) for w in text.split(",") if w],
        default=[1, 2, 4],
        help="comma-separated; empty: no refresh cycles",
    )
    parser.add_argument("--database", help="reuse this database (built before, kept)")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args(argv)
    # Stopped from outside: leave through the `finally` blocks (feed server, database).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))

    name = args.database or f"liseuse_bench_scaledata_{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="liseuse-scale-data-"))
    env = scale.liseuse_env(name, work)
    admin = psycopg.connect(f"{SERVER}/postgres", autocommit=True)
    result: dict[str, Any] = {
        "database": name,
        "arguments": {k: v for k, v in vars(args).items() if k not in ("database", "keep")},
        "cpus": os.cpu_count(),
        "load_average_start": load_average(),
        "settings": {
            "LISEUSE_WEB_WORKERS": env.get("LISEUSE_WEB_WORKERS", "2 (default)"),
            "gunicorn threads per worker": 4,
            "LISEUSE_FETCH_CONCURRENCY": env.get("LISEUSE_FETCH_CONCURRENCY", "100 (default)"),
            "LISEUSE_FETCH_PER_HOST": env.get("LISEUSE_FETCH_PER_HOST", "2 (default)"),
            "LISEUSE_REFRESH_BATCH": env.get(
                "LISEUSE_REFRESH_BATCH", "500 (default on PostgreSQL)"
            ),
        },
    }
    try:
        if not args.database:
            admin.execute(f'CREATE DATABASE "{name}"')
            log(f"building {name}")
            result["build_seconds"] = build(args, name, env)
        if not args.build_only:
            result.update(measure(args, name, env, work))
    finally:
        if not args.keep:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        shutil.rmtree(work, ignore_errors=True)
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = OUT / f"scale-data-{stamp}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    printable = {k: v for k, v in result.items() if k != "main_stream"}
    print(json.dumps(printable, indent=1))
    log(f"written to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
