"""The words SQLite's full-text index holds of an entry's content: its text, not its markup.

FTS5 was given the stored HTML, so `href`, `https`, `lazy`, `noopener` or `noreferrer` matched
nearly every entry, and a quarter of the bytes it tokenized were markup. PostgreSQL's parser
leaves tags out by itself (migration 0008).

The index is contentless (migration 0004): FTS5 deletes an entry's words by being given the same
values again, in the delete and update triggers of `feeds_entry` (migration 0011). So
`indexed_text` must give the same text for the same content for as long as an index holds what
it gave: change it only together with a migration that indexes every entry again. SQL reaches
it as `liseuse_indexed_text(content)`, a function every SQLite connection gets on opening; a
connection without it (the `sqlite3` shell) cannot delete or change an entry, rather than
leave words behind in the index.

The indexer (`search.index_pending`) hands it the content as a BLOB, UTF-8 bytes, and casts
what it gives back to TEXT: the same text, without turning 139 MB of content into Python
strings and back (a first refresh of 35,000 entries, 0.9 s of Python in its indexing → 0.3 s).
The triggers hand it TEXT, as before; both give FTS5 the same words (checked token by token on
that refresh's index, and by tests/feeds/test_search.py).
"""

from __future__ import annotations

import html
import re
from typing import overload

from django.db.backends.base.base import BaseDatabaseWrapper

# Stored content is nh3's output, in which `<` and `>` inside attribute values are escaped:
# this matches its tags exactly. On any other text it still gives the same result each time.
# It works on UTF-8, where `<` and `>` are single bytes, never part of another character.
_TAG = re.compile(rb"<[^>]*>")


@overload
def indexed_text(content: str) -> str: ...
@overload
def indexed_text(content: bytes) -> bytes: ...
@overload
def indexed_text(content: None) -> None: ...
def indexed_text(content: str | bytes | None) -> str | bytes | None:
    """The content's text: each tag a space (words either side stay apart), entities read.
    Given UTF-8 bytes (the indexer), the text as UTF-8 bytes; given a string (the triggers),
    the same text as a string: one way for both, so that they cannot drift apart."""
    if content is None:
        return None
    if isinstance(content, str):
        return indexed_text(content.encode(errors="surrogatepass")).decode(errors="surrogatepass")
    data = _TAG.sub(b" ", content)
    if b"&" not in data:
        return data
    return html.unescape(data.decode(errors="surrogatepass")).encode(errors="surrogatepass")


# How much of an untitled entry's text stands in for its title on the reading pages.
FIRST_WORDS_CHARS = 75


def first_words(content: str, limit: int = FIRST_WORDS_CHARS) -> str:
    """The beginning of `content`'s text as one line, cut at a word, "…" when cut; "" if none."""
    text = " ".join(indexed_text(content).split())
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    # Cut at the last space, unless that would leave little (one very long word).
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut[:limit]).rstrip(" ,;:") + "…"


def register(connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """`connection_created`: every new SQLite connection gets `liseuse_indexed_text`."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "liseuse_indexed_text", 1, indexed_text, deterministic=True
        )
