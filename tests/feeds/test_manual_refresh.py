"""A person's "Refresh now" keeps to the time a site asked for (429 / 503 with Retry-After),
as the refresh loop does, and says so; liseuse's own schedule never stands in the way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db.models import F
from django.test import Client
from django.test import override_settings
from django.utils import translation

from liseuse.accounts.models import User
from liseuse.feeds import worker
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.subscribe import follow
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.httpserver import SeenRequest

pytestmark = pytest.mark.django_db(transaction=True)

RSS = (
    b'<rss version="2.0"><channel><title>T</title><link>http://127.0.0.1:1/</link>'
    b"<item><guid>a</guid><title>A</title></item></channel></rss>"
)
ASKED = "the site asked not to be fetched again before"


@pytest.fixture(autouse=True)
def _allow_loopback() -> Iterator[None]:
    with override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True):
        yield


class Site:
    """A feed that first answers `status` (with `headers`), then the feed."""

    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.first = Reply(status=status, headers=headers)
        self.server = LocalServer({"/feed": self._answer})

    def _answer(self, request: SeenRequest) -> Reply:
        if self.fetches() == 1:
            return self.first
        return Reply(body=RSS, headers={"Content-Type": "application/rss+xml"})

    def fetches(self) -> int:
        return self.server.paths().count("/feed")


def _first_fetch_fails(
    alice: User,
    site: Site,
    *,
    floor_minutes: int = 0,
    status_prefix: tuple[str, ...] | str = ("HTTP 429", "HTTP 503"),
) -> Subscription:
    subscription = follow(alice, site.server.url("/feed"))
    Subscription.objects.update(refresh_floor_minutes=floor_minutes)
    worker.refresh_once(all_feeds=True)
    feed = Feed.objects.get()
    assert feed.error_count == 1 and feed.last_error.startswith(status_prefix)
    return subscription


def _time_passes(delta: timedelta) -> None:
    Feed.objects.update(
        last_fetched_at=F("last_fetched_at") - delta,
        next_fetch_at=F("next_fetch_at") - delta,
        retry_after_until=F("retry_after_until") - delta,
    )


def test_a_manual_refresh_before_the_time_a_site_asked_for_is_refused(alice: User) -> None:
    site = Site(429, {"Retry-After": "7200"})
    with site.server:
        subscription = _first_fetch_fails(alice, site)
        _time_passes(timedelta(minutes=2))  # past the once-a-minute limit
        with pytest.raises(worker.RefreshRefused, match=ASKED):
            worker.refresh_feed_now(alice, subscription.feed_id)
        with translation.override("fr"), pytest.raises(worker.RefreshRefused) as refused:
            worker.refresh_feed_now(alice, subscription.feed_id)
        assert "le site a demandé à ne pas être récupéré de nouveau avant le" in str(refused.value)
        assert site.fetches() == 1, "the site was left alone"
        _time_passes(timedelta(hours=2))
        assert worker.refresh_feed_now(alice, subscription.feed_id).outcome == "updated"
        assert site.fetches() == 2


@pytest.mark.parametrize(
    ("status", "headers", "floor_minutes"),
    [
        (503, {}, 0),  # no Retry-After: liseuse's own back-off
        (429, {}, 0),
        (503, {}, 600),  # a follower's floor ("no more often than"), liseuse's own too
        (503, {"Retry-After": "not a date"}, 0),
    ],
)
def test_liseuses_own_wait_after_an_error_never_refuses_a_manual_refresh(
    alice: User, status: int, headers: dict[str, str], floor_minutes: int
) -> None:
    site = Site(status, headers)
    with site.server:
        subscription = _first_fetch_fails(alice, site, floor_minutes=floor_minutes)
        _time_passes(timedelta(minutes=2))
        assert worker.refresh_feed_now(alice, subscription.feed_id).outcome == "updated"
        assert site.fetches() == 2


def test_the_person_reads_why_on_both_refresh_buttons(alice: User) -> None:
    alice.language = "fr"
    alice.save(update_fields=["language"])
    site = Site(503, {"Retry-After": "86400"})
    # (override: her pages switch this thread to French, which would outlast the test)
    with site.server, translation.override("en"):
        subscription = _first_fetch_fails(alice, site)
        _time_passes(timedelta(minutes=2))
        client = Client()
        client.force_login(alice)
        page = client.post(f"/manage/subscriptions/{subscription.pk}/refresh", follow=True)
        said = "Pas actualisé : le site a demandé à ne pas être récupéré de nouveau avant le"
        assert said in page.content.decode()
        reading = client.post(f"/f/{subscription.feed_id}/refresh")
        assert reading.status_code == 429 and said in reading.content.decode()
        # A page of the site's, with the way back to the feed (it was a bare sentence).
        assert 'class="brand"' in reading.content.decode()
        assert f'href="/f/{subscription.feed_id}/"' in reading.content.decode()
        asked = client.post(
            f"/f/{subscription.feed_id}/refresh", headers={"Accept": "application/json"}
        )
        assert asked.status_code == 429 and said in asked.json()["reason"]
        assert site.fetches() == 1


def test_a_gone_feed_is_tried_again_by_hand_and_enabled_when_it_answers(alice: User) -> None:
    site = Site(410, {})
    with site.server:
        subscription = _first_fetch_fails(alice, site, status_prefix="HTTP 410")
        assert Feed.objects.get().disabled
        _time_passes(timedelta(minutes=2))
        assert worker.refresh_once(all_feeds=True).reports == [], "the loop leaves it alone"
        assert worker.refresh_feed_now(alice, subscription.feed_id).outcome == "updated"
        feed = Feed.objects.get()
        assert (feed.disabled, feed.error_count, feed.last_error) == (False, 0, "")
        assert site.fetches() == 2
        _time_passes(timedelta(days=2))
        assert len(worker.refresh_once().reports) == 1, "the loop takes it again"
        assert site.fetches() == 3


def test_a_gone_feed_still_gone_stays_disabled(alice: User) -> None:
    with LocalServer({"/feed": Reply(status=410)}) as server:
        subscription = follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
        _time_passes(timedelta(minutes=2))
        report = worker.refresh_feed_now(alice, subscription.feed_id)
        assert report.outcome == "error" and "410" in (report.error or "")
        assert Feed.objects.get().disabled
        assert len(server.requests) == 2


def test_a_feed_that_crashed_the_refresh_process_is_not_read_in_a_web_process(
    alice: User,
) -> None:
    with LocalServer({"/feed": Reply(body=RSS)}) as server:
        subscription = follow(alice, server.url("/feed"))
        crash = "the refresh process crashed (signal 11, SIGSEGV) while reading this feed"
        Feed.objects.update(last_error=crash, error_count=1)
        with pytest.raises(worker.RefreshRefused, match="crashed the refresh process"):
            worker.refresh_feed_now(alice, subscription.feed_id)
        assert server.requests == []


def test_a_gone_feed_tried_by_hand_and_failing_otherwise_stays_disabled(alice: User) -> None:
    # Only an answer enables a gone feed again: a 500, a time-out or a refused connection
    # say nothing of the site being back, and the loop would have polled it for good again.
    answers = iter([Reply(status=410), Reply(status=500)])
    with LocalServer({"/feed": lambda _: next(answers)}) as server:
        subscription = follow(alice, server.url("/feed"))
        worker.refresh_once(all_feeds=True)
        _time_passes(timedelta(minutes=2))
        report = worker.refresh_feed_now(alice, subscription.feed_id)
        assert report.outcome == "error" and "HTTP 500" in (report.error or "")
        feed = Feed.objects.get()
        assert feed.disabled and feed.last_error.startswith("HTTP 500")
        _time_passes(timedelta(days=30))
        assert worker.refresh_once().reports == [], "the loop still leaves it alone"
        assert len(server.requests) == 2


def test_a_floor_lowered_after_a_503_without_retry_after_does_not_read_as_the_sites_wish(
    alice: User,
) -> None:
    site = Site(503, {})
    with site.server:
        # "No more often than every 10 hours": the failed fetch is backed off that long.
        subscription = _first_fetch_fails(alice, site, floor_minutes=600)
        # The follower lowers it again (or leaves); the site never said when to come back.
        Subscription.objects.update(refresh_floor_minutes=0)
        _time_passes(timedelta(minutes=2))
        assert worker.refresh_feed_now(alice, subscription.feed_id).outcome == "updated"


def test_the_sites_wait_is_forgotten_once_a_fetch_succeeds(alice: User) -> None:
    site = Site(429, {"Retry-After": "7200"})
    with site.server:
        subscription = _first_fetch_fails(alice, site)
        assert Feed.objects.get().retry_after_until is not None
        _time_passes(timedelta(hours=3))
        worker.refresh_feed_now(alice, subscription.feed_id)
        assert Feed.objects.get().retry_after_until is None
