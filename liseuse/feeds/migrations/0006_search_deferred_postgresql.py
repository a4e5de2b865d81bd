"""PostgreSQL: compute an entry's full-text document after the refresh, not inside its insert.

0002's BEFORE INSERT trigger computed each entry's `tsvector` inside the feed's transaction: more
than half of a first refresh (docs/benchmarks-scale.md), with the feed's row lease held all that
time. As on SQLite (0004), storing an entry now only queues it: `liseuse_search` stays NULL, a
partial index over the NULL rows is the queue, and `liseuse.feeds.search.index_pending` fills
the column in batches (`FOR UPDATE SKIP LOCKED`: several workers share the queue without
waiting on each other). A change of the title, content, author or tags puts the row back in the
queue (NULL), so a search never matches words the entry no longer has.

Rows already in the table keep their document: 0002's trigger computed it from their current
text, so it is right, and recomputing a large instance's whole table here would hold up the
upgrade for nothing. SQLite: nothing to do.
"""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

FORWARD = [
    # Same trigger name as 0002 (it is dropped and made again): UPDATE only, since a new row
    # has no document already (the column is not in the model, so inserts leave it NULL).
    "DROP TRIGGER IF EXISTS liseuse_entry_search ON feeds_entry",
    """CREATE OR REPLACE FUNCTION liseuse_entry_search_trigger() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            -- Django's save() writes every column: requeue only when the text really changed.
            IF NEW.title IS DISTINCT FROM OLD.title
                OR NEW.content IS DISTINCT FROM OLD.content
                OR NEW.author IS DISTINCT FROM OLD.author
                OR NEW.categories::jsonb IS DISTINCT FROM OLD.categories::jsonb THEN
                NEW.liseuse_search := NULL;
            END IF;
            RETURN NEW;
        END
    $$""",
    """CREATE TRIGGER liseuse_entry_search BEFORE UPDATE OF
        title, content, author, categories ON feeds_entry
        FOR EACH ROW EXECUTE FUNCTION liseuse_entry_search_trigger()""",
    # The queue: small (only what waits), and `index_pending` reads it in id order.
    """CREATE INDEX liseuse_entry_search_pending_idx ON feeds_entry (id)
        WHERE liseuse_search IS NULL""",
]

# Back to 0002's shape: the document computed within every write, none left waiting.
BACKWARD = [
    "DROP INDEX IF EXISTS liseuse_entry_search_pending_idx",
    "DROP TRIGGER IF EXISTS liseuse_entry_search ON feeds_entry",
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
        title, content, author, categories::jsonb) WHERE liseuse_search IS NULL""",
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
    dependencies = [("feeds", "0005_feed_operations")]

    operations = [migrations.RunPython(forward, backward)]
