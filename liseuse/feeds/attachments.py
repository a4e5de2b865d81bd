"""An entry's attachments (RSS enclosures, Atom `rel="enclosure"` links, media:content) as HTML.

A feed lists them beside its content, and a podcast's episode is nothing but its enclosure: a
reader who sees only the content cannot play it. The reading pages and Fever's `html` (Fever has
no field for them) show them after the content, as FreshRSS does: a player and a link to the
file with its type and size for audio and video, the picture for an image (a video's still
among them), a link for anything else. Google Reader's items carry them in their own
`enclosure` field instead.

Their URLs were made absolute and http(s) when stored (`pipeline.sanitize`) and their types
plain text; everything is escaped here all the same. Media URLs go through the media proxy
like the content's, when it is on: callers pass the whole HTML to `media.proxify_html`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from urllib.parse import unquote
from urllib.parse import urlsplit

from django.template.defaultfilters import filesizeformat


def attachments_html(enclosures: object, content: str = "") -> str:
    """`enclosures` (an entry's stored list) as HTML; "" for none.

    A picture is shown as itself, without a caption, and not at all when `content` shows it
    already (feeds often give it both ways, and a video's still is stored as one, of type
    "image"). Flash files, which YouTube still lists for each video, are left out: nothing
    plays them, and the entry's link leads to the video.
    """
    if not isinstance(enclosures, Sequence) or isinstance(enclosures, str):
        return ""
    figures = []
    for enclosure in enclosures:
        if not isinstance(enclosure, dict):
            continue
        url = enclosure.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            continue
        kind = str(enclosure.get("type") or "").strip().lower()
        src = escape(url, quote=True)
        if kind == "image" or kind.startswith("image/"):
            if f'src="{src}"' not in content:
                picture = f'<img src="{src}" alt="" loading="lazy">'
                figures.append(f'<figure class="enclosure">{picture}</figure>')
            continue
        if kind == "application/x-shockwave-flash":
            continue
        if kind.startswith("audio/"):
            player = f'<audio controls preload="none" src="{src}"></audio>'
        elif kind.startswith("video/"):
            player = f'<video controls preload="none" src="{src}"></video>'
        else:
            player = ""
        about = ", ".join(filter(None, (escape(kind), _size(enclosure.get("length")))))
        link = (
            f'<a href="{src}" rel="noopener noreferrer" target="_blank">{escape(_name(url))}</a>'
            + (f" ({about})" if about else "")
        )
        figures.append(
            f'<figure class="enclosure">{player}<figcaption>{link}</figcaption></figure>'
        )
    return "".join(figures)


def with_attachments(content: str, enclosures: object) -> str:
    """The stored content followed by its attachments."""
    return content + attachments_html(enclosures, content)


# A file name as people write them. Anything else (markup, "href=javascript:…", spelled out in a
# hostile feed's URL) is no name to show, even escaped: the file's host stands for it.
_FILE_NAME = re.compile(r"[\w][\w .,()+\-]*")


def _name(url: str) -> str:
    """What a person recognises of the file: the last part of its path, else its host."""
    parts = urlsplit(url)
    name = unquote(parts.path.rsplit("/", 1)[-1])
    return name if _FILE_NAME.fullmatch(name) else parts.hostname or url


def _size(length: object) -> str:
    # Feeds often write 0, or the length of another file; a size is shown only when plausible.
    if not isinstance(length, int) or isinstance(length, bool) or not 0 < length < 2**53:
        return ""
    return str(filesizeformat(length))
