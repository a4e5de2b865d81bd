"""Google Reader's subscription/edit `ac=subscribe`: what quickadd does (a site's page leads to
its feed, a new feed is fetched at once), with an error for what leads to no feed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client
from django.test import override_settings

from liseuse.accounts.models import User
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from tests.greader.conftest import GReader
from tests.httpserver import LocalServer
from tests.httpserver import Reply

pytestmark = pytest.mark.django_db(transaction=True)

RSS = (
    b'<rss version="2.0"><channel><title>Le flux</title><link>http://127.0.0.1/</link>'
    b"<item><guid>1</guid><title>Un</title></item></channel></rss>"
)
PAGE = Reply(
    headers={"Content-Type": "text/html"},
    body=b'<html><head><link rel="alternate" type="application/rss+xml" href="/rss"></head></html>',
)


@pytest.fixture(autouse=True)
def _allow_loopback() -> Iterator[None]:
    with override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True):
        yield


def subscribe(gr: GReader, target: str, **more: str) -> tuple[int, bytes]:
    answer = gr.post("reader/api/0/subscription/edit", {"ac": "subscribe", "s": target, **more})
    return answer.status_code, answer.content


def test_subscribing_a_site_follows_its_feed_fetched_at_once(gr: GReader, reader: User) -> None:
    with LocalServer({"/": PAGE, "/rss": Reply(body=RSS)}) as server:
        code, body = subscribe(gr, f"feed/{server.url('/')}", t="Mon flux", a="user/-/label/Fun")
    assert (code, body) == (200, b"OK")
    sub = Subscription.objects.select_related("feed", "category").get(user=reader)
    assert sub.feed.url == server.url("/rss") and sub.feed.title == "Le flux"
    assert sub.title == "Mon flux" and sub.category is not None and sub.category.name == "Fun"
    entries = gr.json("reader/api/0/stream/contents/user/-/state/com.google/reading-list")
    assert [item["title"] for item in entries["items"]] == ["Un"]


@pytest.mark.parametrize(
    ("routes", "path", "said"),
    [
        ({"/": Reply(headers={"Content-Type": "text/html"}, body=b"<p>Bonjour</p>")}, "/", "feed"),
        ({}, "/nothere.xml", "404"),
    ],
)
def test_subscribing_what_leads_to_no_feed_is_a_400_that_says_why(
    gr: GReader, reader: User, routes: dict[str, Reply], path: str, said: str
) -> None:
    with LocalServer(routes) as server:
        code, body = subscribe(gr, f"feed/{server.url(path)}")
    assert code == 400 and said in body.decode()
    assert not Subscription.objects.filter(user=reader).exists()
    assert not Feed.objects.exists()


def test_a_feed_id_that_is_not_the_persons_is_not_taken_for_a_url(
    gr: GReader, reader: User, bob: User
) -> None:
    # Before, feed/5 became a subscription to "https://5/".
    with LocalServer({"/rss": Reply(body=RSS)}) as server:
        bobs = Subscription.objects.create(
            user=bob, feed=Feed.objects.create(url=server.url("/rss"))
        )
        code, body = subscribe(gr, f"feed/{bobs.feed_id}")
    assert code == 400 and b"subscribe with feed/<URL>" in body
    assert not Subscription.objects.filter(user=reader).exists()
    assert Feed.objects.count() == 1


def test_subscribing_by_get_as_some_apps_do_works_too(client: Client, reader: User) -> None:
    gr = GReader(client)
    assert gr.login("alice").status_code == 200
    with LocalServer({"/rss": Reply(body=RSS)}) as server:
        answer = gr.get(
            "reader/api/0/subscription/edit", ac="subscribe", s=f"feed/{server.url('/rss')}"
        )
    assert answer.status_code == 200 and answer.content == b"OK"
    assert Subscription.objects.get(user=reader).feed.title == "Le flux"
