"""Feed dates into timezone-aware UTC datetimes.

Feeds write dates as RFC 822 (RSS: `Tue, 10 Jun 2003 04:00:00 GMT`, often with odd or
local zone names), ISO 8601 / W3CDTF (Atom, dc:date, JSON Feed: `2003-12-13T18:30:02Z`,
`2003-12`, `20031213T183002+0100`) or something broken near those. The two common forms go
through fast regular expressions; anything else goes to dateutil's lenient parser. A date
without a zone is taken as UTC. What cannot be read gives None, never an exception.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from dateutil import parser as dateutil_parser

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "janv", "january", "janvier"),
            ("feb", "fev", "févr", "february", "février", "fevrier"),
            ("mar", "mars", "march"),
            ("apr", "avr", "april", "avril"),
            ("may", "mai"),
            ("jun", "juin", "june"),
            ("jul", "juil", "july", "juillet"),
            ("aug", "aou", "août", "aout", "august"),
            ("sep", "sept", "september", "septembre"),
            ("oct", "october", "octobre"),
            ("nov", "november", "novembre"),
            ("dec", "déc", "december", "décembre"),
        ),
        start=1,
    )
    for name in names
}

# Zone names seen in real feeds, in hours from UTC. RFC 822's military letters are left out on
# purpose: RFC 1123 notes they were used with the wrong sign, so reading them as UTC is safer.
_ZONES: dict[str, float] = {
    "UT": 0,
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "WET": 0,
    "BST": 1,
    "CET": 1,
    "MET": 1,
    "WEST": 1,
    "CEST": 2,
    "MEST": 2,
    "EET": 2,
    "EEST": 3,
    "MSK": 3,
    "IST": 5.5,
    "JST": 9,
    "KST": 9,
    "HKT": 8,
    "SGT": 8,
    "AWST": 8,
    "ACST": 9.5,
    "AEST": 10,
    "AEDT": 11,
    "NZST": 12,
    "NZDT": 13,
    "AST": -4,
    "ADT": -3,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
    "AKST": -9,
    "AKDT": -8,
    "HST": -10,
    "NST": -3.5,
    "NDT": -2.5,
}

_RFC822 = re.compile(
    r"""^\s*(?:[A-Za-zéû]{2,9}\.?,?\s*)?          # optional weekday, any language or spelling
    (?P<day>\d{1,2})[\s-]+(?P<month>[A-Za-zéû]{3,9})\.?[\s-]+(?P<year>\d{2,4})
    (?:[\sT,]+(?P<hour>\d{1,2}):(?P<minute>\d{1,2})(?::(?P<second>\d{1,2})(?:\.\d+)?)?)?
    \s*(?P<zone>(?:[+-]\d{1,2}:?\d{2}|[A-Za-z]{1,5}(?:[+-]\d{1,2}(?::?\d{2})?)?))?\s*$""",
    re.VERBOSE,
)

_ISO8601 = re.compile(
    r"""^\s*(?P<year>\d{4})(?:-?(?P<month>\d{2})(?:-?(?P<day>\d{2}))?)?
    (?:[T\s]+(?P<hour>\d{1,2})(?::?(?P<minute>\d{2})(?::?(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?)?
    \s*(?P<zone>Z|[+-]\d{2}(?::?\d{2})?|[A-Za-z]{2,5})?)?\s*$""",
    re.VERBOSE | re.IGNORECASE,
)

_TZINFOS = {name: int(hours * 3600) for name, hours in _ZONES.items()}
_YEAR = re.compile(r"(?<!\d)(?:1[6-9]|2\d)\d\d(?!\d)")

_ZONE_OFFSET = re.compile(r"^([A-Za-z]{0,5})([+-])(\d{1,2}):?(\d{2})?$")


@functools.lru_cache(maxsize=512)
def _zone(text: str | None) -> timezone | None:
    """A zone as written after a time, or None when it is unknown (then the date is refused
    rather than guessed, except that no zone at all means UTC)."""
    if not text:
        return UTC
    hours = _ZONES.get(text.upper())
    if hours is not None:
        return timezone(timedelta(hours=hours))
    match = _ZONE_OFFSET.match(text)
    if match is None or (match.group(1) and match.group(1).upper() not in ("GMT", "UTC", "UT")):
        return None
    digits = match.group(3)
    minutes = match.group(4)
    if minutes is None and len(digits) <= 2:
        offset = timedelta(hours=int(digits))
    else:
        offset = timedelta(hours=int(digits), minutes=int(minutes or 0))
    if offset >= timedelta(hours=24):
        return None
    return timezone(-offset if match.group(2) == "-" else offset)


def _build(
    year: int, month: int, day: int, hour: int, minute: int, second: int, zone: timezone
) -> datetime | None:
    if second == 60:  # a leap second: keep the instant just before it
        second = 59
    if hour == 24 and minute == 0 and second == 0:
        # ISO 8601 allows 24:00 for the end of a day.
        try:
            return datetime(year, month, day, tzinfo=zone).astimezone(UTC) + timedelta(days=1)
        except ValueError:
            return None
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=zone).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _from_rfc822(match: re.Match[str]) -> datetime | None:
    month = _MONTHS.get(match.group("month").lower())
    zone = _zone(match.group("zone"))
    if month is None or zone is None:
        return None
    year = int(match.group("year"))
    if year < 100:
        # Two-digit years: RFC 2822 says 00–49 are 20xx and 50–99 are 19xx.
        year += 2000 if year < 50 else 1900
    return _build(
        year,
        month,
        int(match.group("day")),
        int(match.group("hour") or 0),
        int(match.group("minute") or 0),
        int(match.group("second") or 0),
        zone,
    )


def _from_iso8601(match: re.Match[str]) -> datetime | None:
    zone = _zone(match.group("zone"))
    if zone is None:
        return None
    return _build(
        int(match.group("year")),
        int(match.group("month") or 1),
        int(match.group("day") or 1),
        int(match.group("hour") or 0),
        int(match.group("minute") or 0),
        int(match.group("second") or 0),
        zone,
    )


def parse_date(text: str | None) -> datetime | None:
    """The instant a feed's date string means, in UTC, or None if it cannot be read."""
    if not text:
        return None
    text = text.strip()
    if not text or len(text) > 100:
        return None
    match = _ISO8601.match(text)
    if match is not None:
        return _from_iso8601(match)
    match = _RFC822.match(text)
    if match is not None:
        result = _from_rfc822(match)
        if result is not None:
            return result
    return _lenient(text)


def _lenient(text: str) -> datetime | None:
    """dateutil for the rest (`2003/12/31 10:14:55`, `Sunday, December 31, 2003 10:14am EST`)."""
    if not _YEAR.search(text):
        # dateutil fills a missing year, month or day from today: a date without a year is
        # better unknown than invented.
        return None
    try:
        parsed = dateutil_parser.parse(text, tzinfos=_TZINFOS)
    except (ValueError, OverflowError, TypeError, dateutil_parser.ParserError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # pragma: no cover - out-of-range after the shift
        return None
