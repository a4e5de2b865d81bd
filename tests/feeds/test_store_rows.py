"""The store's first-refresh hot path prepares dates and JSON itself (feeds/store.py): it must
send exactly what the model fields would, on whichever database the suite runs."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any

import pytest
from django.db import connection

from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.store import _preparers

pytestmark = pytest.mark.django_db

PARIS_SUMMER = timezone(timedelta(hours=2))

DATES = [
    datetime(2024, 1, 15, 3, 9, tzinfo=UTC),
    datetime(2024, 1, 15, 3, 9, 0, 123456, tzinfo=UTC),
    datetime(2024, 7, 1, 23, 30, tzinfo=PARIS_SUMMER),  # another day in UTC
    datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=-11))),
]
JSON = [
    [],
    ["Société", "vie privée", "😀", 'a "quoted" tag', "back\\slash"],
    [{"url": "https://example.org/a.mp3", "type": "audio/mpeg", "length": 12345}],
    [{"url": "https://example.org/b", "type": "", "length": None}],
]


@pytest.mark.parametrize(
    ("model", "column", "values"),
    [
        (Entry, "published", DATES),
        (Entry, "first_seen", DATES),
        (EntryState, "sort_date", DATES),
        (Entry, "categories", JSON),
        (Entry, "enclosures", JSON),
    ],
)
def test_the_fast_preparation_gives_what_the_field_gives(
    model: Any, column: str, values: list[Any]
) -> None:
    connection.ensure_connection()
    (prepare,) = _preparers(model, [column])
    field = model._meta.get_field(column)
    for value in values:
        assert _comparable(prepare(value)) == _comparable(
            field.get_db_prep_save(value, connection)
        ), value


def _comparable(prepared: Any) -> Any:
    # psycopg's Jsonb wrappers (PostgreSQL) do not compare equal; what they wrap does.
    return (type(prepared).__name__, getattr(prepared, "obj", prepared))
