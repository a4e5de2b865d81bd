"""Who may load a feed's stored icon (served by the pages at `/favicons/<feed id>`).

A follower, through the login session. And apps: the Google Reader API's `iconUrl` is loaded as
a plain image, without the session nor (in most apps) the API's Authorization header, so the
URL it gives carries a key for that one feed, signed with the instance's secret. A key cannot be
made up, so nobody can walk the ids to learn which sites other people follow.
"""

from __future__ import annotations

from django.core import signing
from django.utils.crypto import constant_time_compare

_SALT = "liseuse.favicon"


def app_key(feed_id: int) -> str:
    """The key that opens this feed's icon, and no other."""
    return signing.Signer(salt=_SALT, algorithm="sha256").signature(str(feed_id))


def opens(feed_id: int, key: str) -> bool:
    return bool(key) and constant_time_compare(key, app_key(feed_id))
