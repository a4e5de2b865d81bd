"""Entry.fetched: whether a fetch of the feed's address brought the entry (store.py, merge.py).

On SQLite the column is added by ALTER TABLE: Django's own way there makes the table anew,
which drops the search index's triggers on feeds_entry (migrations 0004 and 0011), and takes
minutes on a database of a million entries.
"""

from __future__ import annotations

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def forward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # What Django writes for this field on PostgreSQL, where a constant default is added
    # without rewriting the table (PostgreSQL 11 and later).
    kind = (
        "bool DEFAULT 1" if schema_editor.connection.vendor == "sqlite" else "boolean DEFAULT true"
    )
    schema_editor.execute(f'ALTER TABLE "feeds_entry" ADD COLUMN "fetched" {kind} NOT NULL')


def backward(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    schema_editor.execute('ALTER TABLE "feeds_entry" DROP COLUMN "fetched"')


class Migration(migrations.Migration):
    dependencies = [
        ("feeds", "0018_entrystate_user_id_idx"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="entry",
                    name="fetched",
                    field=models.BooleanField(db_default=True, default=True),
                ),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        ),
        migrations.AddIndex(
            model_name="entry",
            index=models.Index(
                condition=models.Q(("fetched", False)),
                fields=["feed"],
                name="entry_unfetched_idx",
            ),
        ),
    ]
