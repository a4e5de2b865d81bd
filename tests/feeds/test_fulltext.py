"""The text the SQLite search index holds of an entry (liseuse/feeds/fulltext.py)."""

from __future__ import annotations

import pytest

from liseuse.feeds.fulltext import indexed_text

CONTENTS = [
    "",
    "plain words",
    '<p>Le <a href="https://a.example/x?a=1&amp;b=2" rel="noopener noreferrer">phare</a></p>',
    "<p>l’écume &amp; les « récifs »&nbsp;: 3 &lt; 4, &amp;lt; stays written</p>",
    '<img src="https://a.example/i.png" alt="a &gt; b" loading="lazy"><br>Ωmega 漢字 😀',
    "<p>unterminated <b",
]


@pytest.mark.parametrize("content", CONTENTS)
def test_bytes_in_give_the_same_text_as_a_string(content: str) -> None:
    # The indexer passes UTF-8 bytes, the triggers a string: FTS5 must get the same words.
    assert indexed_text(content.encode()) == indexed_text(content).encode()


def test_the_text_is_the_words_without_the_markup() -> None:
    assert indexed_text(CONTENTS[3]) == " l’écume & les « récifs »\xa0: 3 < 4, &lt; stays written "
    assert indexed_text(CONTENTS[2]) == " Le  phare  "
    assert indexed_text(None) is None
