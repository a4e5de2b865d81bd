"""Search with FreshRSS's syntax: a query string → an AST → a Django `Q` over `EntryState`.

The syntax (words, "phrases", `intitle:`, `inurl:`, `author:`, `#tag`, `f:`, `e:`, `L:`,
`label:`, `labels:`, `date:`, `pubdate:`, `search:`, `S:`, `/regex/flags`, `-`/`!` negation,
`OR`, parentheses) is parsed by `parse`; `compile_query` turns the tree into a `Q` whose text
leaves use the database's full-text index (migration 0002): SQLite FTS5 with `unicode61
remove_diacritics 2`, or PostgreSQL `tsvector` columns over accent-folded text (migration 0008:
the title and text for plain words, and the title, author and tags, weighted, for the fields).
Both are insensitive to case and accents. A word of three letters or more matches as a prefix
("liseu" finds "liseuse"); a shorter one matches whole words only ("le" does not find
"lecteur"): as a prefix it matched a large share of the vocabulary, and FTS5, which has no
prefix index here (0004), merged the lists of all those words for every entry it tested (0.7 s
for "le" over 100,000 entries). On both, new entries are indexed after the refresh that stored
them, not within it (`index_pending`, below).

Everything is bounded: the query's length, its number of terms and its depth are capped, and
regular expressions run on RE2 (linear time, no backtracking) on SQLite and are checked by RE2
before PostgreSQL sees them. A query that cannot be parsed raises `SearchError` with a readable
message, never anything else.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from datetime import tzinfo
from typing import Literal
from typing import cast

from dateutil.relativedelta import relativedelta
from django.db import connection
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models import BooleanField
from django.db.models import F
from django.db.models import Func
from django.db.models import Q
from django.db.models import TextField as DbTextField
from django.db.models import Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Label
from liseuse.feeds.models import SavedQuery
from liseuse.lib.ids import is_row_id

MAX_QUERY_CHARS = 1000
MAX_TERMS = 64
MAX_DEPTH = 16
MAX_REGEX_CHARS = 256
MAX_IDS = 500
# `search:` / `S:` may name a saved query that names another: this deep, then it stops.
MAX_SAVED_DEPTH = 3
# Up to this many full-text matches are handed to the stream query as a list of ids.
SMALL_MATCH = 2000


class SearchError(ValueError):
    """The query cannot be understood; the message says why, in words."""


TextField = Literal["text", "title", "author", "tag"]
RegexField = Literal["text", "title", "url", "author", "tag"]


@dataclass(frozen=True, slots=True)
class Text:
    """Words (the last one a prefix, if long enough) or a phrase, in the title + content, or one
    field."""

    value: str
    phrase: bool = False
    field: TextField = "text"


@dataclass(frozen=True, slots=True)
class Regex:
    pattern: str
    flags: str = ""  # "i", "m"
    field: RegexField = "text"


@dataclass(frozen=True, slots=True)
class InUrl:
    value: str


@dataclass(frozen=True, slots=True)
class Ids:
    """`f:` feeds, `e:` entries, `L:` labels (no ids: `L:*`, any label)."""

    kind: Literal["feed", "entry", "label"]
    ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LabelNames:
    """`label:a` (one name) or `labels:"a,b"` (any of them)."""

    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Dates:
    """`date:` (when liseuse received the entry) or `pubdate:` (the feed's date); [start, end)."""

    field: Literal["date", "pubdate"]
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, slots=True)
class Saved:
    """`search:name` or `S:id`: a saved query inlined."""

    ref: str
    by_id: bool


@dataclass(frozen=True, slots=True)
class Not:
    node: Node


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


Node = Text | Regex | InUrl | Ids | LabelNames | Dates | Saved | Not | And | Or


# --- lexing -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: Literal["(", ")", "OR", "term"]
    negated: bool = False
    node: Node | None = None


