"""SQLite: FTS5 writes and merges its index in bigger pieces, for less work per entry indexed.

FTS5 keeps the terms of the rows inserted in a transaction in memory and writes them out as a
new segment of the index whenever they outgrow `hashsize` (1 MB by default), and merges
`automerge` segments of one level into one of the next (4 by default). `search.index_pending`
inserts 5,000 entries, some 20 MB of text, per transaction: with 1 MB that made a couple of
dozen segments per batch, all merged again and again. With 16 MB a batch is a segment or two
(the memory is held only while a batch is indexed), and merging 8 at a time merges each term
fewer times. Indexing the 35,186 entries of the refresh benchmark took 2.5 s of CPU, 2.0 with
the first setting, 1.6 with both; searches over the result took the same time as before
(phrases, words, prefixes: within a few per cent). Both settings are stored in the FTS table
itself (its `_config` table): what it holds and how it is searched do not change.
"""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# (name, new value, FTS5's default)
SETTINGS = [
    ("hashsize", 16 * 1024 * 1024, 1024 * 1024),
    ("automerge", 8, 4),
]


def _set(schema_editor: BaseDatabaseSchemaEditor, values: list[tuple[str, int]]) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    for name, value in values:
        schema_editor.execute(
            "INSERT INTO liseuse_entry_fts(liseuse_entry_fts, rank) VALUES (%s, %s)",
            params=[name, value],
        )


def forward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _set(schema_editor, [(name, value) for name, value, _ in SETTINGS])


def backward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _set(schema_editor, [(name, default) for name, _, default in SETTINGS])


class Migration(migrations.Migration):
    dependencies = [("feeds", "0009_redundant_feed_indexes")]

    operations = [migrations.RunPython(forward, backward)]
