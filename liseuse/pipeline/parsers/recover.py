"""Turn a feed's raw bytes into text an XML parser can take, recovering from common breakage.

Real feeds lie about their encoding, start with a BOM or with blank lines or PHP warnings, use
HTML entities (`&nbsp;`, `&eacute;`) that XML does not know, and contain bare `&`. This module
decodes the body and, only when a strict parse failed, rewrites those faults into well-formed
XML: entities, and text fields holding markup that is not well-formed (a stray `<b x=1>` in a
description), which become text, so that one bad spot does not put the whole document in the
hands of the lenient parse. It also removes any DOCTYPE, so that no entity declared in a DTD
(XXE, billion laughs) can ever be expanded: the XML parser never sees a declaration to expand.

It does not parse documents (`escape_broken_text` is handed a check for one field's content)
and does not decide what kind of feed the body is.
"""

from __future__ import annotations

import bisect
import codecs
import html
import re
from collections.abc import Callable
from html.entities import html5

# The encodings whose decoding never fails: a body declared as one of these but actually in
# UTF-8 would decode into mojibake, so valid non-ASCII UTF-8 wins over such a declaration.
_SINGLE_BYTE = frozenset({"iso8859-1", "cp1252", "ascii", "iso8859-15", "latin-1"})

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_XML_DECL_TEXT = re.compile(r"^\s*<\?xml[^>]*\?>")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)

# A DOCTYPE, with its internal subset if any. Removed before parsing: see the module docstring.
_DOCTYPE = re.compile(r"<!DOCTYPE\s[^\[>]*(?:\[.*?\]\s*)?>", re.IGNORECASE | re.DOTALL)

# An `&` that does not start one of the five XML entities or a character reference.
_BAD_AMP = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)")
_AMP = re.compile(r"&(?:([A-Za-z][A-Za-z0-9]{0,31});|#[xX]([0-9a-fA-F]{1,8});|#([0-9]{1,10});)?")
# Characters XML 1.0 forbids (control characters other than tab, LF, CR): some feeds carry them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})


# Labels seen in feeds that Python's codec registry does not know.
_ALIASES = {"mac": "mac-roman", "csmacintosh": "mac-roman", "ms-cyrl": "cp1251"}
# C1 control characters are never meant in a feed: they are windows-1252 bytes (curly quotes,
# dashes, €) that went through a latin-1 decoder somewhere upstream.
_C1 = re.compile("[\x80-\x9f]")
_C1_REFERENCE = re.compile(r"&#(?:(1[2-5][0-9])|[xX]([89][0-9a-fA-F]));")
_EBCDIC_XML_DECL = b"\x4c\x6f\xa7\x94"  # "<?xm" in EBCDIC (cp037 and its relatives)


