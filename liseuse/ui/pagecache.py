"""Reading pages served again while nothing they show has changed for the person.

A stream page costs tens of milliseconds for a person with a large unread backlog (the
sidebar counts it feed by feed); served from here it costs one small query and a lookup. The
key holds everything a page shows that can change while its address stays the same:

- the person and their change counter (`User.generation`, `liseuse/accounts/changes.py`):
  whatever they did, on this web node or another, or through an app, shows on the next page;
- their newest entry (`queries.newest_entry_id`): what a refresh brings them shows at once;
- the language, the time zone and today's date (the day separators);
- the browser: its forms carry a CSRF token made for its own CSRF cookie. A browser without
  that cookie yet (its first page) gets a page made for it and not kept.

What the key does not see shows after at most `LISEUSE_PAGE_CACHE_SECONDS` (0: no cache): an
entry or a feed changed by its publisher, entries purged by retention, a change made for the
person by someone else (an administrator), and entries committed out of order by two workers
on PostgreSQL (the higher id visible first). Each page stays fresh a time drawn from the second
half of that, so that pages made together are not made again together; the first request
after makes it again, and those that come meanwhile get the stale copy. Its ETag is its
version and when it was made: a browser revalidating its copy sees the new page too.

Each web process keeps its pages in memory, and writes each page it makes to a folder the web
processes of its machine share (`LISEUSE_DATA_DIR/cache/pages`): a process whose copy is
missing, older or stale looks there before making the page itself. Each process making every
page was twice the work on two processes, and making a page holds that process's interpreter
lock for tens of milliseconds while the others' answers wait (bench/scale_data.py).

A page is kept gzipped: a reading page is hundreds of kilobytes of HTML (a sidebar of 1,000
feeds is half of it), a tenth of that compressed, in memory and on the wire. Compressing a
page that holds a secret is what BREACH attacks; they need many answers with the attacker's
text reflected beside the same secret, each a little different, and here each different
address (the search, say) is a page made afresh, whose CSRF token Django masks anew, while
asking the same address again gives the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
import random
import threading
import time
import zlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django.http import HttpResponse
from django.utils import timezone
from django.utils import translation
from django.utils.cache import get_conditional_response
from django.utils.cache import patch_cache_control
from django.utils.cache import patch_vary_headers
from django.utils.http import quote_etag

from liseuse.accounts.models import User
from liseuse.feeds import queries


def seconds() -> int:
    return int(getattr(settings, "LISEUSE_PAGE_CACHE_SECONDS", 0))


# A kept page stays fresh between this share of `seconds()` and all of it, drawn for each page.
SHORTEST_LIFETIME = 0.5


def lifetime() -> float:
    """How long a page just made stays fresh: at most `seconds()`, drawn at random from its
    second half. Pages made together (a web process's first minute, each person's first
    visit) would otherwise all expire together and be made again in the same seconds: 200
    pages at 40 ms of CPU each pushed the p99 of every other answer over a second
    (bench/scale_data.py). Drawn over a quarter, they still took it to 300 ms."""
    return seconds() * random.uniform(SHORTEST_LIFETIME, 1.0)


def kept_for() -> int:
    """How long a page stays kept at all: twice its freshest, so that it can be served stale
    while one request makes it again."""
    return 2 * seconds()


@dataclass(frozen=True, slots=True)
class PageKey:
    """Where a page is kept, and which version of it is wanted.

    One slot per browser and address: a newer version takes the older one's place, so a
    person who reads all day fills one slot per page they open, not one per change they make."""

    slot: str  # the person, the browser, the address, the language, the time zone
    version: str  # their change counter, their newest entry, the day


@dataclass(frozen=True, slots=True)
class KeptPage:
    version: str
    gzipped: bytes
    made: float  # time.time() when it was made
    fresh_until: float  # then it is made again (the first request after makes it)

    def etag(self, page_key: PageKey) -> str:
        """Its version and when it was made: a page made again after it expired (what the key
        does not see may have changed) has a new ETag. The web processes of one machine share
        their copies; a browser whose next request reaches another machine, or a process that
        made the page at the same moment, gets the page again, not a 304."""
        return quote_etag(f"{page_key.slot}.{page_key.version}.{int(self.made * 1000)}")


def key(request: HttpRequest, user: User, today: str) -> PageKey | None:
    """The page's key, or None when it is not to be kept."""
    browser = request.COOKIES.get(settings.CSRF_COOKIE_NAME, "")
    if seconds() <= 0 or request.method not in ("GET", "HEAD") or not browser:
        return None
    slot = (
        user.pk,
        browser,
        request.get_full_path(),
        translation.get_language(),
        timezone.get_current_timezone_name(),
    )
    version = (user.generation, queries.newest_entry_id(user), today)
    # Hashed: the CSRF cookie is a secret, a search makes the address long, and memcached
    # takes keys of 250 bytes.
    return PageKey(
        "page:" + hashlib.blake2b(repr(slot).encode(), digest_size=16).hexdigest(),
        "_".join(str(part) for part in version),
    )


