"""WebSub at its edges: a hub that stops answering is not asked again every minute, a feed
nobody follows any more is not renewed, a hub's absurd lease does not break the check, a hub
over plain http is never sent a secret, a push that finds its feed being refreshed is asked
again, and a push sent in chunks is read, up to the cap."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.wsgi import get_wsgi_application
from django.test import Client
from django.test import RequestFactory
from django.test import override_settings
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds import claim
from liseuse.feeds import websub
from liseuse.feeds.models import Entry
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.models import WebSubSubscription
from liseuse.feeds.subscribe import follow
from liseuse.pipeline import refresh
from tests.httpserver import LocalServer
from tests.httpserver import Reply

pytestmark = pytest.mark.django_db

TOPIC = "http://site.example/feed"
# A hub the address guard refuses (loopback, closed port): asked, never reached.
GONE_HUB = "https://127.0.0.1:1/hub"


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


# --- hubs over plain http: the subscription request carries the secret


@override_settings(
    LISEUSE_WEBSUB_CALLBACK_URL="https://reader.example", LISEUSE_ALLOW_PRIVATE_NETWORKS=True
)
def test_a_plain_http_hub_is_never_sent_the_secret_and_the_feed_is_polled(alice: User) -> None:
    follow(alice, TOPIC)
    with LocalServer({"/hub": Reply(status=202)}) as hub:
        Feed.objects.update(hub_url=hub.url("/hub"))
        assert websub.maintain() == 0
        assert hub.requests == [], "nothing was posted to the plain-http hub"
    assert not WebSubSubscription.objects.exists()
    feed_id = Feed.objects.get().id
    assert websub.poll_floor_minutes([feed_id]) == {}, "polled as any feed"


@override_settings(
    LISEUSE_WEBSUB_CALLBACK_URL="https://reader.example", LISEUSE_ALLOW_PRIVATE_NETWORKS=True
)
def test_a_subscription_made_through_a_plain_http_hub_is_not_renewed_but_forgotten(
    alice: User,
) -> None:
    follow(alice, TOPIC)
    with LocalServer({"/hub": Reply(status=202)}) as hub:
        Feed.objects.update(hub_url=hub.url("/hub"))
        # Made before liseuse asked only HTTPS hubs; its renewal time has come.
        subscription = _active(renew_in=-timedelta(minutes=1), asked_ago=timedelta(days=9))
        WebSubSubscription.objects.update(hub=hub.url("/hub"))
        feed_id = subscription.feed_id
        assert websub.poll_floor_minutes([feed_id]), "(it slowed the feed's polling)"
        assert websub.maintain() == 0
        assert hub.requests == [], "not renewed"
    assert not WebSubSubscription.objects.exists(), "its secret went in clear: forgotten"
    assert websub.poll_floor_minutes([feed_id]) == {}, "polled as any feed"
    pushed = Client().post("/websub/tok", b"<rss/>", content_type="application/rss+xml")
    assert pushed.status_code == 404, "a push signed with the old secret is not taken"


@override_settings(LISEUSE_WEBSUB_CALLBACK_URL="https://reader.example")
def test_a_feed_moving_from_an_https_hub_to_a_plain_http_one_is_not_asked_there(
    alice: User,
) -> None:
    follow(alice, TOPIC)
    Feed.objects.update(hub_url=GONE_HUB)
    _active(renew_in=-timedelta(minutes=1), asked_ago=timedelta(days=9))
    Feed.objects.update(hub_url="http://127.0.0.1:1/hub")
    assert websub.pending() == []
    assert WebSubSubscription.objects.get().hub == GONE_HUB, "left to run out"


# --- pushes


def _signed(body: bytes, secret: str = "s" * 40) -> dict[str, str]:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature": f"sha256={signature}"}


def _rss(*guids: str) -> bytes:
    items = "".join(f"<item><guid>{g}</guid><title>{g}</title></item>" for g in guids)
    return f'<rss version="2.0"><channel><title>P</title>{items}</channel></rss>'.encode()


@pytest.mark.django_db(transaction=True)
def test_a_push_while_the_feed_is_being_refreshed_is_asked_again_not_dropped(
    alice: User,
) -> None:
    follow(alice, TOPIC)
    _active(renew_in=timedelta(days=1), asked_ago=timedelta(hours=1))
    claimed = claim.claim_feeds(
        owner="a-worker", now=timezone.now(), lease=timedelta(minutes=10), limit=1, due_only=False
    )
    assert len(claimed) == 1
    body = _rss("pushed")
    client = Client()
    busy = client.post(
        "/websub/tok", body, content_type="application/rss+xml", headers=_signed(body)
    )
    # Not 2xx: the spec has the hub send it again; a 2xx would have dropped it for good.
    assert busy.status_code == 503
    assert busy["Retry-After"] == str(websub.PUSH_RETRY_AFTER)
    assert not Entry.objects.exists()
    claim.release_feeds("a-worker")
    again = client.post(
        "/websub/tok", body, content_type="application/rss+xml", headers=_signed(body)
    )
    assert again.status_code == 202
    assert list(Entry.objects.values_list("guid", flat=True)) == ["pushed"]


@pytest.mark.django_db(transaction=True)
def test_a_push_for_a_feed_nobody_follows_is_acknowledged_not_asked_again(alice: User) -> None:
    follow(alice, TOPIC)
    _active(renew_in=timedelta(days=1), asked_ago=timedelta(hours=1))
    Subscription.objects.all().delete()
    body = _rss("pushed")
    answer = Client().post(
        "/websub/tok", body, content_type="application/rss+xml", headers=_signed(body)
    )
    assert answer.status_code == 202, "no retry would help"
    assert not Entry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_push_for_a_feed_that_crashed_the_refresh_process_is_not_read_in_a_web_process(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Read in a gunicorn worker, the document that crashed the refresh loop's child would end
    # that worker, with the requests it serves; and the hub, seeing no answer, sends it again
    # to the next one. As for "Refresh now", only the loop's children read such a feed.
    follow(alice, TOPIC)
    _active(renew_in=timedelta(days=1), asked_ago=timedelta(hours=1))
    crash = "the refresh process crashed (signal 11, SIGSEGV) while reading this feed"
    Feed.objects.update(last_error=crash, error_count=1)
    read: list[str] = []
    parse = refresh.parse_and_sanitize

    def parse_and_tell(body: bytes, url: str, content_type: str | None) -> Any:
        read.append(url)
        return parse(body, url, content_type)

    monkeypatch.setattr(refresh, "parse_and_sanitize", parse_and_tell)
    body = _rss("pushed")
    answer = Client().post(
        "/websub/tok", body, content_type="application/rss+xml", headers=_signed(body)
    )
    assert answer.status_code == 202, "acknowledged: a retry would be read no better"
    assert read == [] and not Entry.objects.exists()
    assert Feed.objects.get().last_error == crash, "left to the refresh loop"
    Feed.objects.update(last_error="", error_count=0)
    again = Client().post(
        "/websub/tok", body, content_type="application/rss+xml", headers=_signed(body)
    )
    assert again.status_code == 202 and read == [TOPIC], "(any other push is read)"


@pytest.mark.django_db(transaction=True)
def test_a_subscription_made_through_a_plain_http_hub_takes_no_push_even_before_upkeep(
    alice: User,
) -> None:
    # Its secret went in clear. The upkeep pass forgets it, but only while WebSub is on: with
    # LISEUSE_WEBSUB_CALLBACK_URL unset since (or before the loop's first pass), the
    # subscription stayed, and anyone who saw the secret could sign a feed's content.
    follow(alice, TOPIC)
    _active(renew_in=timedelta(days=1), asked_ago=timedelta(hours=1))
    WebSubSubscription.objects.update(hub="http://hub.example/")
    assert not websub.enabled()
    body = _rss("forged")
    answer = Client().post(
        "/websub/tok", body, content_type="application/rss+xml", headers=_signed(body)
    )
    assert answer.status_code == 404
    assert not Entry.objects.exists()


class _Stream:
    """A request body as a WSGI server hands it over, counting what was read of it."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.body) if size < 0 else self.read_bytes + size
        part = self.body[self.read_bytes : end]
        self.read_bytes += len(part)
        return part

    def readline(self, size: int = -1) -> bytes:
        raise AssertionError("a push is not read by lines")


