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
"""

from __future__ import annotations

import html
import re

from django.db.backends.base.base import BaseDatabaseWrapper

# Stored content is nh3's output, in which `<` and `>` inside attribute values are escaped:
# this matches its tags exactly. On any other text it still gives the same result each time.
_TAG = re.compile(r"<[^>]*>")


def indexed_text(content: str | None) -> str | None:
    """The content's text: each tag a space (words either side stay apart), entities read."""
    if content is None:
        return None
    text = _TAG.sub(" ", content)
    return html.unescape(text) if "&" in text else text


def register(connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """`connection_created`: every new SQLite connection gets `liseuse_indexed_text`."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "liseuse_indexed_text", 1, indexed_text, deterministic=True
        )
