from __future__ import annotations

from liseuse.pipeline.favicon import icon_links
from liseuse.pipeline.favicon import sniff_image


def test_images_are_recognised_by_their_bytes_not_their_name() -> None:
    assert sniff_image(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff_image(b"GIF89a...") == "image/gif"
    assert sniff_image(b"\x00\x00\x01\x00\x01\x00") == "image/x-icon"
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_image(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None
    assert sniff_image(b'  <?xml version="1.0"?><svg xmlns="x"/>') == "image/svg+xml"
    assert sniff_image(b"<html><body>404</body></html>") is None
    assert sniff_image(b"") is None


def test_icon_links_are_absolute_and_http_only() -> None:
    page = (
        b'<html><head><link rel="shortcut icon" href="/a.ico"><link rel="apple-touch-icon" '
        b'href="https://cdn.example/b.png"><link rel="icon" href="javascript:alert(1)">'
        b'<link rel="stylesheet" href="/s.css"></head></html>'
    )
    assert icon_links(page, "https://site.example/blog/") == [
        "https://site.example/a.ico",
        "https://cdn.example/b.png",
    ]
    assert icon_links(b"", "https://site.example/") == []
