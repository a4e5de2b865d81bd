"""URL helpers: absolute URLs, allowed schemes, tracking parameters."""

from __future__ import annotations

from urllib.parse import urljoin
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from liseuse.pipeline.urls import LINK_SCHEMES
from liseuse.pipeline.urls import WEB_SCHEMES
from liseuse.pipeline.urls import BaseURL
from liseuse.pipeline.urls import absolutize
from liseuse.pipeline.urls import has_web_scheme
from liseuse.pipeline.urls import host_of
from liseuse.pipeline.urls import is_tracking_param
from liseuse.pipeline.urls import safe_url
from liseuse.pipeline.urls import scheme_of
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


# The fast paths (BaseURL, plain URLs) must agree with the general code, which uses urllib.

_PLAIN_BASES = [
    BASE,
    "https://example.com",
    "http://example.com:8080/a/b/?q=1#top",
    "https://example.com//double//slashes/",
    "https://example.com/a;params/b",
    "https://example.com/a?",
    "javascript:alert(1)//",
    "https://[broken/",
]


@pytest.mark.parametrize(
    "url",
    [
        "../tags/libre",
        "../../../../x",
        "a/./b/../c",
        "..",
        ".",
        "./",
        "a//b",
        "/root//path/../x",
        "?page=2",
        "?",
        "#fn1",
        "#",
        "?utm_source=x#f",
        "//cdn.example.net/a.png",
        "//cdn.example.net:8443",
        "//cdn.example.net:80x/a",
        "//[::1]/a",
        "https://other.example/x?utm_medium=rss&id=1",
        "HTTPS://Other.example/x",
        "http:page.html",
        "mailto:a@example.com",
        "java\tscript:alert(1)",
        "a;p/..;q",
        "/with space",
        "",
    ],
)
@pytest.mark.parametrize("base", _PLAIN_BASES)
def test_a_base_url_resolves_like_absolutize(url: str, base: str) -> None:
    assert BaseURL(base).resolve(url) == absolutize(url, base)
    for schemes in (WEB_SCHEMES, LINK_SCHEMES):
        assert BaseURL(base).safe(url, schemes, strip_tracking=True) == safe_url(
            url, base=base, schemes=schemes, strip_tracking=True
        )


def test_a_base_url_joins_plain_references_as_urljoin_does() -> None:
    base = "https://example.com/blog/2024/post.html?lang=fr"
    for url in ("../img/a.png", "x/../../y", "/a/./b", "?p=2", "#fn", "//cdn.example/a"):
        assert BaseURL(base).resolve(url) == urljoin(base, url)


_URL_PIECES = st.sampled_from(
    [
        *("https://", "http://", "//", "/", "../", "./", "..", ".", "?", "#", "&", "=", ";"),
        *("utm_source=x", "fbclid=1", "id=3", "a", "b.c", "x.png", "HTTPS://", "h.example"),
        *(":80", ":", "[", "]", "@", "%5F", " ", "\t", "\\", "é", "mailto:a@b", "javascript:"),
    ]
)
_URLS = st.one_of(st.lists(_URL_PIECES, max_size=8).map("".join), st.text(max_size=12))


@settings(max_examples=500, deadline=None)
@given(url=_URLS, base=st.one_of(st.sampled_from(_PLAIN_BASES), _URLS))
def test_the_fast_paths_agree_with_urllib(url: str, base: str) -> None:
    assert BaseURL(base).resolve(url) == absolutize(url, base)
    assert BaseURL(base).safe(url, LINK_SCHEMES, strip_tracking=True) == safe_url(
        url, base=base, schemes=LINK_SCHEMES, strip_tracking=True
    )
    assert has_web_scheme(url) == (scheme_of(url) in WEB_SCHEMES)
    assert strip_tracking_params(url) == _strip_tracking_params_with_urllib(url)
    try:
        hostname = urlsplit(url).hostname or ""
    except ValueError:
        hostname = ""
    assert host_of(url) == hostname.rstrip(".")


def _strip_tracking_params_with_urllib(url: str) -> str:
    """What strip_tracking_params does, the slow and obvious way."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    pairs = parts.query.split("&")
    kept = [p for p in pairs if not is_tracking_param(p.split("=", 1)[0])]
    if not parts.query or len(kept) == len(pairs):
        return url
    return urlunsplit(parts._replace(query="&".join(p for p in kept if p)))
