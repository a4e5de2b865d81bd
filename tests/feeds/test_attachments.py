"""An entry's attachments shown after its content: players, pictures, links, nothing unsafe."""

from __future__ import annotations

from html import escape

import pytest
from django.utils import translation

from liseuse.feeds.attachments import attachments_html
from liseuse.feeds.attachments import with_attachments

EPISODE = {"url": "https://pod.example/ep%2012.mp3", "type": "audio/mpeg", "length": 24_000_000}


def test_audio_video_and_images_get_a_player_and_a_link_with_type_and_size() -> None:
    html = attachments_html(
        [
            EPISODE,
            {"url": "https://v.example/clip.mp4", "type": "video/mp4", "length": None},
            {"url": "https://i.example/a.jpg?w=2&h=1", "type": "image/jpeg", "length": 0},
            {"url": "https://f.example/notes.pdf", "type": "application/pdf", "length": 2048},
        ]
    )
    with translation.override("en"):
        html_en = attachments_html([EPISODE])
    assert html_en == (
        '<figure class="enclosure"><audio controls preload="none"'
        ' src="https://pod.example/ep%2012.mp3"></audio><figcaption>'
        '<a href="https://pod.example/ep%2012.mp3" rel="noopener noreferrer" target="_blank">'
        "ep 12.mp3</a> (audio/mpeg, 22.9\xa0MB)</figcaption></figure>"
    )
    assert '<video controls preload="none" src="https://v.example/clip.mp4"></video>' in html
    assert ">clip.mp4</a> (video/mp4)<" in html  # no length: no size
    # A picture is itself, without a caption.
    assert (
        '<figure class="enclosure"><img src="https://i.example/a.jpg?w=2&amp;h=1" alt=""'
        ' loading="lazy"></figure>'
    ) in html
    assert ">notes.pdf</a> (application/pdf, 2.0" in html  # a link, no player
    assert '<figure class="enclosure"><figcaption><a href="https://f.example/notes.pdf"' in html
    assert html.count("<figure") == 4


def test_a_picture_already_in_the_content_is_not_shown_twice() -> None:
    content = '<p><img src="https://i.example/a.jpg?w=2&amp;h=1"></p>'
    enclosure = {"url": "https://i.example/a.jpg?w=2&h=1", "type": "image/jpeg"}
    assert with_attachments(content, [enclosure]) == content


def test_a_videos_still_is_shown_and_its_flash_file_is_not() -> None:
    # What YouTube's feeds give, once stored: the flash player's address and the still.
    html = attachments_html(
        [
            {
                "url": "https://www.youtube.com/v/abc?version=3",
                "type": "application/x-shockwave-flash",
            },
            {"url": "https://i1.ytimg.com/vi/abc/hqdefault.jpg", "type": "image", "length": None},
        ]
    )
    assert html == (
        '<figure class="enclosure"><img src="https://i1.ytimg.com/vi/abc/hqdefault.jpg" alt=""'
        ' loading="lazy"></figure>'
    )


@pytest.mark.parametrize(
    "enclosures",
    [
        None,
        "https://x.example/a.mp3",
        [],
        [{"url": "javascript:alert(1)", "type": "audio/mpeg"}],
        [{"url": "data:audio/mpeg;base64,AAAA", "type": "audio/mpeg"}],
        [{"url": 12, "type": "audio/mpeg"}],
        ["https://x.example/a.mp3"],
    ],
)
def test_nothing_is_shown_of_what_is_not_a_web_address(enclosures: object) -> None:
    assert attachments_html(enclosures) == ""


def test_what_a_feed_wrote_is_escaped() -> None:
    html = attachments_html(
        [
            {
                "url": 'https://x.example/"><script>alert(1)</script>/%3Cb%3E.mp3',
                "type": 'audio/mpeg"><script>',
                "length": True,
            }
        ]
    )
    assert "<script>" not in html and "<b>" not in html
    assert 'src="https://x.example/&quot;&gt;&lt;script&gt;' in html
    # No file name, the host: a name made of markup is no name to show, even escaped.
    assert ">x.example</a> (audio/mpeg&quot;&gt;&lt;script&gt;)" in html


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://pod.example/ep%2012.mp3", "ep 12.mp3"),
        ("https://pod.example/épisode-3_(final).ogg", "épisode-3_(final).ogg"),
        ("https://pod.example/a/href=javascript:alert(1)", "pod.example"),
        ("https://pod.example/%22onmouseover=x", "pod.example"),
        ("https://pod.example/", "pod.example"),
    ],
)
def test_a_file_is_named_by_its_name_when_it_looks_like_one(url: str, name: str) -> None:
    html = attachments_html([{"url": url, "type": "application/octet-stream"}])
    assert f'target="_blank">{escape(name)}</a>' in html
