"""The fetch step: the one outbound HTTP client of liseuse.

Everything the project downloads (feeds, discovery pages, favicons, full text, OPML by URL) goes
through `Fetcher`, so the rules live in one place:

- http and https only; conditional GET (ETag / Last-Modified) for feeds, answered 304 → empty body;
- gzip, deflate and br (and x-gzip, and codings stacked like "gzip, gzip"), undone here for a
  whole body so that one cut short is an error, not a shorter feed; a size cap counted after
  decompression, which stops a compression bomb as soon as it passes the cap;
- at most five redirects, followed here rather than by aiohttp so each hop is checked;
- a part of a body when asked for (the media proxy's Range requests): a 206 is accepted only
  then, and never holds more than the part asked for, even from a server that sends it all;
- a connect time-out, and a total time-out for the whole fetch (all hops, body included);
- a global and a per-host concurrency limit;
- the private-network guard (`netguard`), on by default, applied to the address actually
  connected to: the resolver drops refused addresses before aiohttp sees them (its DNS cache
  therefore only ever holds checked answers), IP literals, which aiohttp never sends to the
  resolver, are checked before each hop, and a socket factory checks the final address again as
  a last line. No proxy from the environment is used: the guard would then check the proxy.

It does not parse, does not decide when to fetch again (it only reports what the server asked
for: Cache-Control / Expires, Retry-After) and does not touch the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import http
import ipaddress
import os
import re
import socket
import zlib
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Protocol

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp import compression_utils
from aiohttp.abc import AbstractResolver
from aiohttp.abc import ResolveResult
from multidict import CIMultiDictProxy
from yarl import URL

try:  # aiohttp[speedups] brings it; without it, br is not asked for (`accept_encoding`)
    import brotli  # type: ignore[import-untyped]
except ImportError:
    brotli = None
try:  # aiohttp[speedups] brings it too (Python 3.14 has compression.zstd)
    from backports import zstd
except ImportError:
    zstd = None  # type: ignore[assignment]

from liseuse.pipeline import reasons
from liseuse.pipeline.netguard import AddressPolicy
from liseuse.pipeline.netguard import parse_host_as_ip
from liseuse.pipeline.types import BlockedAddressError
from liseuse.pipeline.types import ByteRange
from liseuse.pipeline.types import FetchError
from liseuse.pipeline.types import FetchRequest
from liseuse.pipeline.types import FetchResult
from liseuse.pipeline.types import RangeNotSatisfiable

DEFAULT_USER_AGENT = "liseuse/0.1 (+https://liseuse.org; feed reader)"

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9,"
    " application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
# Content codings aiohttp undoes itself as it reads, when the header names exactly one of them
# and it is asked to (the beginning or a part of a body); anything else reaches `_undo_codings`
# as it came.
_AIOHTTP_CODINGS = frozenset({"gzip", "deflate", "br", "zstd"})
# What `_undo_codings` undoes: a whole body's codings (aiohttp accepts a gzip or br stream that
# ends before its end when nothing else tells the body's length: a server that closes the
# connection to end it, and is cut short, gave a shorter feed, stored with its ETag), and
# in the cases aiohttp leaves alone, "x-gzip" (the old name of gzip, RFC 9110 says to read it
# as gzip) and codings applied more than once ("gzip, gzip").
_OWN_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "br"})
_GZIP_MAGIC = b"\x1f\x8b"

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECT_STATUSES = frozenset({301, 308})

# A server's caching hint can only delay the next fetch this much: a feed saying
# "max-age=31536000" must not silence itself for a year.
MAX_CACHE_HINT = timedelta(hours=24)
# Same for Retry-After; the decide step may bound it further.
MAX_RETRY_AFTER = timedelta(days=7)

_READ_CHUNK = 64 * 1024
# aiohttp's DNS cache does not follow the records' TTL; a minute keeps a batch of a thousand
# feeds over fifty hosts to about fifty lookups while still noticing moves within a refresh cycle.
_DNS_CACHE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class FetchConfig:
    """How the fetcher behaves; built from settings by the caller (no Django here)."""

    user_agent: str = DEFAULT_USER_AGENT
    allow_private_networks: bool = False
    # Private networks let through although the guard is on, e.g. ("192.168.1.10/32",).
    allowed_networks: tuple[str, ...] = ()
    connect_timeout: float = 10.0
    # For one whole fetch: every redirect hop and the body. Time spent waiting for a free
    # concurrency slot before the first hop does not count.
    total_timeout: float = 30.0
    max_body_bytes: int = 15 * 1024 * 1024
    max_redirects: int = 5
    global_concurrency: int = 64
    per_host_concurrency: int = 2


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Fetcher:
    """Async context manager owning one aiohttp session (one connection pool) for a batch.

    `resolver` replaces the DNS resolver (tests use a fake one); the guard wraps whatever
    resolver is used. `clock` gives the current time for Retry-After and caching hints.
    """

    def __init__(
        self,
        config: FetchConfig | None = None,
        *,
        resolver: AbstractResolver | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.config = config or FetchConfig()
        self._policy = AddressPolicy.build(
            allow_private_networks=self.config.allow_private_networks,
            allowed_networks=self.config.allowed_networks,
        )
        self._given_resolver = resolver
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._own_resolver: AbstractResolver | None = None
        self._all_slots: asyncio.Semaphore | None = None
        self._host_slots = _HostSlots(self.config.per_host_concurrency)

    async def __aenter__(self) -> Fetcher:
        resolver = self._given_resolver
        if resolver is None:
            resolver = self._own_resolver = aiohttp.DefaultResolver()
        # Guarded even when private networks are allowed: cloud metadata services stay refused
        # (netguard._METADATA), whatever name leads to them.
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(resolver, self._policy),
            socket_factory=_guarded_socket_factory(self._policy),
            limit=self.config.global_concurrency,
            limit_per_host=0,  # per host is limited by hostname in `_HostSlots`, not by port
            ttl_dns_cache=_DNS_CACHE_SECONDS,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None,  # enforced over all hops in `_get`
                connect=self.config.connect_timeout,
                sock_connect=self.config.connect_timeout,
            ),
            headers={"User-Agent": self.config.user_agent, "Accept-Encoding": accept_encoding()},
            # No cookies: they would travel from one feed to another on a shared host.
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,  # no proxy from the environment (see the module docstring)
        )
        self._all_slots = asyncio.Semaphore(self.config.global_concurrency)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._own_resolver is not None:
            await self._own_resolver.close()
            self._own_resolver = None

    async def fetch_feed(self, request: FetchRequest) -> FetchResult:
        """Fetch a feed, conditionally if we hold validators. Raises FetchError."""
        headers = {"Accept": FEED_ACCEPT}
        if request.etag:
            headers["If-None-Match"] = request.etag
        if request.last_modified:
            headers["If-Modified-Since"] = request.last_modified
        result = await self._get(request.url, headers, self.config.max_body_bytes)
        if result.not_modified:
            # Many servers leave the validators out of a 304: the ones we sent still hold.
            return dataclasses.replace(
                result,
                etag=result.etag or request.etag,
                last_modified=result.last_modified or request.last_modified,
            )
        return result

    async def fetch(
        self,
        url: str,
        *,
        max_bytes: int | None = None,
        accept: str = "*/*",
        partial: bool = False,
        byte_range: tuple[int, int] | None = None,
    ) -> FetchResult:
        """A plain GET for anything that is not a known feed: same guard, same limits. With
        `partial`, a body over the cap is cut there rather than refused: for pages read only for
        what their beginning says (a site's <head>).

        With `byte_range` (first, last: both included), only that part of the body is asked
        for and returned, with `content_range` saying which bytes it holds (fewer than asked
        at the end of the body, or at `max_bytes`); `partial` does not apply. A server that
        ignores the Range and sends the whole body has the part cut out of it: at most
        `max_bytes` of such a body are read, so a part starting beyond is refused as too
        large. A part starting beyond the body's end is a FetchError with status 416."""
        cap = self.config.max_body_bytes if max_bytes is None else max_bytes
        headers = {"Accept": accept}
        if byte_range is not None:
            first, last = byte_range
            if not 0 <= first <= last:
                raise ValueError(f"not a byte range: {byte_range}")
            headers["Range"] = f"bytes={first}-{last}"
            # Offsets count the file's own bytes: a compressed part could not be undone alone.
            headers["Accept-Encoding"] = "identity"
        return await self._get(url, headers, cap, partial=partial, byte_range=byte_range)

    async def _get(
        self,
        url: str,
        headers: Mapping[str, str],
        max_bytes: int,
        *,
        partial: bool = False,
        byte_range: tuple[int, int] | None = None,
    ) -> FetchResult:
        if self._session is None or self._all_slots is None:
            raise RuntimeError("use `async with Fetcher(...)` before fetching")
        session = self._session
        current = _parse_url(url)
        seen = {current}
        hops: list[int] = []  # the status of each redirect followed
        loop = asyncio.get_running_loop()
        try:
            async with self._all_slots, asyncio.timeout(None) as deadline:
                while True:
                    self._check_ip_literal(current)
                    assert current.host is not None  # `_parse_url` saw to it
                    async with self._host_slots.hold(current.host):
                        if deadline.when() is None:
                            deadline.reschedule(loop.time() + self.config.total_timeout)
                        async with session.get(
                            current,
                            headers=headers,
                            allow_redirects=False,
                            # A whole body is decoded here, where its end is checked
                            # (`_undo_codings`); a beginning or a part cannot be.
                            auto_decompress=partial or byte_range is not None,
                        ) as response:
                            if response.status not in REDIRECT_STATUSES:
                                return await self._answer(
                                    response, hops, max_bytes, partial, byte_range
                                )
                            target = _redirect_target(response)
                    hops.append(response.status)
                    if target in seen:
                        raise FetchError(reasons.REDIRECT_LOOP.format(url=target))
                    if len(hops) > self.config.max_redirects:
                        raise FetchError(
                            reasons.TOO_MANY_REDIRECTS.format(count=self.config.max_redirects)
                        )
                    seen.add(target)
                    current = target
        except TimeoutError as exc:
            raise self._describe_timeout(exc, current) from exc
        except aiohttp.ClientError as exc:
            raise _describe_client_error(exc, current) from exc

    async def post_form(self, url: str, form: Mapping[str, str]) -> int:
        """POST `form` (a WebSub hub's subscription request) and return the answer's status.

        The same guard, limits and time-out as a GET; no redirect is followed (a hub answers
        where it is asked) and the body is not read. Raises FetchError when nothing answered.
        """
        if self._session is None or self._all_slots is None:
            raise RuntimeError("use `async with Fetcher(...)` before posting")
        target = _parse_url(url)
        self._check_ip_literal(target)
        assert target.host is not None  # `_parse_url` saw to it
        try:
            async with (
                self._all_slots,
                self._host_slots.hold(target.host),
                asyncio.timeout(self.config.total_timeout),
                self._session.post(target, data=dict(form), allow_redirects=False) as response,
            ):
                return response.status
        except TimeoutError as exc:
            raise self._describe_timeout(exc, target) from exc
        except aiohttp.ClientError as exc:
            raise _describe_client_error(exc, target) from exc

    def _describe_timeout(self, exc: TimeoutError, url: URL) -> FetchError:
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return FetchError(
                reasons.CONNECT_TIMEOUT.format(
                    host=url.host, seconds=f"{self.config.connect_timeout:g}"
                )
            )
        return FetchError(
            reasons.TOTAL_TIMEOUT.format(seconds=f"{self.config.total_timeout:g}", url=url)
        )

    def _check_ip_literal(self, url: URL) -> None:
        host = url.raw_host or ""
        ip = parse_host_as_ip(host)
        if ip is None:
            return  # a name: the guarded resolver checks what it resolves to
        refusal = self._policy.refusal(ip, host=host)
        if refusal is not None:
            raise BlockedAddressError(refusal)
        if isinstance(ip, ipaddress.IPv4Address) and host.rstrip(".") != str(ip):
            # aiohttp refuses these spellings anyway; say why in words.
            raise FetchError(reasons.ODD_IP_SPELLING.format(host=host, ip=ip))

    async def _answer(
        self,
        response: aiohttp.ClientResponse,
        hops: list[int],
        max_bytes: int,
        partial: bool,
        byte_range: tuple[int, int] | None,
    ) -> FetchResult:
        now = self._clock()
        status = response.status
        # A part of a body taken for the whole (a feed cut short, say) only ever comes unasked.
        if not (200 <= status < 300 or status == 304) or (status == 206 and byte_range is None):
            raise _status_error(status, response.headers, now)
        whole = True
        content_range = None
        if byte_range is not None and status in (200, 206):
            body, content_range = await _read_part(response, byte_range, max_bytes, now)
            whole = False  # a part: any coding was refused or undone by aiohttp as it was read
        elif status not in (204, 304) and partial:
            body, whole = await _read_beginning(response, max_bytes)
        else:
            body = b"" if status in (204, 304) else await _read_capped(response, max_bytes)
        # A cut body in a coding undone here could not be undone: it stays as it came (the
        # codings aiohttp undoes were undone as it was read).
        if body and whole:
            coding = response.headers.get("Content-Encoding", "")
            body = _undo_codings(
                body,
                coding,
                max_bytes,
                host=response.url.host or "",
                undone_as_read=partial,
            )
        permanent = bool(hops) and all(hop in PERMANENT_REDIRECT_STATUSES for hop in hops)
        final_url = str(response.url)
        return FetchResult(
            url=final_url,
            status=status,
            body=body,
            content_type=response.headers.get("Content-Type"),
            etag=_validator(response.headers.get("ETag")),
            last_modified=_validator(response.headers.get("Last-Modified")),
            permanent_url=final_url if permanent else None,
            not_before=cache_hint(response.headers, now),
            content_range=content_range,
        )


class GuardedResolver(AbstractResolver):
    """Resolves with `inner`, then keeps only the addresses the guard allows.

    aiohttp connects only to addresses returned here, and caches only what is returned here,
    so a name that answers differently each time (DNS rebinding) is checked on the very answer
    used to connect.
    """

    def __init__(self, inner: AbstractResolver, policy: AddressPolicy) -> None:
        self._inner = inner
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        literal = parse_host_as_ip(host)
        if literal is not None:
            # aiohttp keeps canonical IP literals from the resolver; other spellings must not
            # reach a resolver that might read them its own way.
            refusal = self._policy.refusal(literal, host=host)
            if refusal is not None:
                raise BlockedAddressError(refusal)
            family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
            return [
                ResolveResult(
                    hostname=host, host=str(literal), port=port, family=family, proto=0, flags=0
                )
            ]
        answers = await self._inner.resolve(host, port, family)
        allowed = []
        refusals = []
        for answer in answers:
            refusal = self._policy.refusal(ipaddress.ip_address(answer["host"]), host=host)
            if refusal is None:
                allowed.append(answer)
            else:
                refusals.append(refusal)
        if not allowed and refusals:
            raise BlockedAddressError(refusals[0])
        return allowed

    async def close(self) -> None:
        """The inner resolver belongs to whoever made it."""


class _RefusedConnection(OSError):
    """Raised by the socket factory; an OSError so aiohttp and aiohappyeyeballs pass it on."""


def _guarded_socket_factory(policy: AddressPolicy) -> Callable[[AddrInfoType], socket.socket]:
    def make_socket(addr_info: AddrInfoType) -> socket.socket:
        family, kind, proto, _, address = addr_info
        refusal = policy.refusal(ipaddress.ip_address(address[0]))
        if refusal is not None:
            raise _RefusedConnection(refusal)
        return socket.socket(family=family, type=kind, proto=proto)

    return make_socket


class _HostSlots:
    """One semaphore per hostname, dropped when nobody holds or awaits it."""

    def __init__(self, per_host: int) -> None:
        self._per_host = per_host
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        semaphore = self._semaphores.setdefault(host, asyncio.Semaphore(self._per_host))
        self._users[host] = self._users.get(host, 0) + 1
        try:
            async with semaphore:
                yield
        finally:
            self._users[host] -= 1
            if self._users[host] == 0:
                del self._users[host], self._semaphores[host]


def _parse_url(url: str) -> URL:
    try:
        parsed = URL(url.strip())
    except (ValueError, TypeError) as exc:
        raise FetchError(reasons.INVALID_URL.format(url=repr(url))) from exc
    return _checked_url(parsed, url)


def _checked_url(parsed: URL, shown: str) -> URL:
    if parsed.scheme not in ("http", "https"):
        scheme = parsed.scheme or "none"
        raise FetchError(reasons.NOT_HTTP.format(scheme=scheme, url=shown))
    if not parsed.raw_host:
        raise FetchError(reasons.NO_HOST.format(url=shown))
    return parsed.with_fragment(None)


def _redirect_target(response: aiohttp.ClientResponse) -> URL:
    status = f"HTTP {response.status} {_phrase(response.status)}"
    location = response.headers.get("Location")
    if not location:
        raise FetchError(
            reasons.REDIRECT_WITHOUT_LOCATION.format(status=status), status=response.status
        )
    try:
        target = response.url.join(URL(_escape_raw_bytes(location)))
    except (ValueError, TypeError) as exc:
        raise FetchError(
            reasons.REDIRECT_TO_INVALID_URL.format(status=status, url=repr(location))
        ) from exc
    return _checked_url(target, location)


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    too_large = FetchError(reasons.TOO_LARGE.format(size=describe_size(max_bytes)))
    # Content-Length counts the compressed size, which is never more than the real one.
    if response.content_length is not None and response.content_length > max_bytes:
        raise too_large
    chunks = []
    size = 0
    # aiohttp decompresses as chunks are asked for, so stopping here stops a bomb early.
    async for chunk in response.content.iter_chunked(_READ_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_beginning(response: aiohttp.ClientResponse, max_bytes: int) -> tuple[bytes, bool]:
    """The body's first `max_bytes` at most, and whether that is all of it. The rest is never
    read: leaving the response closes the connection instead of reusing it."""
    chunks = []
    size = 0
    async for chunk in response.content.iter_chunked(_READ_CHUNK):
        if size + len(chunk) > max_bytes:
            chunks.append(chunk[: max_bytes - size])
            return b"".join(chunks), False
        size += len(chunk)
        chunks.append(chunk)
    return b"".join(chunks), True


_CONTENT_RANGE = re.compile(
    r"bytes\s+(\d{1,18})-(\d{1,18})/(\d{1,18}|\*)", re.ASCII | re.IGNORECASE
)


async def _read_part(
    response: aiohttp.ClientResponse, wanted: tuple[int, int], max_bytes: int, now: datetime
) -> tuple[bytes, ByteRange]:
    """The part `wanted` of a 206 or 200 answer, and which bytes it holds. Never holds more
    than the part, nor reads more than `max_bytes` of the body."""
    first, last = wanted
    host = response.url.host or ""
    coding = response.headers.get("Content-Encoding", "").strip().lower()
    if response.status == 206:
        given = _parse_content_range(response.headers.get("Content-Range"))
        # Asked for with "Accept-Encoding: identity": a coded part would count other bytes. A
        # part starting elsewhere than asked (or several parts) is not the one asked for.
        if coding not in ("", "identity") or given is None or given.first != first:
            raise FetchError(reasons.INVALID_RESPONSE.format(host=host))
        # At most the part asked for and announced, whatever more the server sends.
        limit = min(last, given.last) - first + 1
        body, _ = await _read_beginning(response, min(limit, max_bytes))
        if not body:
            raise FetchError(reasons.BROKEN_BODY.format(host=host))
        return body, ByteRange(first, first + len(body) - 1, given.total)
    # A 200: the server ignores ranges and sends the whole body, from which the part is cut as
    # it passes; only the part is kept. aiohttp undid the usual codings as it read; others
    # would leave bytes that are not the file's.
    if coding not in ("", "identity") and coding not in _AIOHTTP_CODINGS:
        raise FetchError(reasons.INVALID_RESPONSE.format(host=host))
    total = response.content_length if coding in ("", "identity") else None
    if total is not None and first >= total:
        raise _range_error(total)
    if first >= max_bytes:
        raise FetchError(reasons.TOO_LARGE.format(size=describe_size(max_bytes)))
    end = min(last + 1, max_bytes)  # the offset after the last byte kept
    chunks = []
    size = 0  # bytes of the body read so far
    ended = True
    async for chunk in response.content.iter_chunked(_READ_CHUNK):
        if size + len(chunk) > first:
            chunks.append(chunk[max(first - size, 0) : end - size])
        size += len(chunk)
        if size >= end:
            ended = False  # (or just at the end: only a further read would tell)
            break
    body = b"".join(chunks)
    if ended:
        total = size
    if not body:  # the body ends before `first`
        raise _range_error(size)
    return body, ByteRange(first, first + len(body) - 1, total)


def _parse_content_range(value: str | None) -> ByteRange | None:
    """A 206's Content-Range ("bytes 0-99/1000", "bytes 0-99/*"), if it is one and consistent."""
    match = _CONTENT_RANGE.fullmatch((value or "").strip())
    if match is None:
        return None
    first, last = int(match[1]), int(match[2])
    total = None if match[3] == "*" else int(match[3])
    if last < first or (total is not None and last >= total):
        return None
    return ByteRange(first, last, total)


def accept_encoding() -> str:
    """The Accept-Encoding header: br only when aiohttp can undo it.

    brotli comes with aiohttp[speedups], but a system's packages may lack it: offering br then
    would turn every answer of a site that prefers it into "invalid HTTP response".
    """
    return "gzip, deflate, br" if _can_undo_brotli() else "gzip, deflate"


def _undo_codings(
    body: bytes, header: str, max_bytes: int, *, host: str, undone_as_read: bool = False
) -> bytes:
    """Undoes the content codings of a whole body, capped; with `undone_as_read`, only those
    aiohttp left in place ("x-gzip", "gzip, gzip").

    An unknown coding leaves the body as it came, as browsers do: some servers put a charset
    there ("Content-Encoding: utf-8") and their feeds are plain text.
    """
    if undone_as_read and header.isascii() and header.lower() in _AIOHTTP_CODINGS:
        return body  # aiohttp has undone it already
    codings = [coding.strip().lower() for coding in header.split(",")]
    codings = [coding for coding in codings if coding and coding != "identity"]
    if not codings or not all(coding in _own_codings() for coding in codings):
        return body
    for coding in reversed(codings):  # the last coding listed was applied last
        if coding == "br":
            body = _unbrotli(body, max_bytes, host=host)
        elif coding == "zstd":
            body = _unzstd(body, max_bytes, host=host)
        else:
            body = _inflate(body, coding, max_bytes, host=host)
    return body


def _own_codings() -> frozenset[str]:
    # br only with the brotli module (aiohttp[speedups]), as `accept_encoding` asks for it.
    # zstd is never asked for, but a server may send it all the same: aiohttp undid it.
    codings = _OWN_CODINGS if _can_undo_brotli() else _OWN_CODINGS - {"br"}
    return codings | {"zstd"} if zstd is not None else codings


def _can_undo_brotli() -> bool:
    return brotli is not None and compression_utils.HAS_BROTLI


def _unzstd(data: bytes, max_bytes: int, *, host: str) -> bytes:
    """A zstd layer (every frame of it), stopped as soon as it passes the cap; an error if it
    ends before its end."""
    assert zstd is not None  # zstd is only undone with the module (`_own_codings`)
    out = bytearray()
    while data:
        decompressor = zstd.ZstdDecompressor()
        _whole_stream(decompressor, zstd.ZstdError, data, out, max_bytes, host=host)
        data = decompressor.unused_data
    return bytes(out)


class _Decompressor(Protocol):
    """What zlib's and zstd's decompressors have in common."""

    def decompress(self, data: bytes, max_length: int, /) -> bytes: ...

    @property
    def eof(self) -> bool: ...


def _whole_stream(
    decompressor: _Decompressor,
    errors: type[Exception],
    data: bytes,
    out: bytearray,
    max_bytes: int,
    *,
    host: str,
) -> None:
    """One stream of `data` undone into `out`: an error if it is broken, passes the cap (it
    stops there: the limit is never 0, "no limit", as `out` holds max_bytes at most), or ends
    before its end (cut short: what came out is not the whole document)."""
    try:
        out += decompressor.decompress(data, max_bytes + 1 - len(out))
    except errors as exc:
        raise FetchError(reasons.BROKEN_BODY.format(host=host)) from exc
    if len(out) > max_bytes:
        raise FetchError(reasons.TOO_LARGE.format(size=describe_size(max_bytes)))
    if not decompressor.eof:
        raise FetchError(reasons.BROKEN_BODY.format(host=host))


def _unbrotli(data: bytes, max_bytes: int, *, host: str) -> bytes:
    """A br layer, stopped as soon as it passes the cap; an error if it ends before its end."""
    assert brotli is not None  # br is only undone with the module (`_own_codings`)
    decompressor = brotli.Decompressor()
    try:
        # The output stops growing once it holds more than the cap: a bomb ends there.
        out: bytes = decompressor.process(data, output_buffer_limit=max_bytes + 1)
    except brotli.error as exc:
        raise FetchError(reasons.BROKEN_BODY.format(host=host)) from exc
    if len(out) > max_bytes:
        raise FetchError(reasons.TOO_LARGE.format(size=describe_size(max_bytes)))
    if not decompressor.is_finished():  # cut short: what came out is not the whole document
        raise FetchError(reasons.BROKEN_BODY.format(host=host))
    return out


def _inflate(data: bytes, coding: str, max_bytes: int, *, host: str) -> bytes:
    """One gzip (every member of it) or deflate layer, stopped as soon as it passes the cap."""
    out = bytearray()
    while data:
        if coding == "deflate" and data[0] & 0x0F != 8:
            wbits = -zlib.MAX_WBITS  # raw deflate without the zlib header, as some servers send
        elif coding == "deflate":
            wbits = zlib.MAX_WBITS
        else:
            wbits = 16 + zlib.MAX_WBITS
        inflater = zlib.decompressobj(wbits)
        _whole_stream(inflater, zlib.error, data, out, max_bytes, host=host)
        # gzip may hold several members one after the other; deflate is one stream. Bytes
        # after the last member that start no other (a stray newline) are ignored, as aiohttp
        # and browsers do.
        data = inflater.unused_data if wbits > zlib.MAX_WBITS else b""
        if not data.startswith(_GZIP_MAGIC):
            break
    return bytes(out)


def _validator(value: str | None) -> str | None:
    """An ETag or Last-Modified worth keeping: one that can be stored and sent back exactly.

    aiohttp reads header bytes as UTF-8 and keeps the other bytes as lone surrogates; HTTP
    allows them in an ETag (a Latin-1 "é", say). No database stores such a string (storing it
    fails the whole update of the feed) and aiohttp's writer drops or refuses them, so it
    could never go back as received: without it the feed is simply fetched in full.
    """
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


_RAW_BYTE = re.compile("[\udc80-\udcff]")


def _escape_raw_bytes(text: str) -> str:
    """A header value with its non-UTF-8 bytes percent-encoded, as browsers do with Location.

    aiohttp keeps such bytes as lone surrogates (byte 0xE9 becomes U+DCE9), which yarl would
    silently drop: "/caf\xe9.xml" would become "/caf.xml", a wrong URL, even saved for good
    after a permanent redirect.
    """
    return _RAW_BYTE.sub(lambda match: f"%{ord(match.group()) - 0xDC00:02X}", text)


def _range_error(size: int | None) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(f"HTTP 416 {_phrase(416)}", size=size)


# A 416's Content-Range: the length of the whole file ("bytes */1000").
_UNSATISFIED_RANGE = re.compile(r"bytes\s+\*/(\d{1,18})", re.ASCII | re.IGNORECASE)


def _status_error(status: int, headers: CIMultiDictProxy[str], now: datetime) -> FetchError:
    reason = f"HTTP {status} {_phrase(status)}".rstrip()
    if status == 416:
        told = _UNSATISFIED_RANGE.fullmatch(headers.get("Content-Range", "").strip())
        return _range_error(int(told[1]) if told else None)
    if status == 410:
        return FetchError(reason, status=status, gone=True)
    if status in (429, 503):
        retry_after = parse_retry_after(headers.get("Retry-After"), now)
        return FetchError(reason, status=status, retry_after=retry_after)
    return FetchError(reason, status=status)


def _phrase(status: int) -> str:
    # The standard phrase, not the server's: its text would end up on the feed-health page.
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


# The system's words for the errors asyncio raises itself, without them: a TLS handshake on a
# plain-HTTP port that drops the connection raised a bare ConnectionResetError, and the reason
# read "could not connect to host:port ()".
_ERRNO_OF: dict[type[OSError], int] = {
    ConnectionResetError: errno.ECONNRESET,
    ConnectionAbortedError: errno.ECONNABORTED,
    ConnectionRefusedError: errno.ECONNREFUSED,
    BrokenPipeError: errno.EPIPE,
}


def _os_words(error: OSError) -> str:
    if error.strerror:
        return error.strerror
    if type(error) in _ERRNO_OF:
        return os.strerror(_ERRNO_OF[type(error)])
    return str(error) or type(error).__name__


def _describe_client_error(exc: aiohttp.ClientError, url: URL) -> FetchError:
    where = f"{url.host}:{url.port}"
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(
        exc.os_error, _RefusedConnection
    ):
        return BlockedAddressError(str(exc.os_error))
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return FetchError(reasons.UNKNOWN_HOST.format(host=url.host))
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        problem = getattr(exc.certificate_error, "verify_message", "") or "not trusted"
        return FetchError(reasons.BAD_CERTIFICATE.format(host=url.host, problem=problem))
    if isinstance(exc, aiohttp.ClientSSLError):
        return FetchError(reasons.TLS_FAILED.format(host=where))
    if isinstance(exc, aiohttp.ClientConnectorError):
        return FetchError(reasons.CONNECT_FAILED.format(host=where, error=_os_words(exc.os_error)))
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return FetchError(reasons.DISCONNECTED.format(host=url.host))
    if isinstance(exc, aiohttp.ClientPayloadError):
        return FetchError(reasons.BROKEN_BODY.format(host=url.host))
    if isinstance(exc, aiohttp.ClientResponseError):
        return FetchError(reasons.INVALID_RESPONSE.format(host=url.host))
    # A safety net: the cases above are those aiohttp raises for a plain GET.
    return FetchError(  # pragma: no cover
        reasons.REQUEST_FAILED.format(host=url.host, error=exc.__class__.__name__)
    )


def describe_size(size: int) -> str:
    """15728640 → "15 MB": sizes in error messages, in the binary units people expect."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{size} bytes"


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After as an instant: delay-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        delay = min(timedelta(seconds=int(value[:12])), MAX_RETRY_AFTER)
        return now + delay
    when = _parse_http_date(value)
    if when is None:
        return None
    return min(max(when, now), now + MAX_RETRY_AFTER)


def cache_hint(
    headers: Mapping[str, str] | CIMultiDictProxy[str], now: datetime
) -> datetime | None:
    """The earliest useful refetch from Cache-Control max-age or Expires, at most a day away."""
    directives = _cache_control(headers)
    if "no-cache" in directives or "no-store" in directives:
        return None
    lifetime: timedelta | None = None
    max_age = directives.get("max-age")
    if max_age is not None:
        if not (max_age.isascii() and max_age.isdigit()):
            return None
        age = headers.get("Age", "0").strip()
        lifetime = timedelta(seconds=int(max_age[:12])) - timedelta(
            seconds=int(age[:12]) if age.isascii() and age.isdigit() else 0
        )
    elif (expires := _parse_http_date(headers.get("Expires", ""))) is not None:
        # Counted from the server's own Date so a wrong clock on either side does not matter.
        sent = _parse_http_date(headers.get("Date", "")) or now
        lifetime = expires - sent
    if lifetime is None or lifetime <= timedelta(0):
        return None
    return now + min(lifetime, MAX_CACHE_HINT)


def _cache_control(headers: Mapping[str, str] | CIMultiDictProxy[str]) -> dict[str, str | None]:
    if isinstance(headers, CIMultiDictProxy):
        values = headers.getall("Cache-Control", [])
    else:
        values = [headers.get("Cache-Control", "")]
    directives: dict[str, str | None] = {}
    for value in values:
        for item in value.split(","):
            name, _, argument = item.partition("=")
            name = name.strip().lower()
            if name:
                directives[name] = argument.strip().strip('"') if argument else None
    return directives


def _parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # "-0000" means UTC with no claim about the origin
    return when.astimezone(UTC)
