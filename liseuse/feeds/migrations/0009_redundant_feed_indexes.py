"""Entries and tombstones lose the index of their feed alone.

The unique (feed, identity) index, and for entries (feed, published), start with the feed: the
index of `feed` alone answered nothing they do not, and every new entry wrote it. Dropped by
name (the one Django gave it, the same on both databases): an AlterField would make SQLite copy
the entries' table, and dropping that table would take migration 0004's search triggers with it.
"""

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations
from django.db import models


def _drop_index(table: str, name: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f'DROP INDEX IF EXISTS "{name}"', f'CREATE INDEX "{name}" ON "{table}" ("feed_id")'
    )


class Migration(migrations.Migration):
    dependencies = [
        ("feeds", "0008_search_text_postgresql"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="entry",
                    name="feed",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="entries",
                        to="feeds.feed",
                    ),
                ),
                migrations.AlterField(
                    model_name="entrytombstone",
                    name="feed",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tombstones",
                        to="feeds.feed",
                    ),
                ),
            ],
            database_operations=[
                _drop_index("feeds_entry", "feeds_entry_feed_id_7b9830e7"),
                _drop_index("feeds_entrytombstone", "feeds_entrytombstone_feed_id_9e160855"),
            ],
        ),
    ]