def labelled(response: HttpResponse, etag: str) -> HttpResponse:
    """`no-cache` has the browser ask again before each use, with the ETag."""
    response["ETag"] = etag
    patch_cache_control(response, private=True, no_cache=True)
    return response


# The slots whose page went stale and is being made again, with when that began: meanwhile the
# other requests for it get the stale page, rather than all making it at once (each of 50
# connections asking for a page that expired made it again, several times over).
_remaking: dict[str, float] = {}
_remaking_lock = threading.Lock()
# A request that took a page to make and has not kept it after this long (an error, a search
# refused) no longer holds the others to the stale page.
REMAKE_PATIENCE = 10.0
# Beside a page in the shared folder while a web process makes it again.
REMAKING = ".remaking"


def get(page_key: PageKey | None) -> KeptPage | None:
    """The page to answer with: this version, fresh, or stale while another request makes it
    again; None when this request is to make it."""
    if page_key is None:
        return None
    now = time.time()
    kept: KeptPage | None = caches["pages"].get(page_key.slot)
    if kept is not None and kept.version == page_key.version and now < kept.fresh_until:
        return kept
    # Not fresh in this process: another web process of this machine may have made it since.
    made_elsewhere = _shared(page_key.slot)
    if (
        made_elsewhere is not None
        and made_elsewhere.version == page_key.version
        and (kept is None or kept.version != page_key.version or made_elsewhere.made > kept.made)
    ):
        kept = made_elsewhere
        caches["pages"].set(page_key.slot, kept, timeout=max(1.0, kept.made + kept_for() - now))
        if now < kept.fresh_until:
            return kept
    if kept is None or kept.version != page_key.version:
        return None  # something the person sees changed: make it, whoever else does too
    return kept if not _claim(page_key.slot, now) else None


def _shared(slot: str) -> KeptPage | None:
    """The page another web process of this machine kept in the shared folder, if any. A file
    an earlier version of liseuse wrote (another KeptPage), or one damaged, is as good as none:
    the page is made again and written anew, rather than every request failing until it
    expires."""
    try:
        found = caches["shared-pages"].get(slot)
    except (
        AttributeError, EOFError, ImportError, IndexError, TypeError, ValueError,
        pickle.UnpicklingError, zlib.error,
    ):  # fmt: skip
        return None
    return found if isinstance(found, KeptPage) else None


def _claim(slot: str, now: float) -> bool:
    """Whether this request is the one of this machine to make a stale page again; if not,
    another request of this process or of another web process is making it."""
    with _remaking_lock:
        began = _remaking.get(slot)
        if began is not None and now - began < REMAKE_PATIENCE:
            return False
        if len(_remaking) > 1000:  # forget those given up long ago
            for other, when in list(_remaking.items()):
                if now - when >= REMAKE_PATIENCE:
                    del _remaking[other]
        _remaking[slot] = now
    # The processes copy a page from the shared folder with its time of expiry: they all see
    # it expire at the same moment, and each made it again (not atomic, two may still both).
    if caches["shared-pages"].add(slot + REMAKING, now, timeout=REMAKE_PATIENCE):
        return True
    with _remaking_lock:
        _remaking.pop(slot, None)  # theirs: ask again, their page will be in the folder
    return False


def keep(request: HttpRequest, page_key: PageKey, body: bytes) -> HttpResponse:
    """Keep a page just made, and answer with it.

    Kept gzipped only: a tenth of the memory, and what almost every browser asks for; the
    rare client that does not take gzip gets it unpacked (a millisecond). Level 4: a third of
    level 6's time for 4 % more bytes (a 420 KB page: 3.6 ms against 10.5), once per version.
    It stays in memory twice its fresh time, to be served stale while it is made again, and
    is written to the folder the other web processes of this machine look in before they make
    it themselves."""
    now = time.time()
    kept = KeptPage(page_key.version, gzip.compress(body, compresslevel=4), now, now + lifetime())
    caches["pages"].set(page_key.slot, kept, timeout=kept_for())
    caches["shared-pages"].set(page_key.slot, kept, timeout=kept_for())
    with _remaking_lock:
        _remaking.pop(page_key.slot, None)
    caches["shared-pages"].delete(page_key.slot + REMAKING)
    return answer(request, page_key, kept, plain=body)


def answer(
    request: HttpRequest, page_key: PageKey, kept: KeptPage, *, plain: bytes | None = None
) -> HttpResponse:
    """The kept page, gzipped when the browser takes gzip; a 304 without a body when the
    browser's copy is this one (its `If-None-Match`): a reload of an unchanged page."""
    etag = kept.etag(page_key)
    unchanged = get_conditional_response(request, etag=etag)
    if unchanged is not None:
        return labelled(unchanged, etag)
    response = HttpResponse()
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        response.content = kept.gzipped
        response["Content-Encoding"] = "gzip"
    else:
        response.content = plain if plain is not None else gzip.decompress(kept.gzipped)
    patch_vary_headers(response, ("Accept-Encoding",))
    return labelled(response, etag)
