"""How fast the reading pages answer a big reader: 500 feeds in 25 categories, 100,000 entries.

The rows are made as in bench/greader_speed.py (a fresh SQLite file database in a temporary
folder, bulk_create, no refresh). The pages go through Django's test Client in process, so the
whole request is timed (middleware, session, queries, templates). Each call runs --runs times
after one warm-up; p50 and p95 in milliseconds. Pages are made each time (the pages' cache
off); one more row times the main stream served again from it. The sidebar (500 unread counts, grouped by
category: its queries and its HTML) is also timed on its own. With --postgres, the tables are
vacuumed and analysed once loaded, and after each put-back of the mark-read case, as autovacuum
would do on a server (untimed).

    .venv/bin/python bench/ui_speed.py                                   # 500 feeds, 100k entries
    .venv/bin/python bench/ui_speed.py --feeds 50 --entries 10000 --runs 5   # a quick look
    .venv/bin/python bench/ui_speed.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from greader_speed import build
from greader_speed import timed


def measure(runs: int, person_id: int) -> None:
    from django.db import connection
    from django.test import Client

    from liseuse.accounts.models import User
    from liseuse.feeds.models import Category
    from liseuse.feeds.models import Subscription
    from liseuse.ui.pieces import sidebar_boxes
    from liseuse.ui.views.stream import sidebar
    from liseuse.ui.views.stream import url_pattern

    person = User.objects.get(pk=person_id)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(person)
    feed_id = Subscription.objects.filter(user=person).values_list("feed_id", flat=True)[0]
    category_id = Category.objects.filter(user=person).values_list("id", flat=True)[0]

    def get(path: str) -> Callable[[], int]:
        def call() -> int:
            response = client.get(path)
            assert response.status_code == 200, response.content[:300]
            return len(response.content)

        return call

    def kept(path: str) -> Callable[[], int]:
        """The page served again from the pages' cache (ui/pagecache.py), as by default."""
        from django.test import override_settings

        def call() -> int:
            with override_settings(LISEUSE_PAGE_CACHE_SECONDS=120):
                return get(path)()

        return call

    def side() -> int:
        # The sidebar's rows (unread counts, subscriptions, categories…) and its HTML.
        data = sidebar(person)
        return len(sidebar_boxes(data["boxes"], url_pattern("ui:category"), ("main", None)))  # type: ignore[arg-type]

    def mark_10k_read() -> int:
        # The 10,000 oldest unread entries marked read in one statement (as "mark all as read,
        # older than…" does), then put back unread, untimed, for the next run.
        from liseuse.feeds import queries
        from liseuse.feeds.models import EntryState

        unread = EntryState.objects.filter(user=person, is_read=False)
        ids = list(unread.order_by("sort_date").values_list("entry_id", flat=True)[:10_000])
        began = time.perf_counter()
        changed = queries.set_read(person, ids, True)
        marked_ms.append((time.perf_counter() - began) * 1000)
        queries.set_read(person, ids, False)
        if connection.vendor == "postgresql":
            # Each run leaves 20,000 dead row versions in the table and its indexes, which
            # autovacuum clears in real use; without this, run n measures n runs of bloat.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM feeds_entrystate")
        return changed

    marked_ms: list[float] = []
    cases: list[tuple[str, Callable[[], int]]] = [
        ("main stream, normal view, 50 unread", get("/")),
        ("main stream, normal view, 50 of all", get("/?state=all")),
        ("main stream, oldest first, 50 unread", get("/?order=oldest")),
        ("main stream, reader view, 25 unread", get("/?view=reader")),
        ("global view", get("/?view=global")),
        ("a category, 50 unread", get(f"/c/{category_id}/")),
        ("a feed, 50 of all", get(f"/f/{feed_id}/?state=all")),
        ("favourites", get("/starred/")),
        ("unread.json (the banner's poll)", get("/unread.json?after=1")),
        ("main stream, kept page served again", kept("/")),
        ("sidebar alone (500 unread counts)", side),
        ("mark 10,000 entries read (with the put-back)", mark_10k_read),
    ]
    print(f"Python {platform.python_version()}, {runs} runs per call after one warm-up")
    print(f"{'page':<42} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>10}")
    for name, call in cases:
        p50, p95, size = timed(runs, call)
        print(f"{name:<42} {p50:>8.1f} {p95:>8.1f} {size:>10}")
    if marked_ms:
        marked_ms.sort()
        print(f"{'mark 10,000 entries read (alone)':<42} {marked_ms[len(marked_ms) // 2]:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--unread", type=float, default=0.3, help="share of entries unread")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="measure on PostgreSQL: a server URL such as postgresql://postgres@127.0.0.1:5432/"
        "postgres; a throw-away database is created on it and dropped after",
    )
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="liseuse-ui-bench-")
    os.environ["LISEUSE_DATA_DIR"] = folder
    os.environ.pop("LISEUSE_DATABASE_URL", None)  # SQLite, whatever the shell says
    scratch = None
    if args.postgres:
        import psycopg

        scratch = f"liseuse_ui_bench_{os.getpid()}"
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {scratch}")
        os.environ["LISEUSE_DATABASE_URL"] = args.postgres.rsplit("/", 1)[0] + "/" + scratch
    # Pages made each time: what #4's targets are about. A kept page is timed apart below.
    os.environ["LISEUSE_PAGE_CACHE_SECONDS"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "liseuse.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    try:
        began = time.perf_counter()
        person_id = build(args.feeds, args.entries, args.unread, args.seed)
        print(
            f"{args.feeds} feeds, {args.entries} entries, {args.unread:.0%} unread: built in "
            f"{time.perf_counter() - began:.1f} s"
        )
        if scratch:
            from django.db import connection

            # What autovacuum does to freshly loaded tables within a minute: statistics, and
            # the visibility map that lets counts read the indexes alone.
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        measure(args.runs, person_id)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if scratch:
            from django.db import connections

            connections.close_all()
            import psycopg

            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {scratch}")


if __name__ == "__main__":
    main()
