"""Item ids, times and continuation tokens in the shapes Google Reader clients send and expect.

An item id is liseuse's entry id, written either long (`tag:google.com,2005:reader/item/` and 16
lowercase hex digits) or short (the same number in decimal). An item's `timestampUsec` is the
entry's sort date, the date clients see and page by (and `ts` of mark-all-as-read compares with);
its `crawlTimeMsec` is when the entry reached the person, which `ot` and `nt` filter on as
FreshRSS's do: a client syncing "what arrived since" gets an entry fetched today that a feed
dated last week.
"""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from liseuse.greader.errors import bad_request

LONG_PREFIX = "tag:google.com,2005:reader/item/"
_HEX = re.compile(r"[0-9a-fA-F]{1,16}")
_DECIMAL = re.compile(r"-?[0-9]{1,20}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def long_id(entry_id: int) -> str:
    return f"{LONG_PREFIX}{entry_id & 0xFFFF_FFFF_FFFF_FFFF:016x}"


def parse_item_id(raw: str) -> int:
    """An entry id from either form; the long form may come without its prefix (hex alone).

    As FreshRSS does: digits not starting with 0 are decimal; anything else is the hex last
    segment of the long form. Google's short ids were signed 64-bit numbers, so a negative
    decimal is read back as the unsigned value of the same bits.
    """
    value = raw.strip()
    if _DECIMAL.fullmatch(value) and not value.startswith("0"):
        number = int(value)
        return number + (1 << 64) if number < 0 else number
    tail = value.rsplit("/", 1)[-1]
    if _HEX.fullmatch(tail):
        return int(tail, 16)
    raise bad_request(f"Not an item id: {raw[:100]!r}")


def usec(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_usec(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def from_client_time(raw: str, name: str) -> datetime:
    """A time a client sends: seconds for `ot`/`nt`; for `ts` any of s, ms, µs or ns.

    Clients disagree on the unit of `ts` (Google documented µs, some send seconds, some the
    newest item's timestampUsec): the magnitude tells which, as no real date is ambiguous.
    """
    value = raw.strip()
    if not _DECIMAL.fullmatch(value):
        raise bad_request(f"{name} must be a number, got {raw[:100]!r}")
    number = int(value)
    magnitude = abs(number)
    if magnitude < 10**11:
        micros = number * 1_000_000
    elif magnitude < 10**14:
        micros = number * 1_000
    elif magnitude < 10**17:
        micros = number
    else:
        micros = number // 1_000
    try:
        return from_usec(micros)
    except OverflowError:
        raise bad_request(f"{name} is out of range: {raw[:100]!r}") from None


def continuation(after: tuple[datetime, int]) -> str:
    """An opaque token of digits (some clients store it as a number): µs, then a 12-digit id."""
    date, entry_id = after
    return f"{usec(date)}{entry_id:012d}"


def parse_continuation(raw: str) -> tuple[datetime, int]:
    value = raw.strip()
    if not re.fullmatch(r"-?[0-9]{13,40}", value):
        raise bad_request(f"Not a continuation token of this server: {raw[:100]!r}")
    try:
        return from_usec(int(value[:-12])), int(value[-12:])
    except OverflowError:
        raise bad_request(f"Not a continuation token of this server: {raw[:100]!r}") from None
