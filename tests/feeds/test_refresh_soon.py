"""A person's "Refresh" on a page of several feeds: their feeds made due for the refresh loop,
within the same limits as "Refresh now" on one feed, and the loop, pausing, wakes up for them
within seconds. The pages' side: tests/ui/test_reading.py."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds import claim
from liseuse.feeds import worker
from liseuse.feeds.models import Category
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.pipeline.refresh import FeedToRefresh

LATER = timedelta(hours=3)


def _feed(user: User, name: str, *, category: Category | None = None, **fields: object) -> Feed:
    fields.setdefault("next_fetch_at", timezone.now() + LATER)
    fields.setdefault("last_fetched_at", timezone.now() - timedelta(hours=1))
    feed = Feed.objects.create(url=f"https://{name}.example/feed", **fields)
    Subscription.objects.create(user=user, feed=feed, category=category)
    return feed


def _due(*feeds: Feed) -> list[bool]:
    now = timezone.now()
    return [Feed.objects.get(pk=f.pk).next_fetch_at <= now for f in feeds]


@pytest.mark.django_db
def test_refresh_makes_a_persons_waiting_feeds_due_and_no_others(alice: User, bob: User) -> None:
    now = timezone.now()
    waiting = _feed(alice, "waiting")
    never_fetched = _feed(alice, "new", last_fetched_at=None)
    just_fetched = _feed(alice, "recent", last_fetched_at=now - timedelta(seconds=10))
    asked_to_wait = _feed(alice, "asked", retry_after_until=now + timedelta(minutes=30))
    disabled = _feed(alice, "gone", disabled=True)
    bobs = _feed(bob, "bobs")

    assert worker.refresh_soon(alice) == 2
    assert _due(waiting, never_fetched) == [True, True]
    # Fetched less than a minute ago (a button pressed in a loop), or its site asked for a
    # pause (Retry-After), or disabled (410): left as they were; and bob's feed is bob's.
    assert _due(just_fetched, asked_to_wait, disabled, bobs) == [False] * 4
    # Pressed again: nothing more to do.
    assert worker.refresh_soon(alice) == 0


@pytest.mark.django_db
def test_refresh_of_a_category_or_a_feed_takes_only_its_feeds(alice: User, bob: User) -> None:
    presse = Category.objects.create(user=alice, name="Presse")
    in_it = _feed(alice, "journal", category=presse)
    outside = _feed(alice, "blog")
    # Bob has the same feed in no category: alice's category is what counts.
    Subscription.objects.create(user=bob, feed=outside)
    assert worker.refresh_soon(alice, category_id=presse.pk) == 1
    assert _due(in_it, outside) == [True, False]
    assert worker.refresh_soon(alice, feed_id=outside.pk) == 1
    assert _due(outside) == [True]
    assert worker.refresh_soon(bob, category_id=presse.pk) == 0  # not bob's category


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_signals_kept")
def test_a_pausing_loop_wakes_up_for_feeds_made_due(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = _feed(alice, "waiting")
    passes: list[float] = []
    real_claim = claim.claim_feeds

    def claim_feeds(**kwargs: object) -> list[FeedToRefresh]:
        passes.append(time.monotonic())
        if len(passes) == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # woken up: enough
            return []
        return real_claim(**kwargs)  # type: ignore[arg-type]

    def press_refresh() -> None:
        try:
            while not passes:
                time.sleep(0.01)
            time.sleep(0.3)  # the loop is pausing now, for a minute
            worker.refresh_soon(alice)
        finally:
            connection.close()  # this thread's own

    monkeypatch.setattr(claim, "claim_feeds", claim_feeds)
    monkeypatch.setattr(worker, "_DUE_LOOK_SECONDS", 0.2)
    person = threading.Thread(target=press_refresh)
    person.start()
    started = time.monotonic()
    worker.run_forever(idle_seconds=60)
    person.join()
    assert len(passes) == 2
    assert passes[1] - started < 10, "woke up for the feed, not after its minute's pause"
    assert Feed.objects.get(pk=feed.pk).next_fetch_at <= timezone.now()
