"""Feed addresses: how two spellings of one address are told to be the same (`address_key`)."""

from __future__ import annotations

import pytest

from liseuse.feeds.urls import address_key


@pytest.mark.parametrize(
    ("typed", "fetched"),
    [
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),  # a redirect's bare host
        ("https://example.org/caf%c3%a9", "https://example.org/caf%C3%A9"),
        ("https://example.org/naïve", "https://example.org/na%C3%AFve"),
        ("https://bücher.example/feed", "https://xn--bcher-kva.example/feed"),
        ("https://example.org:443/feed", "https://example.org/feed"),
        ("http://Example.ORG/feed#top", "http://example.org/feed"),
        ("http://[::1]:8080/feed", "http://[::1]:8080/feed"),
    ],
)
def test_spellings_of_one_address_have_one_key(typed: str, fetched: str) -> None:
    assert address_key(typed) == address_key(fetched) is not None


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("http://example.org/feed", "https://example.org/feed"),
        ("https://example.org/feed", "https://example.org/feed/"),
        ("https://example.org/Feed", "https://example.org/feed"),
        ("https://example.org/feed?page=1", "https://example.org/feed?page=2"),
        ("https://example.org:8443/feed", "https://example.org/feed"),
        ("https://a:b@example.org/feed", "https://example.org/feed"),
    ],
)
def test_other_addresses_have_other_keys(one: str, other: str) -> None:
    assert address_key(one) != address_key(other)


@pytest.mark.parametrize("url", ["/feed", "feed.xml", "", "http://[::1/feed"])
def test_what_is_no_absolute_address_has_no_key(url: str) -> None:
    assert address_key(url) is None
