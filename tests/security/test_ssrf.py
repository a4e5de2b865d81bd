"""The private-network guard at every entry point that makes liseuse fetch a URL: the add
form (and its discovery), refreshing (the worker and both refresh buttons), favicons, OPML
import, the Google Reader API's quickadd, and the WebSub hubs liseuse asks for pushes.

liseuse is set as in production (private networks refused) except that 127.0.0.1 stands for
"the public internet": the fake DNS sends `public.example` there. Private servers listen on
127.0.0.2, which is refused; each test checks that they never hear a request and that the
refusal reaches the person in words.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test import override_settings

from liseuse.accounts.models import User
from liseuse.feeds import websub
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.subscribe import follow
from liseuse.feeds.worker import refresh_once
from liseuse.pipeline import fetch
from tests.greader.conftest import GReader
from tests.greader.conftest import with_api_password
from tests.httpserver import FakeResolver
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.security.conftest import logged_in
from tests.tls import trusted_tls

pytestmark = pytest.mark.django_db(transaction=True)

RSS = (
    b'<rss version="2.0"><channel><title>Public</title><link>http://public.example/</link>'
    b"<item><guid>1</guid><title>One</title></item></channel></rss>"
)


class Net:
    """A public server (127.0.0.1, reached as public.example), a private one (127.0.0.2),
    and the fake DNS that the fetcher uses."""

    def __init__(self, public: LocalServer, private: LocalServer, resolver: FakeResolver) -> None:
        self.public = public
        self.private = private
        self.resolver = resolver

    def pub(self, path: str) -> str:
        return self.public.url(path, host="public.example")

    def priv(self, path: str) -> str:
        return self.private.url(path)


@pytest.fixture
def net(monkeypatch: pytest.MonkeyPatch) -> Iterator[Net]:
    private = LocalServer(
        {"/feed": Reply(body=RSS), "/icon.png": Reply(body=b"\x89PNG\r\n\x1a\n")}, host="127.0.0.2"
    )
    public = LocalServer({"/feed": Reply(body=RSS)})
    rebinding = iter([["127.0.0.1"]] + [["127.0.0.2"]] * 20)
    resolver = FakeResolver(
        {
            "public.example": ["127.0.0.1"],
            "internal.example": ["192.168.0.10"],
            "metadata.example": ["169.254.169.254"],
            "rebind.example": lambda: next(rebinding),
        }
    )
    from liseuse.feeds import worker

    production = worker.fetch_config

    def config() -> fetch.FetchConfig:
        # The production configuration (private networks refused), with the one exception
        # that stands for the public internet.
        return replace(production(), allowed_networks=("127.0.0.1/32",), total_timeout=5.0)

    monkeypatch.setattr(worker, "fetch_config", config)
    plain_init = fetch.Fetcher.__init__

    def with_fake_dns(self: fetch.Fetcher, *args: Any, **kwargs: Any) -> None:
        kwargs["resolver"] = kwargs.get("resolver") or resolver
        plain_init(self, *args, **kwargs)

    monkeypatch.setattr(fetch.Fetcher, "__init__", with_fake_dns)
    with private, public:
        yield Net(public, private, resolver)
    assert private.requests == [], [r.path for r in private.requests]


def private_urls(net: Net) -> list[str]:
    port = net.private.port
    return [
        net.priv("/feed"),
        f"http://127.0.0.2:{port}/feed",
        f"http://2130706434:{port}/feed",  # 127.0.0.2 in decimal
        f"http://0177.0.0.2:{port}/feed",  # in octal
        f"http://0x7f.0.0.2:{port}/feed",  # in hex
        f"http://[::ffff:127.0.0.2]:{port}/feed",
        f"http://[::1]:{port}/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/feed",
        "http://192.168.1.1/feed",
        "http://100.64.0.1/feed",  # CGNAT
        "http://[fd00::1]/feed",  # ULA
        "http://[fe80::1]/feed",
        "http://0.0.0.0/feed",
        f"http://internal.example:{port}/feed",
        "http://metadata.example/latest/meta-data/",
    ]


def test_the_add_form_refuses_every_spelling_of_a_private_address(alice: User, net: Net) -> None:
    client = logged_in(alice)
    for url in private_urls(net):
        response = client.post("/manage/subscriptions/add", {"url": url})
        assert response.status_code == 400, url
        assert b"refused: " in response.content, url
    assert not Subscription.objects.exists()
    # The public server is reachable: the refusals are about the addresses.
    assert client.post("/manage/subscriptions/add", {"url": net.pub("/feed")}).status_code == 303


def test_a_public_feed_redirecting_to_a_private_one_is_refused_and_not_saved(
    alice: User, net: Net
) -> None:
    for status in (301, 302, 307, 308):
        net.public.routes[f"/r{status}"] = Reply(status, {"Location": net.priv("/feed")})
        response = logged_in(alice).post(
            "/manage/subscriptions/add", {"url": net.pub(f"/r{status}")}
        )
        assert response.status_code == 400 and b"refused" in response.content, status
    assert not Feed.objects.filter(url__contains="127.0.0.2").exists()


def test_discovery_never_follows_a_page_to_a_private_feed(alice: User, net: Net) -> None:
    net.public.routes["/"] = Reply(
        headers={"Content-Type": "text/html"},
        body=(
            f'<html><head><link rel="alternate" type="application/rss+xml" href="{net.priv("/feed")}">'
            "</head><body>x</body></html>"
        ).encode(),
    )
    response = logged_in(alice).post("/manage/subscriptions/add", {"url": net.pub("/")})
    # The one feed the page names is followed without being fetched; the first refresh
    # refuses it and the health page says why (the private server never hears a thing).
    assert response.status_code == 303
    refresh_once(all_feeds=True)
    feed = Feed.objects.get(url=net.priv("/feed"))
    assert feed.last_error.startswith("refused: 127.0.0.2"), feed.last_error
    assert b"refused: 127.0.0.2" in logged_in(alice).get("/manage/health/").content


def test_refreshing_refuses_a_feed_that_turned_private_and_keeps_its_url(
    alice: User, net: Net
) -> None:
    sub = follow(alice, net.pub("/feed"))
    assert refresh_once(all_feeds=True).count("updated") == 1
    # The site now sends every request to a private address, for good.
    net.public.routes["/feed"] = Reply(301, {"Location": net.priv("/feed")})
    summary = refresh_once(all_feeds=True)
    assert summary.count("updated") == 0
    feed = Feed.objects.get(pk=sub.feed_id)
    assert feed.url == net.pub("/feed")  # the permanent redirect is not saved (fastladder#575)
    assert feed.last_error.startswith("refused: 127.0.0.2 is a loopback address")
    client = logged_in(alice)
    assert b"refused: 127.0.0.2" in client.get("/manage/health/").content
    # Both refresh buttons go the same way.
    Feed.objects.filter(pk=feed.pk).update(last_fetched_at=None)
    client.post(f"/manage/subscriptions/{sub.pk}/refresh")
    Feed.objects.filter(pk=feed.pk).update(last_fetched_at=None)
    client.post(f"/f/{feed.pk}/refresh")
    feed.refresh_from_db()
    assert feed.url == net.pub("/feed") and feed.last_error.startswith("refused")


def test_a_name_whose_dns_answer_turns_private_is_refused_at_the_next_fetch(
    alice: User, net: Net
) -> None:
    url = net.public.url("/feed", host="rebind.example")
    net.private.routes["/feed"] = Reply(body=RSS)
    assert logged_in(alice).post("/manage/subscriptions/add", {"url": url}).status_code == 303
    refresh_once(all_feeds=True)
    feed = Feed.objects.get(url=url)
    assert feed.last_error.startswith("refused: rebind.example resolves to 127.0.0.2"), (
        feed.last_error
    )


def test_favicons_are_never_fetched_from_a_private_address(alice: User, net: Net) -> None:
    icon_url = net.priv("/icon.png")
    net.public.routes["/feed"] = Reply(
        body=RSS.replace(
            b"<item>",
            f"<image><url>{icon_url}</url><title>i</title><link>x</link></image><item>".encode(),
        ).replace(b"http://public.example/", net.pub("/site").encode())
    )
    net.public.routes["/site"] = Reply(
        headers={"Content-Type": "text/html"},
        body=f'<html><head><link rel="icon" href="{icon_url}"></head></html>'.encode(),
    )
    follow(alice, net.pub("/feed"))
    refresh_once(all_feeds=True)
    feed = Feed.objects.get(url=net.pub("/feed"))
    assert feed.favicon is None and feed.last_error == ""


def test_opml_import_of_private_feeds_fetches_nothing_and_refreshing_refuses_them(
    alice: User, net: Net
) -> None:
    outlines = "".join(
        f'<outline type="rss" text="f{i}" xmlUrl="{url}"/>'
        for i, url in enumerate(private_urls(net)[:6])
    )
    opml = f'<opml version="2.0"><body>{outlines}</body></opml>'.encode()
    client = logged_in(alice)
    upload = SimpleUploadedFile("feeds.opml", opml, content_type="text/x-opml")
    response = client.post("/manage/opml/import", {"file": upload})
    assert response.status_code in (303, 400)
    refresh_once(all_feeds=True)
    for feed in Feed.objects.all():
        assert feed.last_error.startswith("refused: "), (feed.url, feed.last_error)


def test_the_google_reader_quickadd_refuses_private_addresses_and_redirects(
    alice: User, net: Net
) -> None:
    with_api_password(alice)
    gr = GReader(Client())
    assert gr.login("alice").status_code == 200
    net.public.routes["/away"] = Reply(302, {"Location": net.priv("/feed")})
    for url in [*private_urls(net), net.pub("/away")]:
        response = gr.post("reader/api/0/subscription/quickadd", {"quickadd": url})
        answer = response.json()
        assert response.status_code == 200 and answer["numResults"] == 0, url
        assert "refused: " in answer["error"], (url, answer)
    assert not Subscription.objects.exists()


@override_settings(LISEUSE_WEBSUB_CALLBACK_URL="https://reader.example")
def test_websub_asks_a_public_hub_and_never_a_private_one(
    alice: User,
    net: Net,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Hubs over HTTPS: liseuse asks no other (its form carries the secret).
    public_hubs = LocalServer(
        {
            "/hub": Reply(status=202),
            # A public hub that sends its subscribers elsewhere: no redirect is followed.
            "/moved-hub": Reply(status=307, headers={"Location": net.priv("/hub")}),
        },
        tls=trusted_tls(monkeypatch, tmp_path, check_hostname=False),
    )
    private_hubs = [url.replace("http://", "https://", 1) for url in private_urls(net)]
    hubs = [
        public_hubs.url("/hub", host="public.example"),
        public_hubs.url("/moved-hub", host="public.example"),
        *private_hubs,
    ]
    for n, hub in enumerate(hubs):
        feed = Feed.objects.create(url=net.pub(f"/feed?{n}"), hub_url=hub)
        Subscription.objects.create(user=alice, feed=feed)
    with public_hubs, caplog.at_level(logging.INFO, logger="liseuse.websub"):
        assert websub.maintain(limit=len(hubs)) == len(hubs)
    # The public hub got its form; the fixture checks that the private server heard nothing,
    # a POST included.
    assert sorted(r.path for r in public_hubs.requests) == ["/hub", "/moved-hub"]
    [asked] = [r for r in public_hubs.requests if r.path == "/hub"]
    assert asked.method == "POST" and b"hub.mode=subscribe" in asked.body
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    moved = "websub: subscription refused: the hub answered 307"
    assert refusals.count(moved) == 1
    # Every private hub was refused by the guard, in words, before any connection.
    guard = "websub: subscription refused: refused: "
    by_guard = [r for r in refusals if r.startswith(guard) and "_NETWORKS to allow)" in r]
    assert len(by_guard) == len(refusals) - 1 == len(hubs) - 2
