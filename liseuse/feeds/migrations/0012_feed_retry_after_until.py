"""The time a feed's server asked not to be fetched again before, kept on its own.

It was folded into `next_fetch_at`, and "Refresh now" had to work it out again from liseuse's
own back-off, with today's floors, which could take liseuse's wait for the site's. A nullable
column: added without rewriting the table, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from django.db import migrations
from django.db import models


class Migration(migrations.Migration):
    dependencies = [
        ("feeds", "0011_search_indexed_text"),
    ]

    operations = [
        migrations.AddField(
            model_name="feed",
            name="retry_after_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
