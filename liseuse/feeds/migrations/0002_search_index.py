"""The full-text index behind `liseuse.feeds.search`.

SQLite: a contentless FTS5 table (`liseuse_entry_fts`, rowid = entry id) over title, content,
author and tags, folded by `unicode61 remove_diacritics 2`, kept in step by triggers.
PostgreSQL: a weighted `tsvector` column on `feeds_entry` (title A, author B, tags C, text D)
over accent-folded text, set by a trigger, with a GIN index. The column is not in the model:
only search's raw SQL reads it, and triggers keep it whatever writes the row.
"""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# Same letters as `search.FOLD_FROM` / `FOLD_TO` (copied: a migration must not change when the
# module does).
FOLD_FROM = (
    "àáâãäåāăąçćĉċčďđèéêëēĕėęěĝğġģĥħìíîïĩīĭįıĵķĺļľŀłñńņňòóôõöøōŏőŕŗřśŝşšţťŧùúûüũūŭůűųŵýÿŷźżž"
)
FOLD_TO = "aaaaaaaaacccccddeeeeeeeeegggghhiiiiiiiiijklllllnnnnooooooooorrrsssstttuuuuuuuuuuwyyyzzz"

SQLITE_TAGS = "(SELECT group_concat(value, ' ') FROM json_each({row}.categories))"
SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE liseuse_entry_fts USING fts5("
    "title, content, author, tags, content='', "
    "tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    f"""CREATE TRIGGER liseuse_entry_fts_insert AFTER INSERT ON feeds_entry BEGIN
        INSERT INTO liseuse_entry_fts(rowid, title, content, author, tags)
        VALUES (new.id, new.title, new.content, new.author, {SQLITE_TAGS.format(row="new")});
    END""",
    f"""CREATE TRIGGER liseuse_entry_fts_delete AFTER DELETE ON feeds_entry BEGIN
        INSERT INTO liseuse_entry_fts(liseuse_entry_fts, rowid, title, content, author, tags)
        VALUES ('delete', old.id, old.title, old.content, old.author,
                {SQLITE_TAGS.format(row="old")});
    END""",
    f"""CREATE TRIGGER liseuse_entry_fts_update
    AFTER UPDATE OF title, content, author, categories ON feeds_entry BEGIN
        INSERT INTO liseuse_entry_fts(liseuse_entry_fts, rowid, title, content, author, tags)
        VALUES ('delete', old.id, old.title, old.content, old.author,
                {SQLITE_TAGS.format(row="old")});
        INSERT INTO liseuse_entry_fts(rowid, title, content, author, tags)
        VALUES (new.id, new.title, new.content, new.author, {SQLITE_TAGS.format(row="new")});
    END""",
    f"""INSERT INTO liseuse_entry_fts(rowid, title, content, author, tags)
        SELECT id, title, content, author, {SQLITE_TAGS.format(row="feeds_entry")}
        FROM feeds_entry""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS liseuse_entry_fts_update",
    "DROP TRIGGER IF EXISTS liseuse_entry_fts_delete",
    "DROP TRIGGER IF EXISTS liseuse_entry_fts_insert",
    "DROP TABLE IF EXISTS liseuse_entry_fts",
]

POSTGRES_FORWARD = [
    f"""CREATE OR REPLACE FUNCTION liseuse_unaccent(text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT replace(replace(replace(
            translate(lower($1), '{FOLD_FROM}', '{FOLD_TO}'),
            'œ', 'oe'), 'æ', 'ae'), 'ß', 'ss')
    $$""",
    """CREATE OR REPLACE FUNCTION liseuse_entry_document(
            title text, content text, author text, categories jsonb) RETURNS tsvector
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT setweight(to_tsvector('simple', liseuse_unaccent(coalesce(title, ''))), 'A')
            || setweight(to_tsvector('simple', liseuse_unaccent(coalesce(author, ''))), 'B')
            || setweight(to_tsvector('simple', liseuse_unaccent(coalesce(
                   (SELECT string_agg(value, ' ') FROM jsonb_array_elements_text(
                       CASE WHEN jsonb_typeof(categories) = 'array'
                            THEN categories ELSE '[]'::jsonb END) AS value),
                   ''))), 'C')
            || setweight(to_tsvector('simple', liseuse_unaccent(
                   regexp_replace(coalesce(content, ''), '<[^>]*>', ' ', 'g'))), 'D')
    $$""",
    "ALTER TABLE feeds_entry ADD COLUMN liseuse_search tsvector",
    """CREATE OR REPLACE FUNCTION liseuse_entry_search_trigger() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            NEW.liseuse_search := liseuse_entry_document(
                NEW.title, NEW.content, NEW.author, NEW.categories::jsonb);
            RETURN NEW;
        END
    $$""",
    """CREATE TRIGGER liseuse_entry_search BEFORE INSERT OR UPDATE OF
        title, content, author, categories ON feeds_entry
        FOR EACH ROW EXECUTE FUNCTION liseuse_entry_search_trigger()""",
    """UPDATE feeds_entry SET liseuse_search = liseuse_entry_document(
        title, content, author, categories::jsonb)""",
    "CREATE INDEX liseuse_entry_search_idx ON feeds_entry USING gin (liseuse_search)",
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS liseuse_entry_search ON feeds_entry",
    "DROP FUNCTION IF EXISTS liseuse_entry_search_trigger()",
    "ALTER TABLE feeds_entry DROP COLUMN IF EXISTS liseuse_search",
    "DROP FUNCTION IF EXISTS liseuse_entry_document(text, text, text, jsonb)",
    "DROP FUNCTION IF EXISTS liseuse_unaccent(text)",
]


def _run(schema_editor: BaseDatabaseSchemaEditor, statements: dict[str, list[str]]) -> None:
    for statement in statements.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement, params=None)


def forward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _run(schema_editor, {"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD})


def backward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    _run(schema_editor, {"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD})


class Migration(migrations.Migration):
    dependencies = [("feeds", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
