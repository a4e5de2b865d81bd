"""PostgreSQL: the title and text get a full-text column of their own, for plain words.

A plain word searches the title and the text: on 0002's weighted document that is the query
`'libre':AD`. A GIN index cannot check weights, so PostgreSQL fetched every row holding the word
anywhere (a tag, the author), read its document back (a TOASTed `tsvector`) and dropped those
where the word was not in the title or text: 260 ms for a word that is also a frequent tag,
among 100,000 entries (bench/search_speed.py). With a column of the title and text alone and
its own GIN index, the same query needs no weights, and the index answers it without reading
any document: 9 ms.

The document of 0002 (`liseuse_entry_document`) is now split in two, with `ts_filter`:
`liseuse_text` keeps its title (weight A) and text (D) parts, `liseuse_search` its title,
author and tags (A, B, C), for `intitle:`, `author:` and `#tag`. Both keep the document's
positions, so a phrase matches exactly the entries it matched before, and the text is stored
once, as before: a second copy of it cost indexing a third more (writing one more TOASTed value
per entry). The words are folded and split once, by the same function as before.

Both columns are filled together and emptied together: `search.index_pending` computes them in
one UPDATE, and the trigger function of 0006, replaced here, sets both back to NULL when the
text of an entry changes. So 0006's queue (`liseuse_search IS NULL`, its partial index) still
says which rows wait, and no row has one column without the other.

Rows already indexed are split here, from their document (no text is parsed again): one UPDATE
of every indexed row, with the GIN indexes built afterwards. PostgreSQL writes a new version of
each row, so the table takes about its size again on disk until autovacuum reclaims the old
versions, and writes to entries wait for the migration: on two cores, about 16 s per 100,000
entries (bench/search_speed.py's database), so minutes for millions. Rows still waiting (NULL)
are left to the queue. Going back computes every whole document again, parsing the text: about
60 s per 100,000 entries. SQLite: nothing to do (FTS5 matches {title content} without weights
already).
"""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

# 0006's trigger function; from this migration on, a change of text empties both columns.
TRIGGER_FUNCTION = """CREATE OR REPLACE FUNCTION liseuse_entry_search_trigger() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        -- Django's save() writes every column: requeue only when the text really changed.
        IF NEW.title IS DISTINCT FROM OLD.title
            OR NEW.content IS DISTINCT FROM OLD.content
            OR NEW.author IS DISTINCT FROM OLD.author
            OR NEW.categories::jsonb IS DISTINCT FROM OLD.categories::jsonb THEN
            NEW.liseuse_search := NULL;{also}
        END IF;
        RETURN NEW;
    END
$$"""

FORWARD = [
    "ALTER TABLE feeds_entry ADD COLUMN liseuse_text tsvector",
    # Without the index: building it once over the rewritten column is much faster than
    # inserting every row's words into it again.
    "DROP INDEX liseuse_entry_search_idx",
    """UPDATE feeds_entry SET liseuse_text = ts_filter(liseuse_search, '{a,d}'),
        liseuse_search = ts_filter(liseuse_search, '{a,b,c}')
        WHERE liseuse_search IS NOT NULL""",
    "CREATE INDEX liseuse_entry_search_idx ON feeds_entry USING gin (liseuse_search)",
    "CREATE INDEX liseuse_entry_text_idx ON feeds_entry USING gin (liseuse_text)",
    TRIGGER_FUNCTION.format(also="\n            NEW.liseuse_text := NULL;"),
]

# Back to 0006: its trigger function, whole documents, and no second column.
BACKWARD = [
    TRIGGER_FUNCTION.format(also=""),
    "DROP INDEX liseuse_entry_search_idx",
    """UPDATE feeds_entry SET liseuse_search = liseuse_entry_document(
        title, content, author, categories::jsonb) WHERE liseuse_search IS NOT NULL""",
    "CREATE INDEX liseuse_entry_search_idx ON feeds_entry USING gin (liseuse_search)",
    "ALTER TABLE feeds_entry DROP COLUMN liseuse_text",
]


def forward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement, params=None)


def backward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("feeds", "0007_entry_arrival")]

    operations = [migrations.RunPython(forward, backward)]
