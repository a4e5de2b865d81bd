"""URL helpers: absolute URLs, allowed schemes, tracking parameters."""

from __future__ import annotations

import pytest

from liseuse.pipeline.urls import LINK_SCHEMES
from liseuse.pipeline.urls import absolutize
from liseuse.pipeline.urls import host_of
from liseuse.pipeline.urls import is_tracking_param
from liseuse.pipeline.urls import safe_url
from liseuse.pipeline.urls import strip_tracking_params

BASE = "https://example.com/blog/2024/post.html"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("other.html", "https://example.com/blog/2024/other.html"),
        ("/about", "https://example.com/about"),
        ("../img/a.png", "https://example.com/blog/img/a.png"),
        ("?page=2", "https://example.com/blog/2024/post.html?page=2"),
        ("#fn1", "https://example.com/blog/2024/post.html#fn1"),
        ("//cdn.example.net/a.png", "https://cdn.example.net/a.png"),
        ("http://other.example/x", "http://other.example/x"),
        ("  /padded\n ", "https://example.com/padded"),
        ("/with space", "https://example.com/with%20space"),
    ],
)
def test_it_makes_relative_urls_absolute_against_the_base(url: str, expected: str) -> None:
    assert absolutize(url, BASE) == expected


def test_it_reads_a_scheme_relative_url_as_https_when_there_is_no_base() -> None:
    assert absolutize("//cdn.example.net/a.png", None) == "https://cdn.example.net/a.png"


def test_it_gives_nothing_for_a_relative_url_without_a_base() -> None:
    assert absolutize("/about", None) is None
    assert absolutize("/about", "not a base/") is None


@pytest.mark.parametrize("url", ["//[broken", "http://[::1", "https://[x/a"])
def test_it_gives_nothing_for_a_url_that_does_not_parse(url: str) -> None:
    assert absolutize(url, BASE) is None
    assert absolutize(url, None) is None


def test_it_ignores_a_base_that_is_not_http() -> None:
    assert absolutize("/x", "javascript:alert(1)//") is None


def test_it_gives_nothing_for_empty_urls_or_http_urls_without_a_host() -> None:
    assert absolutize("", BASE) is None
    assert absolutize("   ", BASE) is None
    assert absolutize(None, BASE) is None
    assert absolutize("http:///nohost", None) is None


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "\x01javascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
    ],
)
def test_it_refuses_schemes_outside_the_allow_list(url: str) -> None:
    assert safe_url(url, base=BASE, schemes=LINK_SCHEMES) is None


def test_it_accepts_mailto_only_where_asked() -> None:
    assert (
        safe_url("mailto:a@example.com", base=BASE, schemes=LINK_SCHEMES) == "mailto:a@example.com"
    )
    assert safe_url("mailto:a@example.com", base=BASE) is None


def test_it_reads_backslashes_as_slashes_like_browsers_do() -> None:
    assert safe_url("https:\\\\evil.example\\x", base=None) == "https://evil.example/x"


def test_it_removes_tracking_parameters_and_keeps_the_others_as_they_were() -> None:
    url = "https://example.com/a?utm_source=rss&id=3&UTM_Medium=x&fbclid=abc&q=a%20b&gclid=1#top"
    assert strip_tracking_params(url) == "https://example.com/a?id=3&q=a%20b#top"


def test_it_removes_the_question_mark_when_only_tracking_parameters_were_there() -> None:
    assert strip_tracking_params("https://example.com/a?utm_source=rss") == "https://example.com/a"


def test_it_leaves_a_url_without_tracking_parameters_byte_for_byte() -> None:
    url = "https://example.com/a?b=1&&c=%2F&b=2"
    assert strip_tracking_params(url) is url


@pytest.mark.parametrize(
    "name", ["utm_campaign", "mc_eid", "mc_cid", "_hsenc", "_hsmi", "yclid", "igshid", "utm%5Fterm"]
)
def test_it_knows_the_common_tracking_parameters(name: str) -> None:
    assert is_tracking_param(name)


def test_it_does_not_mistake_ordinary_parameters_for_tracking() -> None:
    assert not is_tracking_param("id")
    assert not is_tracking_param("utm")
    assert not is_tracking_param("page")


def test_safe_url_strips_tracking_only_when_asked() -> None:
    url = "https://example.com/a?utm_source=x"
    assert safe_url(url, base=None) == url
    assert safe_url(url, base=None, strip_tracking=True) == "https://example.com/a"


def test_host_of_is_lower_case_without_port_or_trailing_dot() -> None:
    assert host_of("https://WWW.Example.COM.:8443/x") == "www.example.com"
    assert host_of("mailto:a@b") == ""
    assert host_of("http://[::1") == ""