_OPERATOR = re.compile(
    r"(intitle|inurl|author|label|labels|date|pubdate|search|f|e|L|l|S):", re.IGNORECASE
)


class _Lexer:
    def __init__(self, text: str, now: datetime, tz: tzinfo) -> None:
        self.text = text
        self.i = 0
        self.now = now
        self.tz = tz

    def error(self, message: str) -> SearchError:
        return SearchError(message)

    def tokens(self) -> list[_Tok]:
        out: list[_Tok] = []
        text = self.text
        while True:
            while self.i < len(text) and text[self.i].isspace():
                self.i += 1
            if self.i >= len(text):
                return out
            negated = False
            if (
                text[self.i] in "-!"
                and self.i + 1 < len(text)
                and not text[self.i + 1].isspace()
                and text[self.i + 1] not in "-!)"
            ):
                negated = True
                self.i += 1
            char = text[self.i]
            if char == "(":
                self.i += 1
                out.append(_Tok("(", negated))
            elif char == ")":
                if negated:
                    raise self.error(_("A “-” or “!” must come before a term, not before “)”."))
                self.i += 1
                out.append(_Tok(")"))
            else:
                start = self.i
                node = self.term()
                if node is None:
                    # A bare OR (never negated, never quoted) joins its neighbours.
                    if negated:
                        self.i = start
                        node = Text(self.bare())
                    else:
                        out.append(_Tok("OR"))
                        continue
                out.append(_Tok("term", negated, node))

    def bare(self) -> str:
        """A word up to a space or an unescaped “)”, with `\\(` and `\\)` kept as parentheses."""
        text = self.text
        chars: list[str] = []
        while self.i < len(text):
            char = text[self.i]
            if char.isspace() or char == ")":
                break
            if char == "\\" and self.i + 1 < len(text) and text[self.i + 1] in "()\\":
                chars.append(text[self.i + 1])
                self.i += 2
                continue
            chars.append(char)
            self.i += 1
        return "".join(chars)

    def quoted(self) -> str:
        quote = self.text[self.i]
        end = self.text.find(quote, self.i + 1)
        if end < 0:
            raise self.error(_("A quote (%(quote)s) is not closed.") % {"quote": quote})
        value = self.text[self.i + 1 : end]
        self.i = end + 1
        return value

    def regex(self) -> tuple[str, str] | None:
        """`/pattern/flags` from here, or None (and nothing consumed) when it is not one."""
        text = self.text
        j = self.i + 1
        while j < len(text):
            if text[j] == "\\":
                j += 2
                continue
            if text[j] == "/":
                break
            j += 1
        if j >= len(text) or j == self.i + 1:
            return None
        pattern = text[self.i + 1 : j].replace("\\/", "/")
        k = j + 1
        while k < len(text) and text[k] in "im":
            k += 1
        if k < len(text) and not (text[k].isspace() or text[k] == ")"):
            return None
        flags = "".join(sorted(set(text[j + 1 : k])))
        self.i = k
        return pattern, flags

    def value(self, *, allow_regex: bool) -> str | tuple[str, str]:
        if self.i < len(self.text) and self.text[self.i] in "\"'":
            return self.quoted()
        if allow_regex and self.i < len(self.text) and self.text[self.i] == "/":
            found = self.regex()
            if found is not None:
                return found
        return self.bare()

    def term(self) -> Node | None:
        text = self.text
        char = text[self.i]
        if char in "\"'":
            return Text(self.quoted(), phrase=True)
        if char == "/":
            found = self.regex()
            if found is not None:
                return Regex(found[0], found[1])
        if char == "#" and self.i + 1 < len(text) and not text[self.i + 1].isspace():
            self.i += 1
            if text[self.i] in "\"'":
                return Text(self.quoted(), phrase=True, field="tag")
            value = self.value(allow_regex=True)
            if isinstance(value, tuple):
                return Regex(value[0], value[1], field="tag")
            return Text(value.replace("+", " "), phrase=True, field="tag")
        match = _OPERATOR.match(text, self.i)
        if match and match.end() < len(text) and not text[match.end()].isspace():
            op = match.group(1)
            self.i = match.end()
            return self.operator(op)
        word = self.bare()
        # Upper case only: in French, "or" is a word one may search for.
        if word == "OR":
            return None
        return Text(word)

    def operator(self, op: str) -> Node:
        lowered = op.lower()
        if lowered in ("intitle", "author", "inurl"):
            value = self.value(allow_regex=True)
            field: RegexField = {"intitle": "title", "author": "author", "inurl": "url"}[lowered]  # type: ignore[assignment]
            if isinstance(value, tuple):
                return Regex(value[0], value[1], field=field)
            if lowered == "inurl":
                return InUrl(value)
            return Text(value, phrase=True, field=cast(TextField, field))
        raw = self.value(allow_regex=False)
        assert isinstance(raw, str)
        if lowered in ("f", "e", "l"):
            kind: Literal["feed", "entry", "label"] = {"f": "feed", "e": "entry", "l": "label"}[
                lowered
            ]  # type: ignore[assignment]
            if kind == "label" and raw == "*":
                return Ids("label", ())
            return Ids(kind, _ids(raw, op))
        if lowered == "label":
            return LabelNames((raw.strip(),))
        if lowered == "labels":
            return LabelNames(tuple(n.strip() for n in raw.split(",") if n.strip()))
        if lowered in ("date", "pubdate"):
            start, end = parse_interval(raw, now=self.now, tz=self.tz)
            return Dates(cast(Literal["date", "pubdate"], lowered), start, end)
        if lowered == "s":
            return Saved(str(_ids(raw, op)[0]), by_id=True)
        return Saved(raw.strip(), by_id=False)


