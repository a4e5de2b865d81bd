"""Titles, authors, categories and descriptions as plain text, from fields that may hold HTML.

What a text field holds is not always said. Atom says it (`type="text"` is text, markup and all);
JSON Feed's titles and names are text. RSS says nothing: `<title>` is text to some publishers and
entity-encoded HTML to others (`&lt;b&gt;Bold&lt;/b&gt; news`, `Tom &amp;amp; Jerry`), while
titles about code and markup are full of words in angle brackets that are no markup at all
(`std::vector&lt;int&gt;`, `The &lt;details&gt; element`, `Why <script> tags block rendering`).

So a field is read as HTML only when what looks like markup in it is real HTML (feedparser's
`_looks_like_html` decides the same way, on fewer signs):

- a tag of a known HTML element that is closed in the field (`<b>…</b>`), that carries an
  attribute (`<a href="…">`, `<img src="…">`), or that is a self-closed empty element (`<br/>`),
  or an HTML comment;
- or a character reference or a known named entity (`&amp;`, `&#8217;`): left after XML
  decoding, it was escaped twice, which only HTML needs.

A lone `<br>` is not enough ("Why <br> is not for spacing"), as for feedparser. Read as HTML,
the markup tags go, lone empty elements (`<br>`) too, with the content of `script` and `style`
(code) and comments; a bracketed word that is no such tag (`<int>`, `<T>`, a `<details>` never
closed) stays, and entities are decoded once. Either way the result is text, never HTML: it is
escaped wherever it is shown. No HTML cleaning here (that is the sanitize step's work).
"""

from __future__ import annotations

import re
from html.entities import html5

from liseuse.pipeline.parsers.recover import unescape_html

# HTML's elements, current and obsolete (those that old feeds still write).
HTML_ELEMENTS = frozenset(
    {
        *("a", "abbr", "acronym", "address", "applet", "area", "article", "aside", "audio"),
        *("b", "base", "basefont", "bdi", "bdo", "big", "blink", "blockquote", "body", "br"),
        *("button", "canvas", "caption", "center", "cite", "code", "col", "colgroup", "data"),
        *("datalist", "dd", "del", "details", "dfn", "dialog", "dir", "div", "dl", "dt", "em"),
        *("embed", "fieldset", "figcaption", "figure", "font", "footer", "form", "frame"),
        *("frameset", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hgroup", "hr"),
        *("html", "i", "iframe", "img", "input", "ins", "kbd", "label", "legend", "li", "link"),
        *("main", "map", "mark", "marquee", "math", "menu", "meta", "meter", "nav", "nobr"),
        *("noembed", "noframes", "noscript", "object", "ol", "optgroup", "option", "output", "p"),
        *("param", "picture", "pre", "progress", "q", "rp", "rt", "ruby", "s", "samp", "script"),
        *("section", "select", "small", "source", "span", "strike", "strong", "style", "sub"),
        *("summary", "sup", "svg", "table", "tbody", "td", "template", "textarea", "tfoot", "th"),
        *("thead", "time", "title", "tr", "track", "tt", "u", "ul", "var", "video", "wbr"),
    }
)
# Elements that never have content: a lone one is a whole element.
VOID_ELEMENTS = frozenset(
    {
        *("area", "base", "basefont", "br", "col", "embed", "frame", "hr", "img", "input"),
        *("link", "meta", "param", "source", "track", "wbr"),
    }
)
# Elements whose tags join words without a blank; the others separate them ("Line<br>break").
_INLINE_ELEMENTS = frozenset(
    {
        *("a", "abbr", "acronym", "b", "bdi", "bdo", "big", "blink", "cite", "code", "data"),
        *("del", "dfn", "em", "font", "i", "ins", "kbd", "mark", "nobr", "q", "s", "samp"),
        *("small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var"),
    }
)

# A start or end tag: `<name`, then attributes (or a "/") up to the next ">".
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)((?:[\s/][^<>]*)?)>")
# A comment, or the rest of the field after one left open (as a browser reads it). Either way
# the search goes once to the end of the field at most: time linear in its length.
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
_CODE_START = {
    frozenset(): re.compile(r"<(script|style)\b[^<>]*>", re.IGNORECASE),
    frozenset({"style"}): re.compile(r"<(script)\b[^<>]*>", re.IGNORECASE),
    frozenset({"script"}): re.compile(r"<(style)\b[^<>]*>", re.IGNORECASE),
}
_CODE_END = {
    "script": re.compile(r"</script\s*>", re.IGNORECASE),
    "style": re.compile(r"</style\s*>", re.IGNORECASE),
}
_REFERENCE = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|([A-Za-z][A-Za-z0-9]*));")


