"""URLs (and media types) as the two APIs give them to apps: nothing in them can end an HTML
attribute or open a tag.

Feeds' links are stored as the feed wrote them once made absolute and cleaned
(`pipeline.sanitize`), raw `"`, `<` and `>` included: a browser reads them, and percent-encodes
them itself before it asks for the page. The web pages escape every URL they write. An app
that writes an item's link into its own HTML without escaping it (`<a href="…">`) would have
opened a tag of the feed's choosing: so the APIs give those characters percent-encoded. That
does not change where a link leads: a browser encodes them so itself before it asks for the
page (the WHATWG URL standard: `"`, `<`, `>`, the backtick and blanks anywhere, `'` in a
query), and servers read `%27` in a path as `'`. Not done when storing:
an entry without a guid is known by its link (`pipeline.decide`), and stored links would have
stopped matching what their feeds list. Nor for what apps send back as an id: Google Reader's
subscription list gives a feed's address as stored (`feed/<url>` names the feed).
"""

from __future__ import annotations

import re

# C0 controls, space, the quotes, the angle brackets and the backtick (an attribute quote in
# old Internet Explorer), and DEL.
_UNSAFE = str.maketrans(
    {
        char: f"%{ord(char):02X}"
        for char in [*map(chr, range(0x21)), '"', "'", "<", ">", "`", "\x7f"]
    }
)


def for_apps(url: str) -> str:
    """`url` with the characters above percent-encoded; any other character as it was."""
    return url.translate(_UNSAFE)


# type "/" subtype, each a token of RFC 9110 (no blank, quote, bracket…), parameters after ";".
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+/[A-Za-z0-9!#$%&'*+.^_`|~-]+")


# What a thumbnail is listed with (`feeds.store`): a medium, as FreshRSS lists thumbnails.
_MEDIA = frozenset({"image", "audio", "video"})


def media_type_for_apps(declared: str) -> str:
    """An attachment's media type as the feed declared it, without its parameters, if it is
    one ("audio/mpeg", or a bare medium: "image"); else "". A feed's `type="audio/mpeg&quot;
    onload=…"` reached apps as it was, and one that writes it into an attribute of its own
    would have been open to it."""
    base = declared.split(";", 1)[0].strip()
    if base in _MEDIA:
        return base
    return base if _MEDIA_TYPE.fullmatch(base) and for_apps(base) == base else ""
