"""When each entry reached each person: what Google Reader's `ot` / `nt` filter on.

FreshRSS's clients sync with "what arrived since my last sync" (`ot`), which is reception time,
not the feed's date: an entry published last week and fetched now is new to them. The column's
default is the database's clock, so every way a state is made (the store's bulk insert, following
a feed, an import) sets it without naming it. States made before this migration get its time:
a client's next sync may see them once more, never miss one.

Also: the reading states lose the index of `user` alone, which the others made useless.
"""

from __future__ import annotations

import django.db.models.deletion
from django.conf import settings
from django.db import migrations
from django.db import models
from django.db.models.functions import Now


class Migration(migrations.Migration):
    dependencies = [
        ("feeds", "0006_search_deferred_postgresql"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="entrystate",
            name="arrived_at",
            field=models.DateTimeField(db_default=Now()),
        ),
        # The index of `user` alone goes: the unique (user, entry) index and every reading
        # index start with it. By name (the one Django gave it, the same on both databases),
        # as an AlterField would make SQLite copy the whole table a second time.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="entrystate",
                    name="user",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="entry_states",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "feeds_entrystate_user_id_861604f5"',
                    'CREATE INDEX "feeds_entrystate_user_id_861604f5" '
                    'ON "feeds_entrystate" ("user_id")',
                ),
            ],
        ),
    ]
