"""Who is calling: Fever's `api_key`.

The key is md5("<username>:<API password>"), computed by the client; `User.set_api_password`
stores the same digest in `User.fever_api_key`, so finding the person is one indexed lookup.
Fever sends it as a POST field only (FreshRSS reads it from the body only, too): a key in the
query string would end up in every proxy's access log, so it is not looked for there.
"""

from __future__ import annotations

import hmac
import string

from django.http import HttpRequest

from liseuse.accounts.models import User

_HEX = frozenset(string.hexdigits)


def fever_user(request: HttpRequest) -> User | None:
    """The active person whose Fever key this request carries, or None."""
    key = request.POST.get("api_key", "").strip().lower()
    # An md5 digest is 32 hex digits; anything else cannot match and is not worth a query.
    if len(key) != 32 or not set(key) <= _HEX:
        return None
    user = User.objects.filter(fever_api_key=key, is_active=True).first()
    # The lookup matched on the index; compare again in constant time all the same, and never
    # accept a person without an API password (their stored key is empty).
    if user is None or not user.api_password or not hmac.compare_digest(user.fever_api_key, key):
        return None
    return user
