"""A long podcast episode through the media proxy, in a real browser (Chromium): it plays on from
one part to the next and seeks far into the file, the proxy never asking the site for more
than a chunk."""

from __future__ import annotations

import re
import struct
from typing import TYPE_CHECKING

import pytest
from django.test import override_settings

from liseuse.feeds import media
from tests.httpserver import LargeFile
from tests.httpserver import LocalServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from playwright.sync_api import Route
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)

RATE = 8000  # 8-bit mono samples a second: any byte is a sample, so the pattern plays
SIZE = 60 * 1024 * 1024  # two hours and ten minutes
CHUNK = 64 * 1024  # eight seconds: played through several times over in a second at 16x


def wav_header(size: int) -> bytes:
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE, 1, 8)  # PCM, mono, 8 bits
    return (
        b"RIFF"
        + struct.pack("<I", size - 8)
        + b"WAVEfmt "
        + fmt
        + b"data"
        + struct.pack("<I", size - 44)
    )


def test_chromium_plays_a_long_episode_part_after_part_and_seeks(
    browser: Browser, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(media, "CHUNK_BYTES", CHUNK)
    episode = LargeFile(SIZE, "audio/wav", head=wav_header(SIZE))
    with (
        LocalServer({"/episode.wav": episode}) as server,
        override_settings(LISEUSE_MEDIA_PROXY=True, LISEUSE_ALLOWED_NETWORKS=["127.0.0.0/8"]),
    ):
        src = live_server.url + media.proxied(server.url("/episode.wav"))
        page = browser.new_page()

        # A bare page of the live server's origin (liseuse's own pages forbid the evaluated
        # scripts Playwright's waiting uses), holding the player as entries do.
        def player(route: Route) -> None:
            body = f'<audio id="a" controls preload="none" muted src="{src}"></audio>'
            route.fulfill(content_type="text/html", body=body)

        page.route(f"{live_server.url}/player", player)
        page.goto(f"{live_server.url}/player")
        page.evaluate("() => { const a = document.getElementById('a'); a.playbackRate = 16; }")
        page.evaluate("() => document.getElementById('a').play()")
        # Past the end of the first parts: the browser asked for the next ones itself.
        page.wait_for_function("() => document.getElementById('a').currentTime > 3 * 8.2")
        duration = page.evaluate("() => document.getElementById('a').duration")
        assert duration == pytest.approx((SIZE - 44) / RATE)  # the total came through
        page.evaluate("() => { document.getElementById('a').currentTime = 6000; }")
        page.wait_for_function("() => document.getElementById('a').currentTime > 6000 + 2 * 8.2")
        page.close()
    asked = [re.fullmatch(r"bytes=(\d+)-(\d+)", r.headers["range"]) for r in server.requests]
    assert all(match is not None for match in asked)
    parts = [(int(match[1]), int(match[2])) for match in asked if match is not None]
    assert max(last - first + 1 for first, last in parts) <= CHUNK
    assert any(first >= 6000 * RATE for first, _ in parts)
    # Only the parts asked for left the site: not the file up to the point sought.
    assert episode.sent < 6000 * RATE // 4
