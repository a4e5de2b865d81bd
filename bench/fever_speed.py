"""How fast the Fever API answers a big reader: 500 feeds, 100,000 entries, one person.

Builds a fresh SQLite file database in a temporary folder (migrations, then bulk-created rows:
no refresh involved), then times Fever calls in-process with Django's test Client, the whole
request included (middleware, auth, queries, JSON). Each call runs --runs times after one warm-up;
p50 and p95 are printed in milliseconds. The issue's target: an `items` page in 20 ms or less.

    .venv/bin/python bench/fever_speed.py                       # 500 feeds, 100k entries
    .venv/bin/python bench/fever_speed.py --feeds 50 --entries 10000 --runs 10   # quick look

Results are in docs/api-bench.md (## Fever).
"""

from __future__ import annotations

import argparse
import hashlib
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

API_PASSWORD = "bench-fever-password"  # only ever on a throw-away database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--unread", type=float, default=0.3, help="share of unread entries")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="liseuse-fever-bench-")
    os.environ["LISEUSE_DATA_DIR"] = folder
    os.environ.pop("LISEUSE_DATABASE_URL", None)  # SQLite, whatever the shell had
    os.environ["DJANGO_SETTINGS_MODULE"] = "liseuse.settings"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    user_id, ids = populate(args.feeds, args.entries, args.unread, args.seed)
    print(
        f"database: {args.feeds} feeds, {args.entries} entries "
        f"({args.unread:.0%} unread) built in {time.perf_counter() - started:.1f} s, "
        f"SQLite file in {folder}{'' if args.keep else ' (removed at the end)'}"
    )
    try:
        measure(user_id, ids, args.runs, args.seed)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def populate(feeds: int, entries: int, unread: float, seed: int) -> tuple[int, list[int]]:
    from django.db import transaction

    from liseuse.accounts.models import User
    from liseuse.feeds.models import Category
    from liseuse.feeds.models import Entry
    from liseuse.feeds.models import EntryState
    from liseuse.feeds.models import Feed
    from liseuse.feeds.models import Subscription

    rng = random.Random(seed)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    user = User.objects.create_user("bench", password="unused")
    user.set_api_password(API_PASSWORD)
    user.save()
    with transaction.atomic():
        folders = [Category.objects.create(user=user, name=f"Folder {i}") for i in range(20)]
        made = Feed.objects.bulk_create(
            Feed(
                url=f"https://site{i}.example/feed",
                title=f"Site {i}",
                site_url=f"https://site{i}.example/",
                last_success_at=t0,
            )
            for i in range(feeds)
        )
        Subscription.objects.bulk_create(
            Subscription(user=user, feed=feed, category=folders[i % len(folders)])
            for i, feed in enumerate(made)
        )
    body = "<p>" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 12 + "</p>"
    ids: list[int] = []
    batch = 5_000
    for start in range(0, entries, batch):
        with transaction.atomic():
            rows = []
            for n in range(start, min(start + batch, entries)):
                # Arrival order is id order; dates wander a little, as real feeds' do.
                published = t0 + timedelta(minutes=n, seconds=rng.randint(-3600, 0))
                rows.append(
                    Entry(
                        feed=made[rng.randrange(feeds)],
                        identity=f"e{n}",
                        content_hash="h",
                        url=f"https://example.org/{n}",
                        title=f"Entry {n}",
                        author="Someone",
                        content=body,
                        published=published,
                        first_seen=published,
                    )
                )
            created = Entry.objects.bulk_create(rows)
            EntryState.objects.bulk_create(
                EntryState(
                    user=user,
                    entry_id=e.pk,
                    feed_id=e.feed_id,
                    sort_date=e.published,
                    is_read=rng.random() >= unread,
                    is_starred=rng.random() < 0.01,
                )
                for e in created
            )
            ids += [e.pk for e in created]
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return user.pk, ids


def measure(user_id: int, ids: list[int], runs: int, seed: int) -> None:
    from django.test import Client

    from liseuse.accounts.models import User

    user = User.objects.get(pk=user_id)
    key = hashlib.md5(f"{user.username}:{API_PASSWORD}".encode()).hexdigest()
    client = Client(HTTP_HOST="127.0.0.1")
    rng = random.Random(seed)

    def post(query: str) -> int:
        response = client.post(f"/api/fever.php?api&{query}", {"api_key": key})
        assert response.status_code == 200 and response.json()["auth"] == 1, response.content
        return len(response.content)

    middle = ids[len(ids) // 2]
    cases: list[tuple[str, Callable[[], int]]] = [
        ("auth only (?api)", lambda: post("")),
        ("items, first page (since_id=0)", lambda: post("items&since_id=0")),
        ("items, since_id in the middle", lambda: post(f"items&since_id={middle}")),
        ("items, since_id random", lambda: post(f"items&since_id={rng.choice(ids)}")),
        ("items, max_id newest page", lambda: post(f"items&max_id={ids[-1] + 1}")),
        (
            "items, with_ids (50 random)",
            lambda: post("items&with_ids=" + ",".join(map(str, rng.sample(ids, 50)))),
        ),
        ("items, one group, since_id=0", lambda: post("items&group_ids=1&since_id=0")),
        ("unread_item_ids", lambda: post("unread_item_ids")),
        ("saved_item_ids", lambda: post("saved_item_ids")),
        ("groups + feeds", lambda: post("groups&feeds")),
        ("mark item read", lambda: post(f"mark=item&as=read&id={rng.choice(ids)}")),
    ]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"Python {platform.python_version()}, {os.cpu_count()} cores, load average {load}; "
        f"{runs} runs per call after one warm-up"
    )
    print(f"{'call':<34} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>9}")
    for name, call in cases:
        size = call()
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        print(f"{name:<34} {statistics.median(times):>8.2f} {p95:>8.2f} {size:>9}")


if __name__ == "__main__":
    main()