def _chunked_push(body: bytes, signature: dict[str, str]) -> tuple[str, _Stream]:
    """POST a push through the whole WSGI application as gunicorn hands over a chunked one:
    no Content-Length, the chunks taken apart, `wsgi.input_terminated` set."""
    environ = RequestFactory().post("/websub/tok", b"", content_type="application/rss+xml").environ
    environ.pop("CONTENT_LENGTH", None)
    stream = _Stream(body)
    environ.update(
        {
            "wsgi.input": stream,
            "wsgi.input_terminated": True,
            "HTTP_TRANSFER_ENCODING": "chunked",
            "HTTP_X_HUB_SIGNATURE": signature["X-Hub-Signature"],
        }
    )
    statuses: list[str] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        statuses.append(status)
        return lambda data: None

    answer = get_wsgi_application()(environ, start_response)
    b"".join(answer)
    return statuses[0], stream


@pytest.mark.django_db(transaction=True)
def test_a_chunked_push_is_read_where_the_server_ends_the_body(alice: User) -> None:
    follow(alice, TOPIC)
    _active(renew_in=timedelta(days=1), asked_ago=timedelta(hours=1))
    body = _rss("pushed")
    status, _ = _chunked_push(body, _signed(body))
    assert status.startswith("202")
    assert list(Entry.objects.values_list("guid", flat=True)) == ["pushed"]


@pytest.mark.django_db(transaction=True)  # the WSGI handler closes connections, as served
def test_a_chunked_push_is_read_no_further_than_the_cap(alice: User) -> None:
    follow(alice, TOPIC)
    _active(renew_in=timedelta(days=1), asked_ago=timedelta(hours=1))
    huge = b"<rss>" + b" " * (3 * websub.MAX_PUSH_BYTES)
    status, stream = _chunked_push(huge, _signed(huge))
    assert status.startswith("202"), "acknowledged and dropped, as the spec has it"
    assert stream.read_bytes == websub.MAX_PUSH_BYTES + 1
    assert not Entry.objects.exists()
