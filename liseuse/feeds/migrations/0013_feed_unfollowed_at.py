"""Since when nobody follows a feed: retention deletes such a feed, with its entries and URL
(private feed URLs often carry a token), a day after it was first found so, rather than keeping
it for ever. A nullable column: added without rewriting the table, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from django.db import migrations
from django.db import models


class Migration(migrations.Migration):
    dependencies = [
        ("feeds", "0012_feed_retry_after_until"),
    ]

    operations = [
        migrations.AddField(
            model_name="feed",
            name="unfollowed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
