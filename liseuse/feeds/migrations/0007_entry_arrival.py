"""When each entry reached each person: what Google Reader's `ot` / `nt` filter on.

FreshRSS's clients sync with "what arrived since my last sync" (`ot`), which is reception time,
not the feed's date: an entry published last week and fetched now is new to them. The column's
default is the database's clock, so every way a state is made (the store's bulk insert, following
a feed, an import) sets it without naming it. States made before this migration get its time:
a client's next sync may see them once more, never miss one.
"""

from __future__ import annotations

from django.db import migrations
from django.db import models
from django.db.models.functions import Now


class Migration(migrations.Migration):
    dependencies = [
        ("feeds", "0006_search_deferred_postgresql"),
    ]

    operations = [
        migrations.AddField(
            model_name="entrystate",
            name="arrived_at",
            field=models.DateTimeField(db_default=Now()),
        ),
    ]