def _codec_name(label: str) -> str | None:
    """The Python codec for an encoding label, or None if Python knows no such encoding."""
    label = _ALIASES.get(label.lower(), label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # Browsers and feed authors mean windows-1252 when they say ISO-8859-1 or ASCII.
    return "cp1252" if name in ("iso8859-1", "ascii", "latin-1") else name


# An XML declaration may only open a document. One further on, before any feed element, comes
# after what the server printed first (PHP warnings, often formatted as HTML): garbage. Searched
# for in the first few KB only; a declaration quoted inside the feed comes after its root.
_LATE_XML_DECL = r"<\?xml\s"
_FEED_ROOT = r"<(?:[A-Za-z_][\w.-]*:)?(?:rss|feed|rdf|channel)[\s>/]"
_LATE_XML_DECL_TEXT = re.compile(_LATE_XML_DECL)
_LATE_XML_DECL_BYTES = re.compile(_LATE_XML_DECL.encode("ascii"))
_FEED_ROOT_TEXT = re.compile(_FEED_ROOT, re.IGNORECASE)
_FEED_ROOT_BYTES = re.compile(_FEED_ROOT.encode("ascii"), re.IGNORECASE)
_GARBAGE_SEARCHED = 4096


def _garbage_end_bytes(body: bytes) -> int:
    """Where a declaration that follows leading garbage starts; 0 if there is none."""
    head = body[:_GARBAGE_SEARCHED]
    found = _LATE_XML_DECL_BYTES.search(head, 1)
    if found is None or _FEED_ROOT_BYTES.search(head, 0, found.start()):
        return 0
    return found.start()


def _garbage_end_text(text: str) -> int:
    """_garbage_end_bytes for decoded text."""
    head = text[:_GARBAGE_SEARCHED]
    found = _LATE_XML_DECL_TEXT.search(head, 1)
    if found is None or _FEED_ROOT_TEXT.search(head, 0, found.start()):
        return 0
    return found.start()


def _declared_encoding(head: bytes) -> str | None:
    """The encoding named in the XML declaration, reading UTF-16/32 declarations too."""
    match = _XML_DECL.match(head)
    if match is None and not head.lstrip().startswith(b"<?xml"):
        garbage_end = _garbage_end_bytes(head)
        if garbage_end:
            match = _XML_DECL.match(head[garbage_end:])
    if match is None and head[:2] in (b"<\x00", b"\x00<"):
        # A UTF-16 body without a BOM: its declaration is readable once the zeros go.
        match = _XML_DECL.match(head.replace(b"\x00", b""))
    return match.group(1).decode("ascii") if match else None


def _ascii_compatible(codec: str) -> bool:
    """Whether `codec` writes markup as ASCII does (not UTF-16/32, with their zero bytes and
    BOM, nor EBCDIC)."""
    try:
        return "<?xml".encode(codec) == b"<?xml"
    except (LookupError, UnicodeError):  # "undefined", or a bytes-to-bytes codec such as "hex"
        return False


def _looks_like_utf8(body: bytes) -> bool:
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# A character UTF-8 writes in two to four bytes.
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
# Bytes UTF-8 refused, as the surrogateescape error handler keeps them.
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")


def _mostly_utf8(body: bytes) -> str | None:
    """`body` decoded as UTF-8, the bytes it refuses read as windows-1252, when the characters
    it writes as UTF-8 outnumber those bytes; else None. So a UTF-8 feed with a title cut in the
    middle of a character, or a paragraph pasted from windows-1252, keeps every other accent
    (as windows-1252 all of it would be mojibake); a body in windows-1252, Big5 or Shift JIS,
    where bytes that happen to form a UTF-8 character are few, is not taken for UTF-8."""
    text = body.decode("utf-8", errors="surrogateescape")
    refused = _ESCAPED_BYTES.findall(text)
    written = len(_UTF8_MULTIBYTE.findall(body))
    if written < sum(map(len, refused)):
        return None
    return _ESCAPED_BYTES.sub(_escaped_as_cp1252, text)


def _escaped_as_cp1252(match: re.Match[str]) -> str:
    raw = bytes(ord(char) - 0xDC00 for char in match.group(0))
    return raw.decode("cp1252", errors="replace")


def decode(body: bytes, content_type: str | None) -> str:
    """Decode a feed body into text, trusting in order: a BOM, the XML declaration, the HTTP
    charset, then UTF-8; a body that does not decode as its claimed encoding falls back to UTF-8
    and at last to windows-1252 (which decodes anything). A UTF-8 body with a few bytes that are
    not stays UTF-8 (`_mostly_utf8`)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return _demoronize(body[len(bom) :].decode(name, errors="replace"))

    candidates: list[str] = []
    if body[:4] in (b"<\x00?\x00", b"<\x00\x00\x00"):
        candidates.append("utf-16-le" if body[2:3] != b"\x00" else "utf-32-le")
    elif body[:4] in (b"\x00<\x00?", b"\x00\x00\x00<"):
        candidates.append("utf-16-be" if body[1:2] == b"<" else "utf-32-be")
    if body.startswith(_EBCDIC_XML_DECL):
        # An EBCDIC body names its exact code page in a declaration readable as cp037.
        head = body[:512].decode("cp037").encode("ascii", errors="replace")
        ebcdic_declaration = _XML_DECL.match(head)
        ebcdic = (
            _codec_name(ebcdic_declaration.group(1).decode("ascii")) if ebcdic_declaration else None
        )
        candidates.append(ebcdic or "cp037")
    declared = _declared_encoding(body[:_GARBAGE_SEARCHED])
    http_charset = None
    if content_type:
        charset = _CHARSET.search(content_type)
        http_charset = charset.group(1) if charset else None
    # Bytes that read as ASCII from the start cannot be UTF-16, UTF-32 or EBCDIC, whatever the
    # declaration or the server says (the XML spec's appendix F reads the family off the first
    # bytes the same way): decoded so, a plain feed becomes a page of CJK characters.
    ascii_family = not candidates and b"\x00" not in body[:4] and body[:4].isascii()
    for label in (http_charset, declared):
        codec = _codec_name(label) if label else None
        if codec and codec not in candidates and (not ascii_family or _ascii_compatible(codec)):
            candidates.append(codec)
    if candidates and candidates[0] in _SINGLE_BYTE | {"cp1252"} and _looks_like_utf8(body):
        candidates.insert(0, "utf-8")
    candidates += ["utf-8", "cp1252"]
    for codec in candidates:
        try:
            text = body.decode(codec)
        except (UnicodeDecodeError, LookupError):
            mostly = _mostly_utf8(body) if codec == "utf-8" else None
            if mostly is not None:
                return _demoronize(mostly)
            continue
        return _demoronize(text)
    # Neither UTF-8 nor windows-1252 (which leaves five bytes undefined): keep what is readable.
    return _demoronize(body.decode("utf-8", errors="replace"))


def _demoronize(text: str) -> str:
    if not _C1.search(text):
        return text
    return _C1.sub(_from_cp1252, text)


def _from_cp1252(match: re.Match[str]) -> str:
    return _from_cp1252_byte(ord(match.group(0)))


def _c1_reference(match: re.Match[str]) -> str:
    """`&#146;` means ’ in every browser (windows-1252's byte 146): say so to the XML parser."""
    decimal, hexadecimal = match.groups()
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if code > 0x9F:
        return match.group(0)
    meant = _from_cp1252_byte(code)
    return f"&#{ord(meant)};" if meant else ""


def _from_cp1252_byte(code: int) -> str:
    try:
        return bytes([code]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8d, 0x8f, 0x90, 0x9d have no windows-1252 meaning
        return ""


# What may come before the root element: blanks, comments, processing instructions, a DOCTYPE
# (a '<' inside a comment must not be taken for the root's start). Matches the empty string too.
_PROLOG_PATTERN = r"(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE\b[^\[>]*(?:\[.*?\]\s*)?>)*"
_PROLOG = re.compile(_PROLOG_PATTERN, re.IGNORECASE | re.DOTALL)
_PROLOG_BYTES = re.compile(_PROLOG_PATTERN.encode("ascii"), re.IGNORECASE | re.DOTALL)
# Two searches rather than one alternation: each starts with a literal, which the regex engine
# finds fast; the alternation made it scan byte by byte (ten times slower on a 400 KB feed).
_C1_BYTES = re.compile(rb"\xc2[\x80-\x9f]")
_C1_REFERENCE_BYTES = re.compile(rb"&#(?:1[2-5][0-9]|[xX][89][0-9a-fA-F]);")
_UTF8_LABELS = frozenset({"utf-8", "utf8"})


def is_clean_utf8(body: bytes, content_type: str | None) -> bool:
    """Whether the body can go to the XML parser as it is: UTF-8 by every account (no other
    encoding declared or sent), no DOCTYPE, no windows-1252 characters in disguise. Most feeds
    are; they skip the decoding and rewriting `prepare` does. (Invalid UTF-8 or any other
    fault still makes the strict parse fail, and the caller then takes the slow path.)"""
    if not body.startswith(b"<"):
        return False
    match = _XML_DECL.match(body[:512])
    if match is not None and match.group(1).lower().decode("ascii") not in _UTF8_LABELS:
        return False
    if content_type:
        charset = _CHARSET.search(content_type)
        if charset is not None and charset.group(1).lower() not in _UTF8_LABELS:
            return False
    prolog = _PROLOG_BYTES.match(body)
    if prolog is None or b"<!doctype" in body[: prolog.end()].lower():
        return False
    return _C1_BYTES.search(body) is None and _C1_REFERENCE_BYTES.search(body) is None


def prepare(text: str) -> str:
    """Make decoded text ready for lxml: no XML declaration (the text is already decoded, and
    lxml refuses a declaration that names an encoding), no DOCTYPE, nothing before the first
    tag, no characters XML forbids."""
    if not text.startswith("<?xml"):
        garbage_end = _garbage_end_text(text)
        if garbage_end:
            text = text[garbage_end:]  # a PHP warning, say: see _garbage_end_bytes
    text = _XML_DECL_TEXT.sub("", text, count=1)
    start = text.find("<")
    if start > 0:
        # Leading blank lines, PHP notices, a stray BOM after decoding: all go.
        text = text[start:]
    if "<!" in text[:4096]:
        found = _PROLOG.match(text)
        prolog_end = found.end() if found else 0
        prolog = _DOCTYPE.sub("", text[:prolog_end])
        text = prolog + text[prolog_end:]
    if _C1_REFERENCE.search(text):
        text = _C1_REFERENCE.sub(_c1_reference, text)
    if _XML_ILLEGAL.search(text):
        text = _XML_ILLEGAL.sub("", text)
    return text


def fix_entities(text: str) -> str:
    """Rewrite what XML does not accept but feeds use: HTML named entities become character
    references, unknown entities and bare `&` become `&amp;`. CDATA sections are left alone:
    inside them `&` is already literal."""
    if not _BAD_AMP.search(text):
        return text
    parts = _split_cdata(text)
    for index in range(0, len(parts), 2):  # even indices are outside CDATA sections
        if _BAD_AMP.search(parts[index]):
            parts[index] = _AMP.sub(_replace_amp, parts[index])
    return "".join(parts)


def _cdata_sections(text: str) -> list[tuple[int, int]]:
    """(start, end) of each CDATA section, in order. Found with str.find: a regex search for
    them takes time quadratic in the number of sections left unterminated (each one scanned
    to the end of the body: 20,000 of them in 180 KB took 25 s)."""
    sections = []
    position = 0
    while (start := text.find("<![CDATA[", position)) >= 0:
        end = text.find("]]>", start + 9)
        if end < 0:
            break  # unterminated: so are any that follow
        sections.append((start, end + 3))
        position = end + 3
    return sections


def _split_cdata(text: str) -> list[str]:
    """`text` cut around its CDATA sections: what is outside them at even indices, the
    sections (markers included) at odd ones, as `re.split` with a capturing group cuts."""
    parts = []
    position = 0
    for start, end in _cdata_sections(text) if "<![CDATA[" in text else ():
        parts += [text[position:start], text[start:end]]
        position = end
    parts.append(text[position:])
    return parts


def _replace_amp(match: re.Match[str]) -> str:
    name, hexadecimal, decimal = match.groups()
    if hexadecimal is not None or decimal is not None:
        # `&#X41;` (capital X) is common and not XML; a reference to a character XML forbids
        # (`&#0;`, a lone surrogate) would stop the parser: both become a valid reference.
        code = int(hexadecimal, 16) if hexadecimal is not None else int(decimal)
        if not _xml_char(code):
            code = 0xFFFD
        return f"&#{code};"
    if name is None:
        return "&amp;"  # a bare '&'
    if name in _XML_ENTITIES:
        return match.group(0)
    replacement = html5.get(name + ";")
    if replacement is None:
        return "&amp;" + name + ";"
    return "".join(f"&#{ord(char)};" for char in replacement)


_XML_ENTITY = re.compile(r"&(lt|gt|amp|quot|apos);")
_XML_ENTITY_REFERENCES = {"lt": "&#60;", "gt": "&#62;", "amp": "&#38;", "quot": "&#34;"}
_XML_ENTITY_REFERENCES["apos"] = "&#39;"


def numeric_references(text: str) -> str:
    """The five XML entities (`&lt;`, `&amp;`…) as character references, CDATA left alone.

    For the lenient parse: once libxml2 has met an error it drops every entity reference that
    follows, those five too, and a feed's escaped HTML goes with them (`&lt;p&gt;zebra` read as
    "pzebra"). Character references it keeps.
    """
    if "&" not in text:
        return text
    parts = _split_cdata(text)
    for index in range(0, len(parts), 2):  # even indices are outside CDATA sections
        if "&" in parts[index]:
            parts[index] = _XML_ENTITY.sub(_numeric_reference, parts[index])
    return "".join(parts)


def _numeric_reference(match: re.Match[str]) -> str:
    return _XML_ENTITY_REFERENCES[match.group(1)]


# Elements that hold text, or HTML written as text, and never elements of the feed's own: RSS's
# and Atom's titles, descriptions, summaries, content, names, categories, ids and links, by
# local name whatever their prefix (content:encoded is "encoded").
_TEXT_NAMES = (
    r"(?:[A-Za-z_][\w.-]*:)?(?:title|description|encoded|summary|subtitle|tagline|content|name"
    r"|email|category|subject|creator|rights|copyright|comments|link|guid|id|keywords)"
)
_TEXT_START = re.compile(rf"<({_TEXT_NAMES})(\s[^<>]*)?>", re.IGNORECASE)
_TEXT_END = re.compile(rf"</({_TEXT_NAMES})\s*>", re.IGNORECASE)
# Atom content that is XHTML holds elements by right: its faults are left to the lenient parse.
_XHTML_TYPED = re.compile(
    r"""\b(?:type\s*=\s*["'](?:xhtml|application/xhtml\+xml)["']|mode\s*=\s*["']xml["'])"""
)
# A field whose content reaches into the document's structure is no text field's fault (an
# element left open): where it ends cannot be known, so it is left to the lenient parse.
_STRUCTURE = re.compile(
    r"</?(?:[A-Za-z_][\w.-]*:)?(?:item|entry|channel|feed|rss|rdf)\b", re.IGNORECASE
)


class _Sections:
    """Where the CDATA sections and the end tags of text fields are in a document, found in
    one pass each: looking for them from each field would take time quadratic in the number of
    fields (a hostile body of 100,000 unclosed <title> took 18 s)."""

    def __init__(self, text: str) -> None:
        self.cdata = _cdata_sections(text) if "<![CDATA[" in text else []
        self._cdata_starts = [start for start, _ in self.cdata]
        self._ends: dict[str, list[tuple[int, int]]] = {}
        for end_tag in _TEXT_END.finditer(text):
            if not self.in_cdata(end_tag.start()):
                self._ends.setdefault(end_tag[1], []).append((end_tag.start(), end_tag.end()))
        self._end_starts = {name: [start for start, _ in ends] for name, ends in self._ends.items()}

    def in_cdata(self, position: int) -> bool:
        index = bisect.bisect_right(self._cdata_starts, position) - 1
        return index >= 0 and position < self.cdata[index][1]

    def end_tag(self, name: str, position: int) -> tuple[int, int] | None:
        """(start, end) of the first `</name>` from `position` (outside CDATA), if any."""
        starts = self._end_starts.get(name)
        if not starts:
            return None
        index = bisect.bisect_left(starts, position)
        return self._ends[name][index] if index < len(starts) else None


def escape_broken_text(text: str, well_formed: Callable[[str], bool]) -> str:
    """`text` with the content of each text field that holds markup but is not well-formed
    (`well_formed` says, of a field's content) escaped into text, CDATA sections left as they
    are. The field then holds, as text, the same HTML source a well-formed field holds as
    elements (`xmlfeeds._rss_html` reads both), and the strict parse can take the document.
    """
    sections = _Sections(text)
    parts: list[str] = []
    kept_up_to = 0
    position = 0
    while (start_tag := _TEXT_START.search(text, position)) is not None:
        position = start_tag.end()
        if start_tag[0].endswith("/>") or sections.in_cdata(start_tag.start()):
            continue
        if start_tag[2] and _XHTML_TYPED.search(start_tag[2]):
            continue
        name = start_tag[1]
        end_tag = sections.end_tag(name, position)
        if end_tag is None:
            continue
        content = text[position : end_tag[0]]
        outside_cdata = "".join(_split_cdata(content)[::2])
        if (
            "<" in outside_cdata
            and not _STRUCTURE.search(outside_cdata)
            and not re.search(rf"<{re.escape(name)}[\s/>]", outside_cdata)
            and not well_formed(content)
        ):
            parts.append(text[kept_up_to:position])
            parts.append(_escape_outside_cdata(content))
            kept_up_to = end_tag[0]
        position = end_tag[1]
    if not parts:
        return text
    parts.append(text[kept_up_to:])
    return "".join(parts)


def _escape_outside_cdata(content: str) -> str:
    parts = _split_cdata(content)
    for index in range(0, len(parts), 2):
        parts[index] = parts[index].replace("<", "&lt;").replace(">", "&gt;")
    return "".join(parts)


# A decimal character reference as html.unescape reads it, leading zeros apart.
_DECIMAL_REFERENCE = re.compile(r"&#0*([0-9]+)")


def unescape_html(text: str) -> str:
    """html.unescape, also for a decimal reference of more than 4300 digits, on which its int()
    raises ValueError (hexadecimal ones are not limited)."""
    try:
        return html.unescape(text)
    except ValueError:
        return html.unescape(_DECIMAL_REFERENCE.sub(_short_reference, text))


def _short_reference(match: re.Match[str]) -> str:
    digits = match.group(1)
    # Over seven digits, past U+10FFFF: the same U+FFFD html.unescape gives any such number.
    return "&#" + (digits if len(digits) <= 7 else "1114112")


def _xml_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )
