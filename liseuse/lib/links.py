"""URLs as the two APIs give them to apps: nothing in them can end an HTML attribute or open a tag.

Feeds' links are stored as the feed wrote them once made absolute and cleaned
(`pipeline.sanitize`), raw `"`, `<` and `>` included: a browser reads them, and percent-encodes
them itself before it asks for the page. The web pages escape every URL they write. An app
that writes an item's link into its own HTML without escaping it (`<a href="…">`) would have
opened a tag of the feed's choosing: so the APIs give those characters percent-encoded. That
does not change where a link leads: a browser encodes them so itself before it asks for the
page (the WHATWG URL standard: `"`, `<`, `>`, the backtick and blanks anywhere, `'` in a
query), and servers read `%27` in a path as `'`. Not done when storing:
an entry without a guid is known by its link (`pipeline.decide`), and stored links would have
stopped matching what their feeds list.
"""

from __future__ import annotations

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
