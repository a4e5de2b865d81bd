"""SQLite: the full-text index holds an entry's text, not its HTML (`liseuse/feeds/fulltext.py`).

The delete and update triggers give FTS5 the same text the indexer gave it
(`liseuse_indexed_text`), and the index is emptied and every entry queued to be indexed again
(`search.index_pending`, after the next refresh pass or by a search): an index that holds the
HTML's words cannot be told to delete them with the text's. The table is made again as
migrations 0004 and 0010 made it, its settings included.
"""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

TAGS = "(SELECT group_concat(value, ' ') FROM json_each({row}.categories))"
NOT_PENDING = "NOT EXISTS (SELECT 1 FROM liseuse_entry_fts_pending WHERE entry_id = {row}.id)"
# migration 0010's
SETTINGS = [("hashsize", 16 * 1024 * 1024), ("automerge", 8)]


def statements(content: str) -> list[str]:
    """The index table and its delete and update triggers, `content` standing for what of an
    entry's content the index holds (`{row}` is old or new)."""
    old, new = content.format(row="old"), content.format(row="new")
    return [
        "DROP TRIGGER IF EXISTS liseuse_entry_fts_delete",
        "DROP TRIGGER IF EXISTS liseuse_entry_fts_update",
        "DROP TABLE IF EXISTS liseuse_entry_fts",
        "CREATE VIRTUAL TABLE liseuse_entry_fts USING fts5("
        "title, content, author, tags, content='', tokenize='unicode61 remove_diacritics 2')",
        *(
            f"INSERT INTO liseuse_entry_fts(liseuse_entry_fts, rank) VALUES ('{name}', {value})"
            for name, value in SETTINGS
        ),
        f"""CREATE TRIGGER liseuse_entry_fts_delete AFTER DELETE ON feeds_entry BEGIN
            INSERT INTO liseuse_entry_fts(liseuse_entry_fts, rowid, title, content, author, tags)
            SELECT 'delete', old.id, old.title, {old}, old.author, {TAGS.format(row="old")}
            WHERE {NOT_PENDING.format(row="old")};
            DELETE FROM liseuse_entry_fts_pending WHERE entry_id = old.id;
        END""",
        f"""CREATE TRIGGER liseuse_entry_fts_update
        AFTER UPDATE OF title, content, author, categories ON feeds_entry
        WHEN {NOT_PENDING.format(row="old")} BEGIN
            INSERT INTO liseuse_entry_fts(liseuse_entry_fts, rowid, title, content, author, tags)
            VALUES ('delete', old.id, old.title, {old}, old.author, {TAGS.format(row="old")});
            INSERT INTO liseuse_entry_fts(rowid, title, content, author, tags)
            VALUES (new.id, new.title, {new}, new.author, {TAGS.format(row="new")});
        END""",
        "INSERT OR IGNORE INTO liseuse_entry_fts_pending(entry_id) SELECT id FROM feeds_entry",
    ]


def forward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        for statement in statements("liseuse_indexed_text({row}.content)"):
            schema_editor.execute(statement, params=None)


def backward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        for statement in statements("{row}.content"):
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("feeds", "0010_search_index_settings")]

    operations = [migrations.RunPython(forward, backward)]
