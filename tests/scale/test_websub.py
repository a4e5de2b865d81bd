"""WebSub against a small local hub (over HTTPS: liseuse sends its secret to no other):
discovery, subscription, the hub's check, signed pushes stored as refreshes, slower polling,
renewal and refusal."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.test import override_settings
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds import claim
from liseuse.feeds import websub
from liseuse.feeds import worker
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import WebSubSubscription
from liseuse.feeds.subscribe import follow
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.tls import trusted_tls

pytestmark = pytest.mark.django_db(transaction=True)


class Hub:
    """A hub as the spec has it: accepts a subscription (202), then checks it by calling the
    subscriber back with a challenge; publishes by POSTing the signed document."""

    def __init__(self, tls: ssl.SSLContext) -> None:
        self.requests: list[dict[str, str]] = []
        self.verified: dict[str, str] = {}  # callback → secret, once the challenge came back
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                hub.requests.append(form)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                threading.Thread(target=hub._verify, args=(form,), daemon=True).start()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}/hub"

    def _verify(self, form: dict[str, str]) -> None:
        challenge = secrets.token_hex(8)
        query = urllib.parse.urlencode(
            {
                "hub.mode": form["hub.mode"],
                "hub.topic": form["hub.topic"],
                "hub.challenge": challenge,
                "hub.lease_seconds": "3600",
            }
        )
        with urllib.request.urlopen(f"{form['hub.callback']}?{query}", timeout=10) as answer:
            if answer.read().decode() == challenge:
                self.verified[form["hub.callback"]] = form["hub.secret"]

    def publish(self, callback: str, body: bytes, *, secret: str | None = None) -> int:
        key = secret if secret is not None else self.verified[callback]
        signature = hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(
            callback,
            data=body,
            headers={
                "Content-Type": "application/rss+xml",
                "X-Hub-Signature": f"sha256={signature}",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)

    def __enter__(self) -> Hub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _rss(hub: str, *guids: str) -> bytes:
    items = "".join(
        f"<item><guid>{g}</guid><title>{g}</title>"
        f"<pubDate>Mon, 1{n} Jan 2024 00:00:00 GMT</pubDate></item>"
        for n, g in enumerate(guids)
    )
    return (
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>P</title>'
        f'<atom:link rel="hub" href="{hub}"/>{items}</channel></rss>'
    ).encode()


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Hub]:
    with Hub(trusted_tls(monkeypatch, tmp_path)) as running:
        yield running


def _wait(condition: Any, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_feed_with_a_hub_is_subscribed_checked_pushed_and_polled_less(
    alice: User, hub: Hub, live_server: Any
) -> None:
    with (
        LocalServer({"/feed": Reply(body=_rss(hub.url, "a", "b"))}) as site,
        override_settings(
            LISEUSE_ALLOW_PRIVATE_NETWORKS=True, LISEUSE_WEBSUB_CALLBACK_URL=live_server.url
        ),
    ):
        follow(alice, site.url("/feed"))
        worker.refresh_once(all_feeds=True)
        feed = Feed.objects.get()
        assert feed.hub_url == hub.url, "the hub is found in the feed"

        assert websub.maintain() == 1
        (asked,) = hub.requests
        assert asked["hub.mode"] == "subscribe" and asked["hub.topic"] == feed.url
        assert asked["hub.callback"].startswith(live_server.url + "/websub/")
        assert len(asked["hub.secret"]) >= 32
        callback = asked["hub.callback"]
        _wait(lambda: callback in hub.verified)
        subscription = WebSubSubscription.objects.get()
        assert subscription.state == "active"
        assert subscription.expires_at is not None
        assert subscription.expires_at - timezone.now() > timedelta(minutes=55)
        assert websub.maintain() == 0, "nothing to ask while the lease runs"

        # A push is stored as a refresh would store it.
        assert hub.publish(callback, _rss(hub.url, "a", "b", "c")) == 202
        assert sorted(Entry.objects.values_list("guid", flat=True)) == ["a", "b", "c"]
        assert EntryState.objects.filter(user=alice, entry__guid="c", is_read=False).exists()
        # (the first refresh also looked for the site's icon, at "/" and "/favicon.ico")
        fetched = [r.path for r in site.requests if r.path == "/feed"]
        assert len(fetched) == 1, "the push needed no fetch"

        # A push signed with another key is acknowledged and dropped.
        assert hub.publish(callback, _rss(hub.url, "d"), secret="not the secret") == 202
        assert not Entry.objects.filter(guid="d").exists()

        # Polled, but only as a safety net.
        Feed.objects.update(next_fetch_at=timezone.now())
        (claimed,) = claim.claim_feeds(
            owner="t", now=timezone.now(), lease=timedelta(minutes=1), limit=5
        )
        assert claimed.refresh_floor_minutes == 6 * 60
        claim.release_feeds("t")

        # Half-way through this short lease, liseuse asks again.
        assert subscription.renew_at is not None
        assert (
            timedelta(minutes=25) < subscription.renew_at - timezone.now() < timedelta(minutes=35)
        )
        WebSubSubscription.objects.update(renew_at=timezone.now())
        assert websub.maintain() == 1
        assert len(hub.requests) == 2


def test_the_callback_answers_only_what_liseuse_asked(alice: User) -> None:
    follow(alice, "http://site.example/feed")
    subscription = WebSubSubscription.objects.create(
        feed=Feed.objects.get(),
        hub="https://hub.example/",
        topic="http://site.example/feed",
        token="tok",
        secret="s" * 40,
    )
    client = Client()

    def get(**params: str) -> Any:
        return client.get("/websub/tok", {f"hub.{k}": v for k, v in params.items()})

    assert client.get("/websub/unknown").status_code == 404
    assert get(mode="subscribe", topic="http://other.example/", challenge="x").status_code == 404
    assert get(mode="unsubscribe", topic=subscription.topic, challenge="x").status_code == 404
    answer = get(mode="subscribe", topic=subscription.topic, challenge="c1", lease_seconds="600")
    assert (answer.status_code, answer.content) == (200, b"c1")
    assert get(mode="denied", topic=subscription.topic, reason="no").status_code == 200
    subscription.refresh_from_db()
    assert subscription.state == "denied"
    unsigned = client.post("/websub/tok", b"<rss/>", content_type="application/rss+xml")
    assert unsigned.status_code == 202
    assert Entry.objects.count() == 0
    assert client.put("/websub/tok").status_code == 405


def test_websub_stays_off_without_a_public_address(alice: User) -> None:
    follow(alice, "http://site.example/feed")
    Feed.objects.update(hub_url="https://hub.example/")
    with override_settings(LISEUSE_WEBSUB_CALLBACK_URL=""):
        assert websub.maintain() == 0
    assert not WebSubSubscription.objects.exists()


def test_a_feed_that_moves_hub_subscribes_again_and_one_without_hub_runs_out(
    alice: User,
) -> None:
    follow(alice, "http://site.example/a")
    follow(alice, "http://site.example/b")
    Feed.objects.update(hub_url="https://127.0.0.1:1/hub")
    soon = timezone.now() - timedelta(minutes=1)
    with override_settings(LISEUSE_WEBSUB_CALLBACK_URL="https://reader.example"):
        # The loopback hub is refused by the address guard: asked, never reached.
        assert websub.maintain() == 2
        WebSubSubscription.objects.update(state="active", renew_at=soon, expires_at=soon)
        Feed.objects.filter(url="http://site.example/a").update(hub_url="https://127.0.0.2:1/")
        Feed.objects.filter(url="http://site.example/b").update(hub_url="")
        assert [s.feed.url for s in websub.pending()] == ["http://site.example/a"]
    moved = WebSubSubscription.objects.get(feed__url="http://site.example/a")
    assert (moved.hub, moved.state) == ("https://127.0.0.2:1/", "requested")
