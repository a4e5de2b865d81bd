"""How fast the Google Reader API answers a big reader: 500 feeds, 100,000 entries, one person.

A fresh SQLite file database in a temporary folder (migrations, then rows made with
bulk_create: no refresh involved); the calls go through Django's test Client in process, so the
whole request is timed (middleware, token check, queries, JSON). Each call runs --runs times
after one warm-up; p50 and p95 in milliseconds. Targets from the issue: stream/contents n=1000
≤ 150 ms, stream/items/ids of all unread ≤ 100 ms (every page, followed by continuation),
unread-count ≤ 20 ms.

    .venv/bin/python bench/greader_speed.py                    # 500 feeds, 100k entries
    .venv/bin/python bench/greader_speed.py --feeds 50 --entries 10000 --runs 5   # a quick look

Results are in docs/api-bench.md (## Google Reader).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

PASSWORD = "greader-bench"  # only ever on a throw-away database
READING_LIST = "user/-/state/com.google/reading-list"
READ = "user/-/state/com.google/read"


def build(feeds: int, entries: int, unread: float, seed: int) -> int:
    """Rows for one person, in batches; returns the person's id."""
    from django.db import connection
    from django.db import transaction

    from liseuse.accounts.models import User
    from liseuse.feeds.models import Category
    from liseuse.feeds.models import Entry
    from liseuse.feeds.models import EntryState
    from liseuse.feeds.models import Feed
    from liseuse.feeds.models import Label
    from liseuse.feeds.models import Subscription

    rng = random.Random(seed)
    person = User.objects.create_user("reader", password="unused")
    person.set_api_password(PASSWORD)
    person.save()
    start = datetime(2025, 6, 1, tzinfo=UTC)
    with transaction.atomic():
        folders = Category.objects.bulk_create(
            Category(user=person, name=f"Folder {n}") for n in range(25)
        )
        all_feeds = Feed.objects.bulk_create(
            Feed(
                url=f"https://f{n}.example/rss",
                title=f"Feed {n}",
                site_url=f"https://f{n}.example/",
            )
            for n in range(feeds)
        )
        Subscription.objects.bulk_create(
            Subscription(user=person, feed=feed, category=folders[n % len(folders)])
            for n, feed in enumerate(all_feeds)
        )
        labels = Label.objects.bulk_create(Label(user=person, name=f"Label {n}") for n in range(5))
    content = "<p>" + "Des mots, encore des mots, toujours des mots. " * 20 + "</p>"
    through = EntryState.labels.through
    for first in range(0, entries, 10_000):
        with transaction.atomic():
            made = Entry.objects.bulk_create(
                Entry(
                    feed=all_feeds[rng.randrange(feeds)],
                    identity=f"id-{n}",
                    content_hash="-",
                    guid=f"urn:bench:{n}",
                    url=f"https://example.org/post/{n}",
                    title=f"Post {n}",
                    author="Quelqu'un",
                    content=content,
                    published=start + timedelta(minutes=n, seconds=rng.randint(-600, 0)),
                )
                for n in range(first, min(first + 10_000, entries))
            )
            states = EntryState.objects.bulk_create(
                EntryState(
                    user=person,
                    entry_id=entry.pk,
                    feed_id=entry.feed_id,
                    sort_date=entry.published,
                    is_read=rng.random() >= unread,
                    is_starred=rng.random() < 0.01,
                )
                for entry in made
            )
            through.objects.bulk_create(
                through(entrystate_id=state.pk, label_id=rng.choice(labels).pk)
                for state in states
                if rng.random() < 0.01
            )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return person.pk


def timed(runs: int, call: Callable[[], int]) -> tuple[float, float, int]:
    size = call()  # warm-up
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return (
        statistics.median(times),
        times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
        size,
    )


def measure(runs: int) -> None:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    login = client.post("/accounts/ClientLogin", {"Email": "reader", "Passwd": PASSWORD})
    token = login.content.decode().splitlines()[-1].removeprefix("Auth=")
    headers = {"Authorization": f"GoogleLogin auth={token}"}

    def get(path: str, **params: str | int) -> int:
        response = client.get(f"/api/greader.php/reader/api/0/{path}", params, headers=headers)
        assert response.status_code == 200, response.content[:300]
        return len(response.content)

    def all_unread_ids() -> int:
        total, c = 0, ""
        while True:
            extra: dict[str, str | int] = {"c": c} if c else {}
            response = client.get(
                "/api/greader.php/reader/api/0/stream/items/ids",
                {"s": READING_LIST, "xt": READ, "n": 100_000, **extra},
                headers=headers,
            )
            body = response.json()
            total += len(response.content)
            c = body.get("continuation", "")
            if not c:
                return total

    cases: list[tuple[str, Callable[[], int]]] = [
        ("unread-count", lambda: get("unread-count", output="json")),
        ("stream/contents n=1000 (all)", lambda: get(f"stream/contents/{READING_LIST}", n=1000)),
        (
            "stream/contents n=1000 (unread)",
            lambda: get(f"stream/contents/{READING_LIST}", n=1000, xt=READ),
        ),
        ("stream/contents n=20 (a folder)", lambda: get("stream/contents/user/-/label/Folder 3")),
        ("stream/items/ids, all unread (pages)", all_unread_ids),
        (
            "stream/items/ids n=1000 (starred)",
            lambda: get("stream/items/ids", s="user/-/state/com.google/starred", n=1000),
        ),
        ("subscription/list", lambda: get("subscription/list", output="json")),
        ("tag/list", lambda: get("tag/list", output="json")),
    ]
    print(f"Python {platform.python_version()}, {runs} runs per call after one warm-up")
    print(f"{'call':<40} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>10}")
    for name, call in cases:
        p50, p95, size = timed(runs, call)
        print(f"{name:<40} {p50:>8.1f} {p95:>8.1f} {size:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--unread", type=float, default=0.3, help="share of entries unread")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the database folder")
    parser.add_argument("--reuse", metavar="FOLDER", help="time a folder kept by --keep again")
    args = parser.parse_args()

    folder = args.reuse or tempfile.mkdtemp(prefix="liseuse-greader-bench-")
    os.environ["LISEUSE_DATA_DIR"] = folder
    os.environ.pop("LISEUSE_DATABASE_URL", None)  # SQLite, whatever the shell says
    os.environ["DJANGO_SETTINGS_MODULE"] = "liseuse.settings"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    keep = args.keep or args.reuse
    if args.reuse:
        print(f"reusing {folder}")
    else:
        began = time.perf_counter()
        build(args.feeds, args.entries, args.unread, args.seed)
        print(
            f"{args.feeds} feeds, {args.entries} entries, {args.unread:.0%} unread: built in "
            f"{time.perf_counter() - began:.1f} s in {folder}"
            + ("" if keep else " (removed at the end)")
        )
    try:
        measure(args.runs)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
