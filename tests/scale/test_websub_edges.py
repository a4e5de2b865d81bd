"""WebSub at its edges: a hub that stops answering is not asked again every minute, a feed
nobody follows any more is not renewed, and a hub's absurd lease does not break the check."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.test import override_settings
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds import websub
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.models import WebSubSubscription
from liseuse.feeds.subscribe import follow

pytestmark = pytest.mark.django_db

TOPIC = "http://site.example/feed"
# A hub the address guard refuses (loopback, closed port): asked, never reached.
GONE_HUB = "http://127.0.0.1:1/hub"


def _active(*, renew_in: timedelta, asked_ago: timedelta) -> WebSubSubscription:
    now = timezone.now()
    return WebSubSubscription.objects.create(
        feed=Feed.objects.get(url=TOPIC),
        hub=GONE_HUB,
        topic=TOPIC,
        token="tok",
        secret="s" * 40,
        state=WebSubSubscription.State.ACTIVE,
        requested_at=now - asked_ago,
        expires_at=now + renew_in + timedelta(days=1),
        renew_at=now + renew_in,
    )


@override_settings(LISEUSE_WEBSUB_CALLBACK_URL="https://reader.example")
def test_a_renewal_the_hub_does_not_answer_is_asked_again_hours_later_not_every_pass(
    alice: User,
) -> None:
    follow(alice, TOPIC)
    Feed.objects.update(hub_url=GONE_HUB)
    _active(renew_in=-timedelta(minutes=1), asked_ago=timedelta(days=9))
    assert websub.maintain() == 1, "renewal time: asked"
    assert websub.maintain() == 0, "asked a moment ago: the hub is given time"
    WebSubSubscription.objects.update(requested_at=timezone.now() - websub.RETRY_REQUESTED)
    assert websub.maintain() == 1, "no news from the hub for hours: asked again"


@override_settings(LISEUSE_WEBSUB_CALLBACK_URL="https://reader.example")
def test_a_feed_nobody_follows_any_more_is_not_renewed(alice: User) -> None:
    follow(alice, TOPIC)
    Feed.objects.update(hub_url=GONE_HUB)
    _active(renew_in=-timedelta(minutes=1), asked_ago=timedelta(days=9))
    Subscription.objects.all().delete()
    assert websub.maintain() == 0
    assert websub.pending() == []


def test_an_absurd_lease_from_the_hub_is_capped(alice: User) -> None:
    follow(alice, TOPIC)
    subscription = _active(renew_in=timedelta(days=1), asked_ago=timedelta(hours=1))
    answer = Client().get(
        "/websub/tok",
        {
            "hub.mode": "subscribe",
            "hub.topic": TOPIC,
            "hub.challenge": "c1",
            "hub.lease_seconds": str(10**15),
        },
    )
    assert (answer.status_code, answer.content) == (200, b"c1")
    subscription.refresh_from_db()
    assert subscription.expires_at is not None
    assert subscription.expires_at - timezone.now() <= websub.MAX_LEASE
