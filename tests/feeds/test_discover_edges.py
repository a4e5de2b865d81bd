"""Discovery on the pages real sites serve: links that only look like feeds, and redirects."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from liseuse.accounts.models import User
from liseuse.feeds.models import Feed
from liseuse.feeds.subscribe import SubscribeError
from liseuse.feeds.subscribe import subscribe_url
from liseuse.pipeline.discover import MAX_CHECKED_LINKS
from tests.httpserver import LocalServer
from tests.httpserver import Reply

pytestmark = pytest.mark.django_db(transaction=True)

RSS = (
    b'<rss version="2.0"><channel><title>Le flux</title><item><guid>1</guid></item></channel></rss>'
)
# What WordPress (5.5 and later) links from its pages as rel="alternate" type="application/json":
# its REST API's view of the page, JSON that is no feed.
WP_JSON = b'{"id": 2, "slug": "accueil", "title": {"rendered": "Accueil"}}'


def page(*links: str) -> Reply:
    return Reply(
        headers={"Content-Type": "text/html; charset=utf-8"},
        body=f"<html><head>{''.join(links)}</head><body>Bonjour</body></html>".encode(),
    )


def redirect(status: int, location: str) -> Reply:
    return Reply(status, {"Location": location})


@pytest.fixture(autouse=True)
def _allow_loopback() -> Iterator[None]:
    with override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True):
        yield


def test_a_wordpress_rest_api_link_is_not_offered_as_a_feed(alice: User) -> None:
    routes = {
        "/": page(
            '<link rel="alternate" type="application/rss+xml" title="Flux" href="/feed/">',
            '<link rel="alternate" title="JSON" type="application/json" '
            'href="/wp-json/wp/v2/pages/2">',
        ),
        "/feed/": Reply(body=RSS),
        "/wp-json/wp/v2/pages/2": Reply(headers={"Content-Type": "application/json"}, body=WP_JSON),
    }
    with LocalServer(routes) as server:
        # The only feed of the page: followed without asking.
        sub = subscribe_url(alice, server.url("/"))
    assert sub.feed.url == server.url("/feed/")


def test_a_page_whose_only_json_link_is_no_feed_falls_back_on_the_common_paths(
    alice: User,
) -> None:
    routes = {
        "/": page('<link rel="alternate" type="application/json" href="/wp-json/wp/v2/pages/2">'),
        "/wp-json/wp/v2/pages/2": Reply(headers={"Content-Type": "application/json"}, body=WP_JSON),
        "/feed": Reply(body=RSS),
    }
    with LocalServer(routes) as server:
        sub = subscribe_url(alice, server.url("/"))
    assert sub.feed.url == server.url("/feed")


def test_a_json_feed_announced_as_plain_json_is_still_found(alice: User) -> None:
    feed = b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": []}'
    routes = {
        "/": page('<link rel="alternate" type="application/json" href="/feed.json">'),
        "/feed.json": Reply(headers={"Content-Type": "application/json"}, body=feed),
    }
    with LocalServer(routes) as server:
        sub = subscribe_url(alice, server.url("/"))
    assert sub.feed.url == server.url("/feed.json")


@pytest.mark.parametrize("status", [302, 307])
def test_a_feed_behind_a_temporary_redirect_is_followed_at_the_url_given(
    alice: User, status: int
) -> None:
    # The target of a temporary redirect (a signed CDN address, a mirror for today) is not the
    # feed's address: stored, it would be asked for long after it stopped answering.
    routes = {"/rss": redirect(status, "/cdn/rss?expires=1"), "/cdn/rss": Reply(body=RSS)}
    with LocalServer(routes) as server:
        sub = subscribe_url(alice, server.url("/rss"))
    assert sub.feed.url == server.url("/rss")


def test_a_feed_behind_a_permanent_redirect_is_followed_at_its_new_url(alice: User) -> None:
    routes = {"/old": redirect(301, "/rss"), "/rss": Reply(body=RSS)}
    with LocalServer(routes) as server:
        sub = subscribe_url(alice, server.url("/old"))
    assert sub.feed.url == server.url("/rss")


def test_a_common_path_behind_a_temporary_redirect_is_offered_at_that_path(alice: User) -> None:
    routes = {
        "/": page(),
        "/feed": redirect(302, "/feed?lang=fr"),
        "/feed?lang=fr": Reply(body=RSS),
    }
    with LocalServer(routes) as server:
        sub = subscribe_url(alice, server.url("/"))
    assert sub.feed.url == server.url("/feed")


def test_a_404_names_the_url_and_the_status(alice: User) -> None:
    with LocalServer({}) as server, pytest.raises(SubscribeError) as error:
        subscribe_url(alice, server.url("/nothing"))
    assert str(error.value) == f"could not fetch {server.url('/nothing')} (HTTP 404 Not Found)"


def test_a_feed_linked_with_another_spelling_is_the_same_shared_feed(
    alice: User, bob: User
) -> None:
    with LocalServer({"/rss": Reply(body=RSS)}) as server:
        server.routes["/"] = page(
            '<link rel="alternate" type="application/rss+xml" href="/rss#articles">'
        )
        first = subscribe_url(alice, server.url("/"))
        second = subscribe_url(bob, server.url("/rss"))
    assert first.feed_id == second.feed_id
    assert Feed.objects.get().url == server.url("/rss")


def test_a_page_with_many_json_links_has_only_a_few_fetched(alice: User) -> None:
    links = [
        f'<link rel="alternate" type="application/json" href="/wp-json/{n}">' for n in range(50)
    ]
    with LocalServer({"/": page(*links)}) as server, pytest.raises(SubscribeError, match="no feed"):
        subscribe_url(alice, server.url("/"))
    asked = [path for path in server.paths() if path.startswith("/wp-json/")]
    # The first few in page order, each once; the common paths are still tried after them.
    assert sorted(asked) == sorted(f"/wp-json/{n}" for n in range(MAX_CHECKED_LINKS))
    assert "/feed" in server.paths()


@pytest.mark.parametrize("content_type", ["image/png", "application/pdf", "audio/mpeg"])
def test_a_file_that_is_no_page_is_no_feed_even_if_its_site_has_feeds(
    alice: User, content_type: str
) -> None:
    # The common paths are for a page that names no feed; before, an image's address was said
    # to "offer several feeds": those found at its site's /feed and /atom.xml.
    routes = {
        "/images/logo": Reply(headers={"Content-Type": content_type}, body=b"\x89PNG\r\n\x1a\n"),
        "/feed": Reply(body=RSS),
        "/atom.xml": Reply(body=RSS),
    }
    with LocalServer(routes) as server, pytest.raises(SubscribeError, match="no feed found"):
        subscribe_url(alice, server.url("/images/logo"))
    assert server.paths() == ["/images/logo"]
    assert not Feed.objects.exists()


def test_a_page_served_as_plain_text_is_still_searched(alice: User) -> None:
    routes = {
        "/": Reply(headers={"Content-Type": "text/plain"}, body=b"Bienvenue"),
        "/feed": Reply(body=RSS),
    }
    with LocalServer(routes) as server:
        sub = subscribe_url(alice, server.url("/"))
    assert sub.feed.url == server.url("/feed")


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        ("application/rss+xml", b"not xml at all <<<", "holds no XML element"),
        ("application/xml", b"plain words", "neither XML nor JSON"),
        ("application/atom+xml", b"", "the body is empty"),
        ("text/xml", b'<?xml version="1.0"?><urlset><url/></urlset>', "<urlset>"),
        ("application/json", b'{"version": "1.0", "items": "nope"}', "JSON Feed"),
    ],
)
def test_a_broken_feed_says_why_rather_than_offer_its_sites_other_feeds(
    alice: User, content_type: str, body: bytes, reason: str
) -> None:
    # A feed, or XML or JSON, that does not parse: what is wrong with it is the answer. Its
    # site's feeds at the common paths were offered instead, as if it had named them.
    routes = {
        "/broken": Reply(headers={"Content-Type": content_type}, body=body),
        "/feed": Reply(body=RSS),
        "/atom.xml": Reply(body=RSS),
    }
    with LocalServer(routes) as server, pytest.raises(SubscribeError) as refused:
        subscribe_url(alice, server.url("/broken"))
    assert "no feed found" in str(refused.value) and reason in str(refused.value)
    assert server.paths() == ["/broken"]
    assert not Feed.objects.exists()


def test_an_html_page_served_as_xml_is_still_searched(alice: User) -> None:
    routes = {
        "/": Reply(
            headers={"Content-Type": "application/xml"},
            body=b"<!DOCTYPE html><html><head><title>Site</title></head><body>x</body></html>",
        ),
        "/feed": Reply(body=RSS),
    }
    with LocalServer(routes) as server:
        sub = subscribe_url(alice, server.url("/"))
    assert sub.feed.url == server.url("/feed")