def maybe_html_text(text: str) -> str:
    """A field that may be text or HTML (RSS titles, authors, categories) as plain text."""
    if "<" not in text and "&" not in text:
        return text.strip()  # most titles
    if _has_comment(text) or _markup_tags(text, lone_void=False) or _has_reference(text):
        return html_text(text)
    return text.strip()


def html_text(markup: str) -> str:
    """A field known to be HTML (Atom `type="html"`) as plain text: its markup tags, comments
    and code dropped, entities decoded once, bracketed words that are no HTML kept."""
    if "<" in markup:
        markup = _COMMENT.sub(" ", markup)
        markup = _without_code(markup)
        # A second pass for a tag with a tag in an attribute value (`<img alt="a<br>b">`), which
        # the first pass sees only once the inner one is gone.
        for _ in range(2):
            tags = _markup_tags(markup, lone_void=True)
            if not tags:
                break
            parts = []
            position = 0
            for tag in tags:
                parts.append(markup[position : tag.start()])
                parts.append("" if tag[2].lower() in _INLINE_ELEMENTS else " ")
                position = tag.end()
            parts.append(markup[position:])
            markup = "".join(parts)
    if "&" in markup:
        markup = unescape_html(markup)
    return markup.strip()


def _has_comment(text: str) -> bool:
    """Whether `text` holds a whole HTML comment ("<!--" alone may be text about one)."""
    start = text.find("<!--")
    return start >= 0 and text.find("-->", start + 4) >= 0


def _without_code(markup: str) -> str:
    """`markup` without its script and style elements, content and all. Only whole elements
    go: "Why <script> tags block rendering" has none. Each end tag is looked for once from each
    start tag, and never again once missing (no regex `.*?` from every start: time linear)."""
    parts = []
    kept_up_to = position = 0
    missing: frozenset[str] = frozenset()  # the elements whose end tag is nowhere further on
    while (start := _CODE_START.get(missing)) and (start_tag := start.search(markup, position)):
        position = start_tag.end()
        name = start_tag[1].lower()
        end_tag = _CODE_END[name].search(markup, position)
        if end_tag is None:
            missing |= {name}
            continue
        parts += [markup[kept_up_to : start_tag.start()], " "]
        kept_up_to = position = end_tag.end()
    if not parts:
        return markup
    parts.append(markup[kept_up_to:])
    return "".join(parts)


def _markup_tags(text: str, *, lone_void: bool) -> list[re.Match[str]]:
    """The tags in `text` that are HTML markup (see the module docstring), in order; a lone
    empty element without attributes (`<br>`) counts only if `lone_void`."""
    if "<" not in text:
        return []
    tags = [tag for tag in _TAG.finditer(text) if tag[2].lower() in HTML_ELEMENTS]
    if not tags:
        return []
    opened = {tag[2].lower() for tag in tags if not tag[1]}
    closed = {tag[2].lower() for tag in tags if tag[1]}
    paired = opened & closed
    return [
        tag
        for tag in tags
        if (name := tag[2].lower()) in paired
        or "=" in tag[3]
        or (name in VOID_ELEMENTS and (lone_void or "/" in tag[3]))
    ]


def _has_reference(text: str) -> bool:
    """Whether `text` holds a character reference or a named entity HTML knows."""
    if "&" not in text:
        return False
    # findall gives the entity's name, or "" for a character reference.
    return any(not name or name + ";" in html5 for name in _REFERENCE.findall(text))
