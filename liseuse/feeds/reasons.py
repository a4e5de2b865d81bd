"""A feed's stored error, in the reader's language (see `liseuse.pipeline.reasons`)."""

from __future__ import annotations

import re
from functools import lru_cache
from string import Formatter

from django.utils.translation import get_language
from django.utils.translation import gettext

from liseuse.pipeline import reasons

# Fields inside fields are read again (the reason in "no feed found at … (reason)", the kind of
# address in a refusal), this many times at most.
_MAX_DEPTH = 3


def _pattern(template: str) -> re.Pattern[str]:
    """A pattern that matches what `template.format(...)` gives, each field a named group (a
    field named twice must be the same text twice)."""
    parts: list[str] = []
    seen: set[str] = set()
    for literal, field, _, _ in Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is None:
            continue
        parts.append(f"(?P={field})" if field in seen else f"(?P<{field}>.*?)")
        seen.add(field)
    return re.compile("".join(parts), re.DOTALL)


# Longest literal text first: where two templates could read the same reason, the one that
# says more of it wins ("could not connect to {host} within {seconds} s" over "… ({error})").
_TEMPLATES = sorted(
    reasons.TEMPLATES,
    key=lambda t: -sum(len(literal) for literal, *_ in Formatter().parse(t)),
)
_PATTERNS = [(_pattern(template), template) for template in _TEMPLATES]


def readable(reason: str) -> str:
    """`reason`, as the pipeline wrote it in English, in the active language; as it is when no
    template matches it."""
    return _readable(reason, get_language()) if reason else reason


# The sidebar shows every failing feed's reason on every page: read each once per language.
@lru_cache(maxsize=512)
def _readable(reason: str, language: str | None) -> str:
    return _read(reason, 0)


def _read(reason: str, depth: int) -> str:
    if not reason or depth > _MAX_DEPTH:
        return reason
    for pattern, template in _PATTERNS:
        match = pattern.fullmatch(reason)
        if match is not None:
            fields = {name: _read(value, depth + 1) for name, value in match.groupdict().items()}
            return gettext(template).format(**fields)
    return reason