def _ids(raw: str, op: str) -> tuple[int, ...]:
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts or not all(is_row_id(p) for p in parts):
        raise SearchError(
            _("“%(op)s:” takes numbers separated by commas, not “%(value)s”.")
            % {"op": op, "value": raw}
        )
    if len(parts) > MAX_IDS:
        raise SearchError(_("Too many numbers after “%(op)s:”.") % {"op": op})
    return tuple(int(p) for p in parts)


# --- parsing ------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def parse_or(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise SearchError(_("The query nests parentheses too deeply."))
        items = [self.parse_and(depth)]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.i += 1
            items.append(self.parse_and(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self, depth: int) -> Node:
        items: list[Node] = []
        while (tok := self.peek()) is not None and tok.kind not in (")", "OR"):
            self.i += 1
            if tok.kind == "(":
                inner = self.parse_or(depth + 1)
                close = self.peek()
                if close is None or close.kind != ")":
                    raise SearchError(_("A parenthesis is opened and never closed."))
                self.i += 1
                items.append(Not(inner) if tok.negated else inner)
            else:
                assert tok.node is not None
                items.append(Not(tok.node) if tok.negated else tok.node)
        if not items:
            raise SearchError(_("“OR” and parentheses need a term on each side."))
        return items[0] if len(items) == 1 else And(tuple(items))


def parse(query: str, *, now: datetime | None = None, tz: tzinfo | None = None) -> Node | None:
    """The tree of a query; None when it is empty. Raises `SearchError` with a readable reason."""
    query = query.strip()
    if not query:
        return None
    if len(query) > MAX_QUERY_CHARS:
        raise SearchError(
            _("A search is at most %(max)d characters long.") % {"max": MAX_QUERY_CHARS}
        )
    tokens = _Lexer(query, now or timezone.now(), tz or timezone.get_current_timezone()).tokens()
    if sum(1 for t in tokens if t.kind == "term") > MAX_TERMS:
        raise SearchError(_("A search has at most %(max)d terms.") % {"max": MAX_TERMS})
    if not tokens:
        return None
    parser = _Parser(tokens)
    tree = parser.parse_or(0)
    if parser.i < len(tokens):
        raise SearchError(_("A “)” closes a parenthesis that was never opened."))
    return tree


# --- dates --------------------------------------------------------------------------------------

_DATE = re.compile(
    r"^(\d{4})(?:-?(\d{2})(?:-?(\d{2})(?:T(\d{2})(?::?(\d{2})(?::?(\d{2}))?)?)?)?)?$"
)
_DURATION = re.compile(
    r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?!$)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)
