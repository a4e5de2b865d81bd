"""SQLite: index new entries for search after the refresh, not inside it.

Indexing the HTML of 35,000 entries took longer than fetching, parsing, cleaning and storing
them all (docs/benchmarks.md). The insert trigger now only queues the entry id in
`liseuse_entry_fts_pending`; `liseuse.feeds.search.index_pending` moves queued entries into the
FTS5 table in batches, right after each refresh pass. Updates and deletes of an entry still in
the queue leave the index alone (it holds nothing of the entry yet). The table is rebuilt
without its prefix indexes, which tripled the indexing work for prefix queries that FTS5
answers well enough without them; every entry is queued again.
"""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

TAGS = "(SELECT group_concat(value, ' ') FROM json_each({row}.categories))"
NOT_PENDING = "NOT EXISTS (SELECT 1 FROM liseuse_entry_fts_pending WHERE entry_id = {row}.id)"

FORWARD = [
    "DROP TRIGGER IF EXISTS liseuse_entry_fts_insert",
    "DROP TRIGGER IF EXISTS liseuse_entry_fts_delete",
    "DROP TRIGGER IF EXISTS liseuse_entry_fts_update",
    "DROP TABLE IF EXISTS liseuse_entry_fts",
    "CREATE VIRTUAL TABLE liseuse_entry_fts USING fts5("
    "title, content, author, tags, content='', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TABLE liseuse_entry_fts_pending (entry_id INTEGER PRIMARY KEY)",
    """CREATE TRIGGER liseuse_entry_fts_insert AFTER INSERT ON feeds_entry BEGIN
        INSERT OR IGNORE INTO liseuse_entry_fts_pending(entry_id) VALUES (new.id);
    END""",
    f"""CREATE TRIGGER liseuse_entry_fts_delete AFTER DELETE ON feeds_entry BEGIN
        INSERT INTO liseuse_entry_fts(liseuse_entry_fts, rowid, title, content, author, tags)
        SELECT 'delete', old.id, old.title, old.content, old.author, {TAGS.format(row="old")}
        WHERE {NOT_PENDING.format(row="old")};
        DELETE FROM liseuse_entry_fts_pending WHERE entry_id = old.id;
    END""",
    f"""CREATE TRIGGER liseuse_entry_fts_update
    AFTER UPDATE OF title, content, author, categories ON feeds_entry
    WHEN {NOT_PENDING.format(row="old")} BEGIN
        INSERT INTO liseuse_entry_fts(liseuse_entry_fts, rowid, title, content, author, tags)
        VALUES ('delete', old.id, old.title, old.content, old.author, {TAGS.format(row="old")});
        INSERT INTO liseuse_entry_fts(rowid, title, content, author, tags)
        VALUES (new.id, new.title, new.content, new.author, {TAGS.format(row="new")});
    END""",
    "INSERT INTO liseuse_entry_fts_pending(entry_id) SELECT id FROM feeds_entry",
]

# Back to 0002's shape: every entry indexed at once, by triggers.
BACKWARD = [
    "DROP TRIGGER IF EXISTS liseuse_entry_fts_insert",
    "DROP TRIGGER IF EXISTS liseuse_entry_fts_delete",
    "DROP TRIGGER IF EXISTS liseuse_entry_fts_update",
    "DROP TABLE IF EXISTS liseuse_entry_fts_pending",
    "DROP TABLE IF EXISTS liseuse_entry_fts",
    "CREATE VIRTUAL TABLE liseuse_entry_fts USING fts5("
    "title, content, author, tags, content='', "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    f"""CREATE TRIGGER liseuse_entry_fts_insert AFTER INSERT ON feeds_entry BEGIN
        INSERT INTO liseuse_entry_fts(rowid, title, content, author, tags)
        VALUES (new.id, new.title, new.content, new.author, {TAGS.format(row="new")});
    END""",
    f"""CREATE TRIGGER liseuse_entry_fts_delete AFTER DELETE ON feeds_entry BEGIN
        INSERT INTO liseuse_entry_fts(liseuse_entry_fts, rowid, title, content, author, tags)
        VALUES ('delete', old.id, old.title, old.content, old.author, {TAGS.format(row="old")});
    END""",
    f"""CREATE TRIGGER liseuse_entry_fts_update
    AFTER UPDATE OF title, content, author, categories ON feeds_entry BEGIN
        INSERT INTO liseuse_entry_fts(liseuse_entry_fts, rowid, title, content, author, tags)
        VALUES ('delete', old.id, old.title, old.content, old.author, {TAGS.format(row="old")});
        INSERT INTO liseuse_entry_fts(rowid, title, content, author, tags)
        VALUES (new.id, new.title, new.content, new.author, {TAGS.format(row="new")});
    END""",
    f"""INSERT INTO liseuse_entry_fts(rowid, title, content, author, tags)
        SELECT id, title, content, author, {TAGS.format(row="feeds_entry")} FROM feeds_entry""",
]


def forward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        for statement in FORWARD:
            schema_editor.execute(statement, params=None)


def backward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        for statement in BACKWARD:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("feeds", "0003_unread_feed_index")]

    operations = [migrations.RunPython(forward, backward)]
