"""How a request's person is found: Django's model backend, fed the row the session brought.

`SessionStore.load` (`liseuse/accounts/sessions.py`) reads the session, its person and their
newest entry in one query; `PersonBackend.get_user` then takes that person instead of asking the
database again. Django's `get_user` still does everything else around it (the backend named in
the session, the check of the password's hash against the session's), as it does for the stock
backend. Each of the two queries this saves was a tenth of a kept reading page's cost.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING
from typing import Any

from django.contrib.auth.backends import ModelBackend

if TYPE_CHECKING:
    from liseuse.accounts.models import User

# Sessions opened before this backend existed name Django's; `SessionStore.load` reads them as
# naming this one, so nobody is logged out by the change.
STOCK_BACKEND = "django.contrib.auth.backends.ModelBackend"
BACKEND = "liseuse.accounts.backends.PersonBackend"

# The person the session just loaded names, for this request's `get_user`. Set (or cleared) by
# every session load, and taken by `get_user`: Django asks for the user right after reading the
# session of the same request, so the row is never one from another request.
_loaded_person: ContextVar[User | None] = ContextVar("liseuse_loaded_person", default=None)


def person_loaded(user: User | None) -> None:
    """The person whose row the session load just read (None: none was)."""
    _loaded_person.set(user)


class PersonBackend(ModelBackend):
    def get_user(self, user_id: Any) -> User | None:
        user = _loaded_person.get()
        _loaded_person.set(None)
        if user is None or str(user.pk) != str(user_id):
            found: User | None = super().get_user(user_id)
            return found
        return user if self.user_can_authenticate(user) else None
