"""Reading text fields that may hold HTML (liseuse.pipeline.parsers.text)."""

from __future__ import annotations

import time

import pytest

from liseuse.pipeline.parsers.text import html_text
from liseuse.pipeline.parsers.text import maybe_html_text


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("std::vector<int>", "std::vector<int>"),
        ("<b>Bold</b> for List<T>", "Bold for List<T>"),
        ("AT&T, Q&A, a=1&para=2", "AT&T, Q&A, a=1&para=2"),  # no reference: text
        ("Tom &amp; Jerry &unknown;", "Tom & Jerry &unknown;"),
        ("<a href='/x'>link", "link"),  # an attribute: markup even left open
        ("Use <!-- to open a comment", "Use <!-- to open a comment"),
    ],
)
def test_a_field_is_html_only_when_its_markup_is_real(text: str, read: str) -> None:
    assert maybe_html_text(text) == read


def test_a_tag_in_an_attribute_value_leaves_no_markup_behind() -> None:
    # feedparser's wellformed/atom10/tag_in_attr.xml, a type="html" title.
    assert html_text('<img src="http://example.com/c.jpg" alt="cat<br />dog">') == ""


def test_code_and_comments_go_with_their_content_only_when_whole() -> None:
    read = html_text("<b>Hi</b><script>x()</script><STYLE>b{}</style> a <script> b")
    assert read.split() == ["Hi", "a", "<script>", "b"]  # blanks are made one by sanitize
    assert html_text("a<!-- gone -->b<!-- and the rest") == "a b"


@pytest.mark.parametrize(
    "text",
    [
        "<script>" * 100_000 + "<b>x</b>",
        "<script>a</script><style>" * 50_000 + "&amp;",
        "<!--" * 100_000 + "&amp;",
        "<b" * 100_000 + "&amp;",
    ],
)
def test_a_hostile_field_is_read_in_linear_time(text: str) -> None:
    started = time.perf_counter()
    maybe_html_text(text)
    html_text(text)
    assert time.perf_counter() - started < 5
