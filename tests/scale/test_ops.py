"""/healthz, /metrics and the log formats."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from unittest import mock

import pytest
from django.db import DatabaseError
from django.test import Client
from django.test import override_settings
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.ops.logs import ENVIRON_USER_ID
from liseuse.ops.logs import JsonFormatter
from liseuse.ops.logs import RequestContextFilter
from liseuse.ops.logs import RequestContextMiddleware
from liseuse.ops.logs import TextFormatter


@pytest.mark.django_db
def test_healthz_says_the_database_answers() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_does_not() -> None:
    with mock.patch("liseuse.ops.views.connection.cursor", side_effect=DatabaseError("down")):
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


@pytest.mark.django_db
def test_metrics_say_the_database_is_down_rather_than_fail() -> None:
    # A 500 told Prometheus that liseuse was down, not its database.
    up = Client().get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert _metric(up.content.decode(), "liseuse_database_up") == 1
    with mock.patch(
        "liseuse.ops.metrics.Feed.objects.aggregate", side_effect=DatabaseError("down")
    ):
        down = Client().get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert down.status_code == 200
    assert _metric(down.content.decode(), "liseuse_database_up") == 0
    assert "liseuse_feeds" not in down.content.decode()


def _metric(body: str, name: str) -> float:
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in the metrics")


@pytest.mark.django_db
def test_metrics_count_feeds_by_state_the_queue_lag_and_refresh_durations(alice: User) -> None:
    now = timezone.now()
    late = Feed.objects.create(
        url="http://a.example/late", next_fetch_at=now - timedelta(minutes=10)
    )
    Feed.objects.create(
        url="http://a.example/ok",
        last_success_at=now,
        next_fetch_at=now + timedelta(hours=1),
        last_duration_ms=300,
    )
    Feed.objects.create(
        url="http://a.example/bad",
        last_error="404",
        error_count=1,
        last_duration_ms=40_000,
        next_fetch_at=now + timedelta(hours=1),
    )
    Feed.objects.create(url="http://a.example/gone", disabled=True, last_error="410 Gone")
    for feed in Feed.objects.all():
        Subscription.objects.create(user=alice, feed=feed)

    response = Client().get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    body = response.content.decode()
    assert 'liseuse_feeds{state="ok"} 1.0' in body
    assert 'liseuse_feeds{state="error"} 1.0' in body
    assert 'liseuse_feeds{state="disabled"} 1.0' in body
    assert 'liseuse_feeds{state="never_fetched"} 1.0' in body
    assert 590 <= _metric(body, "liseuse_refresh_queue_lag_seconds") <= 700
    assert _metric(body, "liseuse_feeds_due") == 1
    assert 'liseuse_feed_refresh_duration_seconds_bucket{le="0.5"} 1.0' in body
    assert 'liseuse_feed_refresh_duration_seconds_bucket{le="30.0"} 1.0' in body
    assert 'liseuse_feed_refresh_duration_seconds_bucket{le="+Inf"} 2.0' in body
    assert _metric(body, "liseuse_feed_refresh_duration_seconds_sum") == pytest.approx(40.3)
    assert _metric(body, "liseuse_users") == 1
    assert _metric(body, "liseuse_entries") == 0

    # Leased by a worker: being handled, not waiting.
    Feed.objects.filter(id=late.id).update(lease_until=now + timedelta(minutes=5))
    body = Client().get("/metrics").content.decode()
    assert _metric(body, "liseuse_refresh_queue_lag_seconds") == 0
    assert _metric(body, "liseuse_feeds_leased") == 1


@pytest.mark.django_db
def test_metrics_are_refused_to_other_addresses_unless_they_bring_the_token() -> None:
    outside = Client(REMOTE_ADDR="203.0.113.7")
    refused = outside.get("/metrics")
    assert refused.status_code == 403 and b"LISEUSE_METRICS_ALLOW" in refused.content
    with override_settings(LISEUSE_METRICS_ALLOW=["203.0.113.0/24"]):
        assert outside.get("/metrics").status_code == 200
        assert Client().get("/metrics").status_code == 403, "loopback is only the default"
    with override_settings(LISEUSE_METRICS_TOKEN="s3cret-token"):
        assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
        assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    # Without a configured token, no Authorization header opens the door.
    assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "liseuse.worker", logging.INFO, __file__, 1, "feed %s", ("updated",), None
    )
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_and_text_logs_carry_the_same_context_keys() -> None:
    record = _record(feed_id=7, feed_url="http://a.example/f", duration_ms=120, user_id=3)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "feed updated" and line["level"] == "INFO"
    assert {k: line[k] for k in ("feed_id", "feed_url", "duration_ms", "user_id")} == {
        "feed_id": 7,
        "feed_url": "http://a.example/f",
        "duration_ms": 120,
        "user_id": 3,
    }
    text = TextFormatter().format(record)
    assert text.endswith(
        'feed updated feed_id=7 feed_url="http://a.example/f" user_id=3 duration_ms=120'
    )
    assert "feed_id" not in TextFormatter().format(_record())


def test_lines_logged_during_a_persons_request_carry_their_user_id(alice: User) -> None:
    seen: list[logging.LogRecord] = []

    def view(request: object) -> str:
        record = _record()
        RequestContextFilter().filter(record)
        seen.append(record)
        return "answer"

    request = mock.Mock(user=alice, META={})
    assert RequestContextMiddleware(view)(request) == "answer"
    anonymous = mock.Mock(user=mock.Mock(is_authenticated=False), META={})
    RequestContextMiddleware(view)(anonymous)
    outside = _record()
    RequestContextFilter().filter(outside)
    assert getattr(seen[0], "user_id", None) == alice.pk
    assert not hasattr(seen[1], "user_id") and not hasattr(outside, "user_id")
    # …and the access log line, written after the request, finds it in the environment.
    assert request.META.get(ENVIRON_USER_ID) == alice.pk and anonymous.META == {}
