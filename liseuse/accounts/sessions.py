"""The session store: Django's database store writing `liseuse.accounts.models.Session`.

Each row knows its person (so "end my other sessions" is one query, and deleting or disabling
an account ends its sessions), the browser and the address it was opened from.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseStore

if TYPE_CHECKING:
    from liseuse.accounts.models import Session

# Keys of the session data that the login signal fills (`record_login`).
AGENT = "_liseuse_agent"
ADDRESS = "_liseuse_address"
CREATED = "_liseuse_created"


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
