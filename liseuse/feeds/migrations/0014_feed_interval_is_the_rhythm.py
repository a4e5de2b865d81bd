"""`Feed.fetch_interval_minutes` is now the feed's own rhythm (read from its entries), not the
delay its last fetch left, which held that answer's Cache-Control, Expires, ttl or Retry-After
and then every later 304 to it (a one-off "max-age=86400" kept a feed at one fetch a day).
The old values cannot be told apart: they are forgotten, and each feed's next 304 uses the
default interval until its next full fetch reads its rhythm again.
"""

from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("feeds", "0013_feed_unfollowed_at"),
    ]

    operations = [
        migrations.RunSQL(
            "UPDATE feeds_feed SET fetch_interval_minutes = NULL",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
