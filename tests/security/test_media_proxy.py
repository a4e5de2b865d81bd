"""The optional media proxy: entries' media through liseuse, and never a way to fetch anything
else (only URLs liseuse signed, only media, never private addresses unless allowed)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import pytest
from django.core import signing
from django.test import Client
from django.test import override_settings
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.feeds import media
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from tests.httpserver import LargeFile
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.httpserver import Route
from tests.httpserver import pattern_bytes

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
CONTENT = (
    '<p>Voir <img src="https://images.example/a.png?x=1&amp;y=2" alt="a" loading="lazy"> et '
    '<img src="https://images.example/b.png" srcset="https://images.example/b1.png 1x, '
    'https://images.example/b2.png 2x" alt="b"></p>'
)


@pytest.fixture
def entry(alice: User) -> Entry:
    feed = Feed.objects.create(url="https://site.example/feed", title="Site")
    Subscription.objects.create(user=alice, feed=feed)
    item = Entry.objects.create(
        feed=feed,
        identity="e1",
        content_hash="h",
        title="Images",
        content=CONTENT,
        published=timezone.now(),
    )
    EntryState.objects.create(user=alice, entry=item, feed=feed, sort_date=item.published)
    return item


@pytest.fixture
def proxy_on() -> Iterator[None]:
    with override_settings(LISEUSE_MEDIA_PROXY=True):
        yield


def test_off_by_default_nothing_is_rewritten_and_the_route_is_gone(
    client: Client, alice: User, entry: Entry
) -> None:
    client.force_login(alice)
    page = client.get("/?state=all").content.decode()
    assert "https://images.example/a.png" in page and "/media/" not in page
    assert (
        client.get(
            f"/media/{signing.dumps('https://images.example/a.png', salt=media.SALT)}"
        ).status_code
        == 404
    )


def test_on_every_media_url_goes_through_liseuse_and_round_trips(
    client: Client, alice: User, entry: Entry, proxy_on: None
) -> None:
    client.force_login(alice)
    page = client.get("/?state=all").content.decode()
    assert "https://images.example/" not in page
    tokens = re.findall(r"/media/([^\"\s,]+)", page)
    assert len(tokens) == 4  # two src and two srcset candidates
    assert {media.unsign(t) for t in tokens} == {
        "https://images.example/a.png?x=1&y=2",
        "https://images.example/b.png",
        "https://images.example/b1.png",
        "https://images.example/b2.png",
    }


def test_apps_get_absolute_proxy_urls(
    client: Client, alice: User, entry: Entry, proxy_on: None
) -> None:
    alice.set_api_password("api-secret-1")
    alice.save()
    key = hashlib.md5(b"alice:api-secret-1").hexdigest()
    fever = client.post("/api/fever.php?api&items", {"api_key": key}).json()
    html = fever["items"][0]["html"]
    assert "https://images.example/" not in html and 'src="http://testserver/media/' in html
    login = client.post("/accounts/ClientLogin", {"Email": "alice", "Passwd": "api-secret-1"})
    token = login.content.decode().splitlines()[-1].removeprefix("Auth=")
    stream = client.get(
        "/reader/api/0/stream/contents/user/-/state/com.google/reading-list",
        HTTP_AUTHORIZATION=f"GoogleLogin auth={token}",
    ).json()
    content = stream["items"][0]["summary"]["content"]
    assert "https://images.example/" not in content and "http://testserver/media/" in content


def test_apps_get_an_entrys_media_attachments_through_the_proxy(
    client: Client, alice: User, entry: Entry, proxy_on: None
) -> None:
    # Google Reader's `enclosure` field and the Atom streams' enclosure links gave the sites'
    # addresses, while the entry's HTML and the pages went through the proxy.
    Entry.objects.filter(pk=entry.pk).update(
        enclosures=[
            {"url": "https://podcast.example/e1.mp3", "type": "audio/mpeg", "length": 5},
            {"url": "https://site.example/guide.pdf", "type": "application/pdf"},
        ]
    )
    alice.set_api_password("api-secret-1")
    alice.save()
    login = client.post("/accounts/ClientLogin", {"Email": "alice", "Passwd": "api-secret-1"})
    auth = {"Authorization": f"GoogleLogin auth={login.content.decode().split('Auth=')[-1]}"}
    stream = client.get(
        "/reader/api/0/stream/contents/user/-/state/com.google/reading-list", headers=auth
    ).json()
    sound, pdf = stream["items"][0]["enclosure"]
    assert sound["href"].startswith("http://testserver/media/")
    assert media.unsign(sound["href"].rsplit("/", 1)[-1]) == "https://podcast.example/e1.mp3"
    assert pdf["href"] == "https://site.example/guide.pdf"  # not a medium the proxy serves
    atom = client.get("/reader/atom/user/-/state/com.google/reading-list", headers=auth)
    assert b"podcast.example" not in atom.content and b"http://testserver/media/" in atom.content


def test_the_proxy_serves_media_under_a_sandbox_and_refuses_the_rest(
    client: Client, proxy_on: None
) -> None:
    routes = {
        "/a.png": Reply(headers={"Content-Type": "image/png"}, body=PNG),
        "/page": Reply(headers={"Content-Type": "text/html"}, body=b"<script>alert(1)</script>"),
        "/x.svg": Reply(headers={"Content-Type": "image/svg+xml"}, body=b"<svg onload=alert(1)/>"),
    }
    with LocalServer(routes) as server, override_settings(LISEUSE_ALLOWED_NETWORKS=["127.0.0.0/8"]):
        image = client.get(media.proxied(server.url("/a.png")))
        assert image.status_code == 200 and image.content == PNG
        assert (
            image["Content-Type"] == "image/png" and "sandbox" in image["Content-Security-Policy"]
        )
        assert client.get(media.proxied(server.url("/page"))).status_code == 415
        assert client.get(media.proxied(server.url("/x.svg"))).status_code == 415
        assert client.get(media.proxied(server.url("/missing"))).status_code == 502


def test_only_urls_the_instance_signed_and_never_private_addresses(
    client: Client, proxy_on: None
) -> None:
    with LocalServer({"/a.png": Reply(headers={"Content-Type": "image/png"}, body=PNG)}) as server:
        forged = signing.dumps(server.url("/a.png"), salt="another salt", compress=True)
        assert client.get(f"/media/{forged}").status_code == 404
        assert client.get("/media/not-a-token").status_code == 404
        refused = client.get(media.proxied(server.url("/a.png")))  # the guard is on by default
        assert refused.status_code == 502 and refused.content == b"could not fetch the media"
        # Opened for intranet feeds, the guard stays on for the proxy: any feed's author
        # would otherwise have liseuse fetch from its network for whoever opens the page.
        with override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True):
            assert client.get(media.proxied(server.url("/a.png"))).status_code == 502
        assert server.requests == []
        with override_settings(LISEUSE_ALLOWED_NETWORKS=["127.0.0.1"]):  # named: open
            assert client.get(media.proxied(server.url("/a.png"))).content == PNG


@pytest.mark.parametrize(
    "content_type",
    ["image/png,text/html", "image/png, text/javascript", "image/png,image/svg+xml", "image/"],
)
def test_a_type_that_only_begins_like_an_image_is_refused(
    client: Client, proxy_on: None, content_type: str
) -> None:
    # A browser takes the last of a list of types: "image/png,text/html" was sent back as it
    # came, and the page (or, loaded by <script>, a script) ran from liseuse's own address.
    body = b"<script>alert(1)</script>"
    with (
        LocalServer({"/x": Reply(headers={"Content-Type": content_type}, body=body)}) as server,
        override_settings(LISEUSE_ALLOWED_NETWORKS=["127.0.0.0/8"]),
    ):
        answer = client.get(media.proxied(server.url("/x")))
    assert answer.status_code == 415 and body not in answer.content


def test_the_type_sent_back_is_the_clean_one(client: Client, proxy_on: None) -> None:
    with (
        LocalServer(
            {"/a": Reply(headers={"Content-Type": " IMAGE/PNG ; name=x"}, body=PNG)}
        ) as server,
        override_settings(LISEUSE_ALLOWED_NETWORKS=["127.0.0.0/8"]),
    ):
        answer = client.get(media.proxied(server.url("/a")))
    assert answer.status_code == 200 and answer["Content-Type"] == "image/png"


def test_attachments_players_go_through_the_proxy_too(
    client: Client, alice: User, entry: Entry, proxy_on: None
) -> None:
    episode = "https://pod.example/episode.mp3"
    Entry.objects.filter(pk=entry.pk).update(
        enclosures=[{"url": episode, "type": "audio/mpeg", "length": 1000}]
    )
    client.force_login(alice)
    page = client.get("/?state=all").content.decode()
    player = re.search(r'<audio controls preload="none" src="/media/([^"]+)"></audio>', page)
    assert player is not None and media.unsign(player[1]) == episode
    assert f'src="{episode}"' not in page


def test_an_embedded_player_is_left_to_its_own_host(
    client: Client, alice: User, entry: Entry, proxy_on: None
) -> None:
    # The proxy serves media, not pages: a player's page through it would not load, and from
    # liseuse's own origin its sandbox (allow-scripts allow-same-origin) would mean nothing.
    player = (
        '<iframe src="https://www.youtube-nocookie.com/embed/abc" width="560"'
        ' sandbox="allow-scripts allow-same-origin allow-popups" loading="lazy"></iframe>'
    )
    Entry.objects.filter(pk=entry.pk).update(content=player + CONTENT)
    client.force_login(alice)
    page = client.get("/?state=all").content.decode()
    assert player in page
    assert "https://images.example/" not in page and len(re.findall(r"/media/", page)) == 4


# Audio and video in parts: a podcast episode plays and seeks, the proxy holding a chunk at most

EPISODE = 60 * 1024 * 1024  # a long episode; `LargeFile` makes it up as it is sent


def asked_sizes(server: LocalServer) -> list[int]:
    """How many bytes each request the site received asked for (all of them ask a part)."""
    sizes = []
    for request in server.requests:
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", request.headers.get("range", ""))
        assert match is not None, request.headers
        sizes.append(int(match[2]) - int(match[1]) + 1)
    return sizes


def test_a_long_episode_plays_and_seeks_in_parts(client: Client, proxy_on: None) -> None:
    chunk = media.chunk_bytes()
    episode = LargeFile(EPISODE, "audio/mpeg")
    with (
        LocalServer({"/e.mp3": episode}) as server,
        override_settings(LISEUSE_ALLOWED_NETWORKS=["127.0.0.0/8"]),
    ):
        url = media.proxied(server.url("/e.mp3"))
        answers = {
            "none": client.get(url),
            "start": client.get(url, HTTP_RANGE="bytes=0-"),
            "seek": client.get(url, HTTP_RANGE="bytes=50000000-"),
            "probe": client.get(url, HTTP_RANGE="bytes=0-1"),  # Safari asks this first
            "end": client.get(url, HTTP_RANGE=f"bytes={EPISODE - 1000}-"),
            "past": client.get(url, HTTP_RANGE=f"bytes={EPISODE}-"),
        }
    for name in ("none", "start", "seek", "probe", "end"):
        answer = answers[name]
        assert answer.status_code == 206, name
        assert answer["Content-Type"] == "audio/mpeg" and answer["Accept-Ranges"] == "bytes"
        assert answer["Content-Security-Policy"] == "default-src 'none'; sandbox"
        assert answer["X-Content-Type-Options"] == "nosniff"
    for name in ("none", "start"):
        assert answers[name]["Content-Range"] == f"bytes 0-{chunk - 1}/{EPISODE}"
        assert answers[name].content == pattern_bytes(0, chunk)
    seek = answers["seek"]
    assert seek["Content-Range"] == f"bytes 50000000-{50000000 + chunk - 1}/{EPISODE}"
    assert seek.content == pattern_bytes(50_000_000, chunk)
    assert answers["probe"]["Content-Range"] == f"bytes 0-1/{EPISODE}"
    assert answers["probe"].content == pattern_bytes(0, 2)
    assert answers["end"]["Content-Range"] == f"bytes {EPISODE - 1000}-{EPISODE - 1}/{EPISODE}"
    assert answers["end"].content == pattern_bytes(EPISODE - 1000, 1000)
    assert answers["past"].status_code == 416
    assert answers["past"]["Content-Range"] == f"bytes */{EPISODE}"  # where the file ends
    # Never the whole file, nor more than a chunk, asked of the site or read from it.
    assert max(asked_sizes(server)) <= chunk
    assert episode.sent == 3 * chunk + 2 + 1000


def test_a_site_ignoring_ranges_still_plays_from_the_start(client: Client, proxy_on: None) -> None:
    chunk = media.chunk_bytes()
    episode = LargeFile(EPISODE, "audio/mpeg", ranges=False)
    with (
        LocalServer({"/e.mp3": episode}) as server,
        override_settings(LISEUSE_ALLOWED_NETWORKS=["127.0.0.0/8"]),
    ):
        url = media.proxied(server.url("/e.mp3"))
        start = client.get(url, HTTP_RANGE="bytes=0-")
        read_for_start = episode.sent
        none = client.get(url)
        # Within the first LISEUSE_MEDIA_PROXY_MAX_BYTES (what the proxy ever passed on of a
        # file), the part is cut out of the whole body as it passes; beyond, it is refused.
        near = client.get(url, HTTP_RANGE="bytes=5000000-")
        far = client.get(url, HTTP_RANGE="bytes=50000000-")
    for answer in (start, none):
        assert answer.status_code == 206 and answer.content == pattern_bytes(0, chunk)
        assert answer["Content-Range"] == f"bytes 0-{chunk - 1}/{EPISODE}"
    assert near.status_code == 206 and near.content == pattern_bytes(5_000_000, chunk)
    assert near["Content-Range"] == f"bytes 5000000-{5_000_000 + chunk - 1}/{EPISODE}"
    assert far.status_code == 502 and b"larger than 20 MB" in far.content
    assert max(asked_sizes(server)) <= chunk
    # The rest of the body is left unread (beyond what the sockets' buffers took).
    assert read_for_start < EPISODE // 2


def test_without_a_range_what_fits_is_answered_whole_as_before(
    client: Client, proxy_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only a Range may get a 206: an app or a download without one gets the whole file when
    # it fits the cap, as before. Browsers' players always send one.
    monkeypatch.setattr(media, "CHUNK_BYTES", 1000)
    routes: dict[str, Route] = {
        "/short.mp3": LargeFile(800, "audio/mpeg"),
        "/longer.mp3": LargeFile(5000, "audio/mpeg"),
        "/big.png": LargeFile(5000, "image/png"),
        "/plain.png": Reply(headers={"Content-Type": "image/png"}, body=PNG),  # ignores Range
        "/empty.png": Reply(headers={"Content-Type": "image/png"}, body=b""),
    }
    with LocalServer(routes) as server, override_settings(LISEUSE_ALLOWED_NETWORKS=["127.0.0.0/8"]):
        for path, size in (("/short.mp3", 800), ("/longer.mp3", 5000), ("/big.png", 5000)):
            whole = client.get(media.proxied(server.url(path)))
            assert whole.status_code == 200 and whole.content == pattern_bytes(0, size), path
            assert "Content-Range" not in whole and whole["Accept-Ranges"] == "bytes"
            part = client.get(media.proxied(server.url(path)), HTTP_RANGE="bytes=0-")
            assert part.status_code == 206, path
            assert part["Content-Range"] == f"bytes 0-{min(size, 1000) - 1}/{size}"
        plain = client.get(media.proxied(server.url("/plain.png")))
        assert plain.status_code == 200 and plain.content == PNG
        empty = client.get(media.proxied(server.url("/empty.png")))
        assert empty.status_code == 200 and empty.content == b""