_UNITS = ("years", "months", "days", "hours", "minutes", "seconds")


def _bad_date(raw: str) -> SearchError:
    return SearchError(
        _("“%(value)s” is not a date or an interval (try 2024-03, 2024-03-01/2024-03-15 or P1W).")
        % {"value": raw}
    )


def _components(raw: str) -> list[int]:
    match = _DATE.match(raw)
    if match is None:
        raise _bad_date(raw)
    return [int(g) for g in match.groups() if g is not None]


def _start(parts: list[int], tz: tzinfo, raw: str) -> datetime:
    full = parts + [1, 1, 0, 0, 0][len(parts) - 1 :]
    try:
        year, month, day, hour, minute, second = full[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:
        raise _bad_date(raw) from None


def _period(parts: list[int], tz: tzinfo, raw: str) -> tuple[datetime, datetime]:
    """[start, end) of the period a date names at its precision (2024-03 is all of March)."""
    start = _start(parts, tz, raw)
    unit = _UNITS[len(parts) - 1]
    return start, start + relativedelta(**{unit: 1})  # type: ignore[arg-type]


def _duration(raw: str) -> relativedelta | None:
    match = _DURATION.match(raw)
    if match is None:
        return None
    y, mo, w, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
    return relativedelta(years=y, months=mo, weeks=w, days=d, hours=h, minutes=mi, seconds=s)


def _complete(base: list[int], raw: str) -> list[int]:
    """The end of `2014-02/04`: missing leading parts come from the start (FreshRSS's rule)."""
    if _DATE.match(raw) and len(raw) >= 4 and raw[:4].isdigit() and not raw.isdigit():
        return _components(raw)
    if _DATE.match(raw) and len(raw) == 4:
        return _components(raw)
    pieces = [p for p in re.split(r"[-T:]", raw) if p]
    if not pieces or not all(p.isdigit() and len(p) == 2 for p in pieces):
        raise _bad_date(raw)
    if len(pieces) >= len(base):
        raise _bad_date(raw)
    return base[: len(base) - len(pieces)] + [int(p) for p in pieces]


def parse_interval(
    raw: str, *, now: datetime, tz: tzinfo
) -> tuple[datetime | None, datetime | None]:
    """An ISO 8601 date or interval as [start, end) in `tz`; either end may be open (None)."""
    try:
        return _interval(raw.strip(), now=now, tz=tz)
    except SearchError:
        raise
    except (OverflowError, ValueError):  # "P99999999Y": before year 1, past what dates hold
        raise _bad_date(raw.strip()) from None


def _interval(raw: str, *, now: datetime, tz: tzinfo) -> tuple[datetime | None, datetime | None]:
    if not raw:
        raise _bad_date(raw)
    if "--" in raw:
        left, right = raw.split("--", 1)
    elif "/" in raw:
        left, right = raw.split("/", 1)
    else:
        duration = _duration(raw)
        if duration is not None:
            return now - duration, None
        return _period(_components(raw), tz, raw)
    if not left and not right:
        raise _bad_date(raw)
    left_duration = _duration(left) if left else None
    right_duration = _duration(right) if right else None
    if left_duration is not None and right_duration is not None:
        raise _bad_date(raw)
    if left_duration is not None:
        if not right:
            return now - left_duration, None
        end = _period(_components(right), tz, right)[1]
        return end - left_duration, end
    if not left:
        assert right
        return None, _period(_components(right), tz, right)[1]
    start_parts = _components(left)
    start = _start(start_parts, tz, left)
    if not right:
        return start, None
    if right_duration is not None:
        return start, start + right_duration
    end_parts = _complete(start_parts, right)
    end = _period(end_parts, tz, right)[1]
    if end <= start:
        raise SearchError(_("The interval “%(value)s” ends before it starts.") % {"value": raw})
    return start, end


# --- compiling ----------------------------------------------------------------------------------

# Accent folding for PostgreSQL, done the same way in Python (query) and SQL (index, in
# migration 0002's `liseuse_unaccent`): lower case, then these letters to plain ones.
FOLD_FROM = (
    "àáâãäåāăąçćĉċčďđèéêëēĕėęěĝğġģĥħìíîïĩīĭįıĵķĺļľŀłñńņňòóôõöøōŏőŕŗřśŝşšţťŧùúûüũūŭůűųŵýÿŷźżž"
)
FOLD_TO = "aaaaaaaaacccccddeeeeeeeeegggghhiiiiiiiiijklllllnnnnooooooooorrrsssstttuuuuuuuuuuwyyyzzz"
_FOLD = str.maketrans(FOLD_FROM, FOLD_TO)
_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    return text.lower().translate(_FOLD).replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")


@functools.lru_cache(maxsize=256)
def _re2(pattern: str) -> Callable[[str], bool]:
    # Imported by name: the package has no type information, and is optional (without it, a
    # regular expression is refused with a message).
    re2 = importlib.import_module("re2")

    options = re2.Options()
    options.max_mem = 8 << 20  # the compiled automaton's memory: a huge pattern is refused
    compiled = re2.compile(pattern, options)

    def search(text: str) -> bool:
        return compiled.search(text) is not None

    return search


def _regexp(pattern: str, text: str | None) -> bool:
    return text is not None and _re2(pattern)(text)


def _register_regexp(connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """SQLite has no regular expressions of its own: every new connection gets RE2's."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("liseuse_regexp", 2, _regexp, deterministic=True)


connection_created.connect(_register_regexp, dispatch_uid="liseuse_regexp")


def _regex_error(exc: Exception) -> str:
    """RE2's reason in words: its error carries it as bytes, shown as "b'missing ]: ['"."""
    reason = exc.args[0] if len(exc.args) == 1 else str(exc)
    if isinstance(reason, bytes):
        return reason.decode("utf-8", "replace")
    return str(reason)


def check_regex(pattern: str, flags: str) -> str:
    """The pattern with its flags inlined, once RE2 accepts it (linear-time matching)."""
    if len(pattern) > MAX_REGEX_CHARS:
        raise SearchError(
            _("A regular expression is at most %(max)d characters long.") % {"max": MAX_REGEX_CHARS}
        )
    inline = "".join(f for f in flags if f in "im")
    full = f"(?{inline}){pattern}" if inline else pattern
    try:
        _re2(full)
    except ImportError:
        raise SearchError(_("Regular expressions need the google-re2 package.")) from None
    except Exception as exc:  # re2.error, whose class the package does not export stably
        raise SearchError(
            _("“/%(pattern)s/” is not a regular expression liseuse can run: %(reason)s")
            % {"pattern": pattern, "reason": _regex_error(exc)}
        ) from None
    return full


# A shorter word is matched whole, never as a prefix (the module's docstring says why).
PREFIX_MIN = 3


@dataclass(frozen=True, slots=True)
class _Match:
    """One full-text match expression, and on PostgreSQL the column it reads ("" on SQLite)."""

    column: str
    expression: str


class _Compiler:
    def __init__(self, user_id: int, tz: tzinfo, now: datetime) -> None:
        self.user_id = user_id
        self.tz = tz
        self.now = now
        self.vendor = connection.vendor
        self.saved_depth = 0

    # Full-text leaves: one match expression each; an AND of positive ones is merged into one
    # lookup. On PostgreSQL each expression says which column it reads.
    def fts_expr(self, node: Text) -> _Match | None:
        words = _WORD.findall(node.value.lower())
        if not words:
            return None
        # The length is the typed word's, so that both databases decide alike ("œu" folds to
        # "oeu" on PostgreSQL only).
        prefix = not node.phrase and len(words[-1]) >= PREFIX_MIN
        if self.vendor == "sqlite":
            columns = {
                "text": "{title content}",
                "title": "title",
                "author": "author",
                "tag": "tags",
            }[node.field]
            return _Match("", f'{columns} : "{" ".join(words)}"{"*" if prefix else ""}')
        words = _WORD.findall(fold(node.value))
        if node.field == "text":
            # The title and text alone (migration 0008), without weights: its GIN index answers
            # without reading any row's document back. The fields are in the other column.
            column, weights = "liseuse_text", ""
        else:
            column = "liseuse_search"
            weights = {"title": "A", "author": "B", "tag": "C"}[node.field]
        lexemes = [f"'{w}':{weights}" if weights else f"'{w}'" for w in words]
        if prefix:
            lexemes[-1] = f"'{words[-1]}':*{weights}"
        return _Match(column, "(" + " <-> ".join(lexemes) + ")")

    def fts_q(self, matches: list[_Match]) -> Q:
        params: list[str]
        if self.vendor == "sqlite":
            sql = "SELECT rowid FROM liseuse_entry_fts WHERE liseuse_entry_fts MATCH %s"
            match = " AND ".join(f"({m.expression})" for m in matches)
            params = [match]
        else:
            by_column: dict[str, list[str]] = {}
            for m in matches:
                by_column.setdefault(m.column, []).append(m.expression)
            sql = "SELECT id FROM feeds_entry WHERE " + " AND ".join(
                f"{column} @@ to_tsquery('simple', %s)" for column in sorted(by_column)
            )
            params = [" & ".join(by_column[column]) for column in sorted(by_column)]
        # Few matches (the usual case for a precise search): hand the ids over, so the stream
        # is found through the person's (user, entry) index instead of scanning it by date.
        # Many: a subquery, and the scan by date stops as soon as a page is full.
        with connection.cursor() as cursor:
            cursor.execute(f"{sql} LIMIT {SMALL_MATCH + 1}", params)
            ids = [row[0] for row in cursor.fetchall()]
        if len(ids) <= SMALL_MATCH:
            return Q(entry_id__in=ids)
        if self.vendor == "sqlite":
            # Tested row by row (FTS5 seeks straight to a rowid): the scan by date stops when a
            # page is full, without reading every match of a frequent word first.
            return Q(
                Func(
                    Value(params[0]),
                    F("entry_id"),
                    template=(
                        "EXISTS (SELECT 1 FROM liseuse_entry_fts WHERE liseuse_entry_fts MATCH "
                        "%(expressions)s)"
                    ),
                    arg_joiner=" AND liseuse_entry_fts.rowid = ",
                    output_field=BooleanField(),
                )
            )
        return Q(entry_id__in=RawSQL(sql, params))

    def like_q(self, node: Text) -> Q:
        # Terms without any letter or digit ("&", "++") are not in the index: plain contains.
        value = node.value
        if node.field == "title":
            return Q(entry__title__icontains=value)
        if node.field == "author":
            return Q(entry__author__icontains=value)
        if node.field == "tag":
            return Q(entry__categories__icontains=value)
        return Q(entry__title__icontains=value) | Q(entry__content__icontains=value)

    def regex_q(self, node: Regex) -> Q:
        pattern = check_regex(node.pattern, node.flags)
        column = {
            "text": None,
            "title": "title",
            "url": "url",
            "author": "author",
            "tag": "categories",
        }[node.field]
        columns = ["title", "content"] if column is None else [column]
        # Tested row by row on the entries the stream walks (by date, a page at a time), so a
        # frequent match answers fast and a rare one costs one linear pass, never more.
        result = Q()
        for name in columns:
            text = Cast(F(f"entry__{name}"), output_field=DbTextField())
            test: Func
            if self.vendor == "sqlite":
                # A connection opened before this module was imported lacks the function.
                connection.ensure_connection()
                _register_regexp(connection)
                test = Func(
                    Value(pattern), text, function="liseuse_regexp", output_field=BooleanField()
                )
            else:
                # PostgreSQL's own engine, on a pattern RE2 accepted (no back-references).
                operator = " ~* " if "i" in node.flags else " ~ "
                body = f"(?n){node.pattern}" if "m" in node.flags else node.pattern
                test = Func(
                    text,
                    Value(body),
                    template="(%(expressions)s)",
                    arg_joiner=operator,
                    output_field=BooleanField(),
                )
            result |= Q(test)
        return result

    def saved_q(self, node: Saved) -> Q:
        rows = SavedQuery.objects.filter(user_id=self.user_id)
        found = (
            rows.filter(pk=int(node.ref)).first()
            if node.by_id
            else rows.filter(name__iexact=node.ref).first()
        )
        if found is None:
            raise SearchError(_("There is no saved search “%(name)s”.") % {"name": node.ref})
        if self.saved_depth >= MAX_SAVED_DEPTH:
            raise SearchError(_("Saved searches refer to each other too deeply."))
        tree = parse(found.query, now=self.now, tz=self.tz)
        if tree is None:
            return Q()
        self.saved_depth += 1
        try:
            return self.q(tree)
        finally:
            self.saved_depth -= 1

    def q(self, node: Node) -> Q:
        if isinstance(node, And):
            merged: list[_Match] = []
            rest: list[Q] = []
            for item in node.items:
                expr = self.fts_expr(item) if isinstance(item, Text) else None
                if expr is not None:
                    merged.append(expr)
                else:
                    rest.append(self.q(item))
            result = self.fts_q(merged) if merged else Q()
            for part in rest:
                result &= part
            return result
        if isinstance(node, Or):
            result = self.q(node.items[0])
            for item in node.items[1:]:
                result |= self.q(item)
            return result
        if isinstance(node, Not):
            return ~self.q(node.node)
        if isinstance(node, Text):
            expr = self.fts_expr(node)
            return self.like_q(node) if expr is None else self.fts_q([expr])
        if isinstance(node, Regex):
            return self.regex_q(node)
        if isinstance(node, InUrl):
            return Q(entry__url__icontains=node.value)
        if isinstance(node, Ids):
            if node.kind == "feed":
                return Q(feed_id__in=node.ids)
            if node.kind == "entry":
                return Q(entry_id__in=node.ids)
            through = EntryState.labels.through.objects.filter(entrystate__user_id=self.user_id)
            if node.ids:
                through = through.filter(label_id__in=node.ids)
            return Q(pk__in=through.values("entrystate_id"))
        if isinstance(node, LabelNames):
            # A person has few labels: names are compared here, folded, since SQL's
            # case-insensitive comparison is ASCII-only on SQLite.
            wanted = {fold(name) for name in node.names}
            ids = [
                pk
                for pk, name in Label.objects.filter(user_id=self.user_id).values_list("pk", "name")
                if fold(name) in wanted
            ]
            through = EntryState.labels.through.objects.filter(label_id__in=ids)
            return Q(pk__in=through.values("entrystate_id"))
        if isinstance(node, Dates):
            column = "entry__first_seen" if node.field == "date" else "sort_date"
            result = Q()
            if node.start is not None:
                result &= Q(**{f"{column}__gte": node.start})
            if node.end is not None:
                result &= Q(**{f"{column}__lt": node.end})
            return result
        return self.saved_q(node)


def compile_query(
    query: str,
    *,
    user_id: int,
    tz: tzinfo | None = None,
    now: datetime | None = None,
) -> Q:
    """The `Q` over a person's `EntryState` rows for a query; `Q()` when it is empty."""
    tz = tz or timezone.get_current_timezone()
    now = now or timezone.now()
    tree = parse(query, now=now, tz=tz)
    if tree is None:
        return Q()
    return _Compiler(user_id, tz, now).q(tree)


# --- keeping the full-text index up to date -----------------------------------------------------
# New entries are queued (SQLite: a trigger fills a queue table, migration 0004; PostgreSQL: the
# document columns are left NULL, migrations 0006 and 0008) and indexed here, after the refresh
# that stored them: indexing costs more than the rest of a refresh, and readers should not wait
# for it.

# A search indexes at most this many queued entries first (a fraction of a second), so that what
# was just stored is found; the refresh loop indexes the rest in the background.
INDEX_ON_SEARCH = 2000
INDEX_BATCH = 5000
# PostgreSQL locks the rows of a batch until it commits: smaller batches keep those locks short
# (an entry updated by a refresh meanwhile waits for at most one batch).
INDEX_BATCH_POSTGRESQL = 1000


def index_pending(limit: int | None = None) -> int:
    """Index queued entries (all of them, or up to `limit`); returns how many.

    Called by the refresh loop (`worker.run_forever`) after each pass, by `liseuse refresh`
    after its pass, and with `INDEX_ON_SEARCH` by a search before it runs. On PostgreSQL several
    workers may call it at once: each batch skips the rows another one holds."""
    if connection.vendor == "postgresql":
        return _index_pending_postgresql(limit)
    if connection.vendor != "sqlite":
        return 0
    done = 0
    while limit is None or done < limit:
        batch = INDEX_BATCH if limit is None else min(INDEX_BATCH, limit - done)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT max(entry_id), count(*) FROM (SELECT entry_id FROM "
                "liseuse_entry_fts_pending ORDER BY entry_id LIMIT %s)",
                [batch],
            )
            last, count = cursor.fetchone()
            if not count:
                break
            cursor.execute(
                "INSERT INTO liseuse_entry_fts(rowid, title, content, author, tags) "
                # The content crosses into Python as bytes (liseuse/feeds/fulltext.py).
                "SELECT e.id, e.title, "
                "CAST(liseuse_indexed_text(CAST(e.content AS BLOB)) AS TEXT), e.author, "
                "(SELECT group_concat(value, ' ') FROM json_each(e.categories)) "
                "FROM liseuse_entry_fts_pending p JOIN feeds_entry e ON e.id = p.entry_id "
                "WHERE p.entry_id <= %s",
                [last],
            )
            cursor.execute("DELETE FROM liseuse_entry_fts_pending WHERE entry_id <= %s", [last])
        done += count
    return done


def _index_pending_postgresql(limit: int | None) -> int:
    done = 0
    while limit is None or done < limit:
        batch = (
            INDEX_BATCH_POSTGRESQL if limit is None else min(INDEX_BATCH_POSTGRESQL, limit - done)
        )
        # One transaction per batch; SKIP LOCKED: rows another worker is indexing are its own,
        # and a batch that finds nothing free ends this call instead of waiting.
        with transaction.atomic(), connection.cursor() as cursor:
            # Both columns in one write, split from one document (migration 0008). OFFSET 0
            # keeps the subquery whole: flattened, it would compute the document once per
            # column, and that is most of the cost.
            cursor.execute(
                "UPDATE feeds_entry SET (liseuse_search, liseuse_text) = ("
                "SELECT ts_filter(d, '{a,b,c}'), ts_filter(d, '{a,d}') FROM ("
                "SELECT liseuse_entry_document(title, content, author, categories::jsonb) AS d "
                "OFFSET 0) AS document) "
                "WHERE id IN (SELECT id FROM feeds_entry WHERE liseuse_search IS NULL "
                "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)",
                [batch],
            )
            count = cursor.rowcount
        if count <= 0:
            break
        done += count
    return done
