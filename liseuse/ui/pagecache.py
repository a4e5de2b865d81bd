"""Reading pages served again while nothing they show has changed for the person.

A stream page costs tens of milliseconds for a person with a large unread backlog (the
sidebar counts it feed by feed); served from here it costs one small query and a lookup. The
key holds everything a page shows that can change while its address stays the same:

- the person and their change counter (`User.generation`, `liseuse/accounts/changes.py`):
  whatever they did, on this web node or another, or through an app, shows on the next page;
- their newest entry (`queries.newest_entry_id`): what a refresh brings them shows at once;
- the language, the time zone and today's date (the day separators).

What the key does not see shows after at most `LISEUSE_PAGE_CACHE_SECONDS` (0: no cache): an
entry or a feed changed by its publisher, entries purged by retention, a change made for the
person by someone else (an administrator), and entries committed out of order by two workers
on PostgreSQL (the higher id visible first).

A page holds the browser's CSRF token, which differs from browser to browser: it is rendered
with a placeholder instead, random per process so that no feed can write it, and each answer
gets its own token put in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils import translation
from django.utils.cache import get_conditional_response
from django.utils.cache import patch_cache_control
from django.utils.http import quote_etag

from liseuse.accounts.models import User
from liseuse.feeds import queries

CSRF_PLACEHOLDER = secrets.token_hex(16)


def seconds() -> int:
    return int(getattr(settings, "LISEUSE_PAGE_CACHE_SECONDS", 0))


@dataclass(frozen=True, slots=True)
class PageKey:
    """Where a page is kept, and which version of it is wanted.

    One slot per person and address: a newer version takes the older one's place, so a person
    who reads all day fills one slot per page they open, not one per change they make."""

    slot: str  # the person, the address, the language, the time zone
    version: str  # their change counter, their newest entry, the day

    @property
    def etag(self) -> str:
        return quote_etag(f"{self.slot}.{self.version}")


def key(request: HttpRequest, user: User, today: str) -> PageKey | None:
    """The page's key, or None when pages are not kept."""
    if seconds() <= 0 or request.method not in ("GET", "HEAD"):
        return None
    slot = (
        user.pk,
        request.get_full_path(),
        translation.get_language(),
        timezone.get_current_timezone_name(),
    )
    version = (user.generation, queries.newest_entry_id(user), today)
    # Hashed: a search can make the address long, and memcached takes keys of 250 bytes.
    return PageKey(
        "page:" + hashlib.blake2b(repr(slot).encode(), digest_size=16).hexdigest(),
        "_".join(str(part) for part in version),
    )


def not_modified(request: HttpRequest, page_key: PageKey | None) -> HttpResponse | None:
    """304 when the browser's copy is this version of the page (its `If-None-Match`).

    Its copy holds a CSRF token made for its own cookie, which stays valid: the page is the
    same but for the token's mask. A reload (`q`, the browser's button) then costs no body."""
    if page_key is None:
        return None
    unchanged = get_conditional_response(request, etag=page_key.etag)
    return labelled(unchanged, page_key) if unchanged is not None else None


def labelled(response: HttpResponse, page_key: PageKey | None) -> HttpResponse:
    """The page's version as its ETag; `no-cache` has the browser ask again before each use."""
    if page_key is not None:
        response["ETag"] = page_key.etag
        patch_cache_control(response, private=True, no_cache=True)
    return response


def get(page_key: PageKey | None) -> list[bytes] | None:
    """The kept page, cut at each placeholder (`answer` puts the token in the cuts)."""
    if page_key is None:
        return None
    kept: tuple[str, list[bytes]] | None = caches["pages"].get(page_key.slot)
    if kept is None or kept[0] != page_key.version:
        return None
    return kept[1]


def cut(body: bytes) -> list[bytes]:
    return body.split(CSRF_PLACEHOLDER.encode())


def put(page_key: PageKey | None, parts: list[bytes]) -> None:
    if page_key is not None:
        caches["pages"].set(page_key.slot, (page_key.version, parts), timeout=seconds())


def answer(request: HttpRequest, parts: list[bytes]) -> bytes:
    """The page with this browser's CSRF token where the placeholder was.

    Kept cut rather than whole: joining is a copy, where replacing in half a megabyte of HTML
    searched it all again on every answer (a sixth of a kept page's time)."""
    return get_token(request).encode().join(parts)
