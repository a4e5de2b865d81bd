"""The session store: Django's database store writing `liseuse.accounts.models.Session`.

Each row knows its person (so "end my other sessions" is one query, and deleting or disabling
an account ends its sessions), the browser and the address it was opened from.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any
from typing import NamedTuple

from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.db import connections
from django.db import router
from django.utils import timezone

if TYPE_CHECKING:
    from django.db.models.expressions import Col

    from liseuse.accounts.models import Session
    from liseuse.accounts.models import User

# Keys of the session data that the login signal fills (`record_login`).
AGENT = "_liseuse_agent"
ADDRESS = "_liseuse_address"
CREATED = "_liseuse_created"


class _PersonQuery(NamedTuple):
    """The query of a session with its person's row and newest entry, and how to make the
    person of its row: written once per database, as `User.objects.raw` would each time
    (its column matching and model setup were a seventh of the web processes' time on kept
    pages)."""

    sql: str
    model: type[User]
    attnames: list[str]
    # (column's index, Django's converters of its database value, the column they expect)
    converters: list[tuple[int, list[Any], Col]]
    newest_entry: str  # the attribute the person carries their newest entry under

    def row(self, alias: str, row: tuple[Any, ...]) -> User:
        values = list(row[: len(self.attnames)])
        connection = connections[alias]
        for index, converters, column in self.converters:
            for converter in converters:
                values[index] = converter(values[index], column, connection)
        person = self.model.from_db(alias, self.attnames, values)
        setattr(person, self.newest_entry, row[-1])
        return person


@functools.cache
def _person_query(alias: str) -> _PersonQuery:
    from liseuse.accounts.models import Session
    from liseuse.accounts.models import User
    from liseuse.feeds.queries import NEWEST_ENTRY
    from liseuse.feeds.queries import newest_entry_sql

    connection = connections[alias]
    fields = User._meta.concrete_fields
    quote = connection.ops.quote_name
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(User._meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((index, found, column))
    return _PersonQuery(
        f"SELECT {', '.join('u.' + quote(field.column) for field in fields)}, s.session_data, "
        f"{newest_entry_sql('u.id')} "
        f"FROM {Session._meta.db_table} s JOIN {User._meta.db_table} u ON u.id = s.user_id "
        "WHERE s.session_key = %s AND s.expire_date > %s",
        User,
        [field.attname for field in fields],
        converters,
        NEWEST_ENTRY,
    )


class SessionStore(DatabaseStore):
    @classmethod
    def get_model_class(cls) -> type[Session]:
        from liseuse.accounts.models import Session

        return Session

    def create_model_instance(self, data: dict[str, Any]) -> Session:
        instance = super().create_model_instance(data)
        assert isinstance(instance, self.get_model_class())
        user_id = data.get("_auth_user_id")
        instance.user_id = int(user_id) if user_id is not None else None
        instance.user_agent = str(data.get(AGENT, ""))[:300]
        instance.address = str(data.get(ADDRESS, ""))[:64]
        created = data.get(CREATED)
        instance.created = datetime.fromisoformat(created) if isinstance(created, str) else None
        return instance

    def load(self) -> dict[str, Any]:
        """Django's `load`, with the session's person and their newest entry read by the same
        query (`liseuse/accounts/backends.py`): it runs on every request of a browser, where
        the ORM's compiling cost more than the lookups themselves, and a kept reading page
        needs nothing more from the database (0.47 ms → 0.20 for the session alone, then
        three queries → one)."""
        # Here, not above: these need the apps loaded, and Django imports this module early.
        from liseuse.accounts.backends import BACKEND
        from liseuse.accounts.backends import STOCK_BACKEND
        from liseuse.accounts.backends import person_loaded

        model = self.get_model_class()
        alias = router.db_for_read(model)
        connection = connections[alias]
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        person = _person_query(alias)
        with connection.cursor() as cursor:
            cursor.execute(person.sql, [self.session_key, now])
            row = cursor.fetchone()
        if row is not None:
            found = person.row(alias, row)
            data: dict[str, Any] = self.decode(row[-2])
            person_loaded(found)  # taken only if the data names the same person
            if data.get(BACKEND_SESSION_KEY) == STOCK_BACKEND:
                data[BACKEND_SESSION_KEY] = BACKEND
            return data
        person_loaded(None)
        # No session, an ended one, or one of nobody (no person to join): as Django's.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT session_data FROM {model._meta.db_table}"
                " WHERE session_key = %s AND expire_date > %s",
                [self.session_key, now],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None  # as Django's: a new session if this one is saved
            return {}
        anonymous: dict[str, Any] = self.decode(row[0])
        return anonymous
