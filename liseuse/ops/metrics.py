"""The instance's figures in the Prometheus text format, computed from the database at scrape time.

liseuse_feeds{state}                      feeds: ok, error, disabled, never_fetched
liseuse_feeds_leased                      feeds a worker holds right now
liseuse_refresh_queue_lag_seconds         how late the most overdue feed is (0: none due)
liseuse_feeds_due                         feeds due now and not leased
liseuse_feed_refresh_duration_seconds     histogram of each feed's last refresh, fetch to store
liseuse_entries, liseuse_entry_states, liseuse_users, liseuse_subscriptions
liseuse_database_up                       1, or 0 (and nothing else) when the database is down
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count
from django.db.models import Min
from django.db.models import Q
from django.db.models import Sum
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from prometheus_client.registry import CollectorRegistry

from liseuse.accounts.models import User
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription

# Seconds; a feed's refresh is mostly the site's answer time.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class DatabaseCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        followed = Feed.objects.filter(subscriptions__isnull=False).distinct()
        counts = Feed.objects.aggregate(
            n_disabled=Count("id", filter=Q(disabled=True)),
            n_error=Count("id", filter=Q(disabled=False) & ~Q(last_error="")),
            n_never=Count("id", filter=Q(disabled=False, last_error="", last_success_at=None)),
            n_ok=Count(
                "id", filter=Q(disabled=False, last_error="", last_success_at__isnull=False)
            ),
            n_leased=Count("id", filter=Q(lease_until__gt=now)),
        )
        feeds = GaugeMetricFamily("liseuse_feeds", "Feeds by health", labels=["state"])
        for state, key in (
            ("ok", "n_ok"),
            ("error", "n_error"),
            ("disabled", "n_disabled"),
            ("never_fetched", "n_never"),
        ):
            feeds.add_metric([state], counts[key])
        yield feeds
        yield GaugeMetricFamily(
            "liseuse_feeds_leased", "Feeds a worker holds right now", value=counts["n_leased"]
        )

        due = Feed.objects.filter(
            id__in=followed.values("id"), disabled=False, next_fetch_at__lte=now
        ).filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        due_stats = due.aggregate(n=Count("id"), oldest=Min("next_fetch_at"))
        oldest = due_stats["oldest"]
        lag = (now - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "liseuse_refresh_queue_lag_seconds",
            "How late the most overdue feed is (0: none is due)",
            value=max(0.0, lag),
        )
        yield GaugeMetricFamily(
            "liseuse_feeds_due", "Feeds due now and not leased", value=due_stats["n"]
        )

        bounds = {
            f"le_{i}": Count("id", filter=Q(last_duration_ms__lte=int(b * 1000)))
            for i, b in enumerate(DURATION_BUCKETS)
        }
        # One query for the whole histogram: a filtered count per bucket.
        timed = Feed.objects.filter(last_duration_ms__isnull=False).aggregate(
            n=Count("id"), total_ms=Sum("last_duration_ms"), **bounds
        )
        histogram = HistogramMetricFamily(
            "liseuse_feed_refresh_duration_seconds",
            "Each feed's last refresh, fetch to store",
        )
        buckets = [(str(b), timed[f"le_{i}"]) for i, b in enumerate(DURATION_BUCKETS)]
        buckets.append(("+Inf", timed["n"]))
        histogram.add_metric([], buckets, sum_value=float(timed["total_ms"] or 0) / 1000)
        yield histogram

        for name, help_text, value in (
            ("liseuse_entries", "Stored entries", Entry.objects.count()),
            ("liseuse_entry_states", "Per-person entry states", EntryState.objects.count()),
            ("liseuse_users", "Accounts", User.objects.count()),
            ("liseuse_subscriptions", "Subscriptions", Subscription.objects.count()),
        ):
            yield GaugeMetricFamily(name, help_text, value=value)


class DatabaseUp(Collector):
    def __init__(self, up: bool) -> None:
        self.up = up

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "liseuse_database_up", "1 when the database answered this scrape", value=int(self.up)
        )


def render() -> tuple[bytes, str]:
    """The page; with the database down, only `liseuse_database_up 0`: a scrape that answered
    500 told Prometheus that liseuse was down, not its database (`/healthz` says so too)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseUp(up=True))
    registry.register(DatabaseCollector())
    try:
        return generate_latest(registry), CONTENT_TYPE_LATEST
    except DatabaseError:
        down = CollectorRegistry(auto_describe=False)
        down.register(DatabaseUp(up=False))
        return generate_latest(down), CONTENT_TYPE_LATEST
