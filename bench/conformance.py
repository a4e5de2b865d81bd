"""Score liseuse's feed parser on feedparser's own test corpus.

    .venv/bin/python bench/conformance.py [-v] [--list CLASS]

The corpus (feedparser 6.0.14's test feeds, data only) is read where it lies, never copied:
`LISEUSE_FEEDPARSER_CORPUS`, else `shared/corpora/feedparser-tests` beside the repository.
Each file's first comment holds an `Expect:` Python expression over feedparser's result
(`feed`, `entries`, `bozo`…). An adapter maps liseuse's ParsedFeed onto those names, and each
top-level `and`-term of the expression is judged on its own:

- gated: terms about parser-independent facts (titles, links, ids, dates as UTC instants,
  authors, categories, enclosure URLs, content and summary text). An `==` that fails as HTML but
  holds once both sides are reduced to plain text counts as passed: feedparser's side went
  through its own sanitizer and URL resolver, which liseuse runs as a later step.
- reported: everything else (bozo, `*_detail`, encoding names, fields liseuse does not keep,
  HTTP-only cases); counted, never gated.
- `wellformed/sanitize/`: only checked to parse (the sanitizer has its own tests).

Every file must parse or raise ParseError: any other exception is a crash, and crashes must be 0.
The expressions are data from a trusted local corpus; they are still evaluated with no builtins
but the handful they call.
"""

from __future__ import annotations

import argparse
import ast
import collections
import datetime
import html
import os
import re
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lxml import etree

from liseuse.pipeline.parse import parse_feed
from liseuse.pipeline.parsers.recover import decode
from liseuse.pipeline.parsers.recover import prepare
from liseuse.pipeline.types import ParsedEntry
from liseuse.pipeline.types import ParsedFeed
from liseuse.pipeline.types import ParseError

DEFAULT_CORPUS = (
    Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "feedparser-tests"
)

# The names (dictionary keys or attributes) whose values are facts any parser should agree on.
GATED_KEYS = frozenset(
    {
        "title",
        "link",
        "id",
        "guid",
        "published_parsed",
        "updated_parsed",
        "issued_parsed",
        "modified_parsed",
        "date_parsed",
        "author",
        "tags",
        "category",
        "enclosures",
        "content",
        "summary",
        "description",
        # keys inside the lists above
        "term",
        "href",
        "value",
    }
)
# Keys that only pick within a gated structure (entries[0]['links'][i]['href'] is a link fact).
STRUCTURAL_KEYS = frozenset({"links", "length"})
RAW_DATES = frozenset({"published", "updated", "date", "issued", "modified", "created"})
_FEED_GATED = frozenset({"title", "link", "links", "href", "rel", "type"})
_FEED_ONLY = frozenset({"description", "summary"})  # the feed's description: plain text in liseuse
EVAL_BUILTINS: dict[str, Any] = {
    "len": len,
    "ord": ord,
    "isinstance": isinstance,
    "True": True,
    "False": False,
    "None": None,
}
_FIELD = re.compile(rb"^(Description|Expect|Header):\s*(.*?)\s*$", re.MULTILINE)
_TEXT_CODECS = ("utf-8", "utf-16", "utf-32", "cp500", "cp037", "latin-1")


class Adapted(dict[str, Any]):
    """A dict also readable by attribute, as feedparser's FeedParserDict is."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def has_key(self, key: str) -> bool:
        return key in self


def _struct(instant: datetime.datetime | None) -> time.struct_time | None:
    return instant.utctimetuple() if instant else None


def adapt_entry(entry: ParsedEntry) -> Adapted:
    """One ParsedEntry under feedparser's names (only those liseuse has a value for)."""
    out = Adapted()
    if entry.title:
        out["title"] = entry.title
    if entry.link:
        out["link"] = entry.link
    links = [Adapted(rel="alternate", href=entry.link, type="text/html")] if entry.link else []
    links += [
        Adapted(rel="enclosure", href=item.url, type=item.mime_type, length=str(item.length or ""))
        for item in entry.enclosures
    ]
    if links:
        out["links"] = links
    if entry.guid:
        out["id"] = out["guid"] = entry.guid
    if entry.author:
        out["author"] = entry.author
    for name, instant in (("published", entry.published), ("updated", entry.updated)):
        if instant:
            out[name] = instant.isoformat()
            out[name + "_parsed"] = _struct(instant)
    if "updated" not in out and "published" in out:
        # liseuse reads dc:date as the entry's date (published); feedparser files it as updated.
        out["updated"], out["updated_parsed"] = out["published"], out["published_parsed"]
    if "updated" in out:
        out["date"], out["date_parsed"] = out["updated"], out["updated_parsed"]
    if entry.categories:
        out["tags"] = [Adapted(term=term, scheme=None, label=None) for term in entry.categories]
        out["category"] = entry.categories[0]
    if entry.enclosures:
        out["enclosures"] = [
            Adapted(href=item.url, type=item.mime_type, length=str(item.length or ""))
            for item in entry.enclosures
        ]
    if entry.content:
        out["content"] = [Adapted(value=entry.content, type="text/html", base=entry.base_url)]
    if entry.summary:
        out["summary"] = out["description"] = entry.summary
    elif entry.content:
        out["summary"] = out["description"] = entry.content
    return out


def adapt(parsed: ParsedFeed) -> dict[str, Any]:
    """The namespace an Expect expression is evaluated in."""
    feed = Adapted()
    if parsed.title:
        feed["title"] = parsed.title
    if parsed.link:
        feed["link"] = parsed.link
    links = []
    for rel, href in (
        ("alternate", parsed.link),
        ("self", parsed.self_url),
        ("hub", parsed.hub_url),
    ):
        if href:
            links.append(Adapted(rel=rel, href=href))
    if links:
        feed["links"] = links
    if parsed.description:
        feed["description"] = feed["subtitle"] = feed["tagline"] = parsed.description
    if parsed.icon_url:
        feed["icon"] = parsed.icon_url
    if parsed.ttl_minutes is not None:
        feed["ttl"] = str(parsed.ttl_minutes)
    entries = [adapt_entry(entry) for entry in parsed.entries]
    return {"feed": feed, "channel": feed, "entries": entries, "items": entries}


@dataclass
class Case:
    path: Path
    relative: str
    expect: str
    headers: dict[str, str] = field(default_factory=dict)


def _read_case(path: Path, root: Path) -> Case | None:
    raw = path.read_bytes()
    for codec in _TEXT_CODECS:
        try:
            text = raw.decode(codec).encode("utf-8")
        except UnicodeError:
            continue
        fields = _FIELD.findall(text)
        if any(name == b"Expect" for name, _ in fields):
            break
    else:
        return None
    expect = ""
    headers: dict[str, str] = {}
    for name, value in fields:
        decoded = value.decode("utf-8")
        if name == b"Expect":
            expect = decoded
        elif name == b"Header":
            key, _, header_value = decoded.partition(":")
            headers[key.strip().lower()] = header_value.strip()
    return Case(path, path.relative_to(root).as_posix(), expect, headers)


def _conjuncts(expression: str) -> list[ast.expr]:
    tree = ast.parse(expression, mode="eval").body
    if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And):
        return list(tree.values)
    return [tree]


def _keys(node: ast.AST) -> tuple[set[str], set[str]]:
    """The string keys / attribute names a term reads, and the bare names it uses."""
    keys: set[str] = set()
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Constant):
            if isinstance(sub.slice.value, str):
                keys.add(sub.slice.value)
        elif isinstance(sub, ast.Attribute):
            keys.add(sub.attr)
        elif isinstance(sub, ast.Name):
            names.add(sub.id)
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
            # entries[0].get('where'): the argument is a key too
            keys.update(
                arg.value
                for arg in sub.args
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            )
    return keys, names


def classify_term(node: ast.expr) -> str:
    """'gated', or the reason the term is only reported."""
    keys, names = _keys(node)
    if names <= {"bozo"} and names:
        return "bozo flag"
    for name in ("encoding", "version", "namespaces", "headers", "status", "href"):
        if name in names:
            return f"{name} (not a ParsedFeed field)"
    if names - {"feed", "entries", "channel", "items"} - set(EVAL_BUILTINS):
        return "other names (" + ", ".join(sorted(names)) + ")"
    detail = sorted(key for key in keys if key.endswith("_detail"))
    if detail:
        return "*_detail"
    if keys & RAW_DATES:
        return "date as the feed wrote it (liseuse keeps the instant)"
    if (
        keys & {"rel", "type"}
        or ("links" in keys and not keys & {"href"})
        or ("links" in keys and keys - {"links", "href", "get", "has_key"})
    ):
        return "link relations and MIME types (liseuse keeps alternate/self/hub/enclosure)"
    if names & {"feed", "channel"} and keys & (_FEED_ONLY | {"subtitle", "tagline", "info"}):
        return "feed description (plain text in liseuse)"
    unknown = keys - GATED_KEYS - STRUCTURAL_KEYS - {"get", "has_key"}
    if unknown:
        return "field liseuse does not keep"
    if names & {"feed", "channel"} and keys - _FEED_GATED:
        return "feed-level field ParsedFeed does not have"
    return "gated"


_SPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]*>")


def _as_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return _SPACE.sub(" ", html.unescape(_TAG.sub("", value))).strip()


def _same_text(ours: Any, theirs: Any) -> bool:
    """Whether two values say the same text: liseuse's plain-text field against feedparser's
    HTML one, liseuse's escaped-text-as-HTML against feedparser's raw text, or two HTML strings
    that differ only in markup (feedparser sanitized and resolved URLs in its own)."""
    if not isinstance(ours, str) or not isinstance(theirs, str):
        return False
    return (
        _as_text(ours) == _as_text(theirs)
        or ours.strip() == _as_text(theirs)
        or html.unescape(ours).strip() == theirs.strip()
    )


def judge(node: ast.expr, namespace: dict[str, Any]) -> str:
    """'pass', 'text' (equal once reduced to plain text), or why it failed."""
    scope = {"__builtins__": EVAL_BUILTINS, "datetime": datetime}
    try:
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
            left = eval(_compile(node.left), scope, namespace)
            right = eval(_compile(node.comparators[0]), scope, namespace)
            if left == right:
                return "pass"
            if _same_text(left, right):
                return "text"
            return "differs"
        return "pass" if eval(_compile(node), scope, namespace) else "differs"
    except (KeyError, IndexError, AttributeError, TypeError):
        return "missing"
    except Exception:
        return "error"


def _compile(node: ast.expr) -> Any:
    return compile(ast.Expression(body=node), "<expect>", "eval")


def _gated_key(node: ast.expr) -> str:
    keys, names = _keys(node)
    where = "feed" if names & {"feed", "channel"} else "entry"
    main = sorted(keys & (GATED_KEYS - {"term", "href", "value"})) or sorted(keys) or ["?"]
    return f"{where}.{main[0]}"


def is_wellformed(body: bytes, content_type: str | None) -> bool:
    """Whether the XML parses strictly (liseuse's counterpart of feedparser's `not bozo`)."""
    text = decode(body, content_type)
    try:
        etree.fromstring(
            prepare(text.lstrip("\ufeff \t\r\n")).encode("utf-8"),
            etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False),
        )
    except etree.XMLSyntaxError:
        return False
    return True


@dataclass
class Tally:
    files: int = 0
    parsed: int = 0
    refused: int = 0
    crashes: list[str] = field(default_factory=list)
    sanitize_files: int = 0
    sanitize_parsed: int = 0
    gated: int = 0
    passed: int = 0
    text_only: int = 0
    failures: collections.Counter[str] = field(default_factory=collections.Counter)
    failure_files: dict[str, list[str]] = field(default_factory=dict)
    reported: collections.Counter[str] = field(default_factory=collections.Counter)
    reported_passed: collections.Counter[str] = field(default_factory=collections.Counter)
    no_expect: int = 0


def cases(root: Path) -> Iterator[Path]:
    yield from sorted(root.rglob("*.xml"))


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return Adapted({key: _wrap(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_wrap(item) for item in value]
    return value


def fastfeedparser_namespace(body: bytes, url: str) -> dict[str, Any]:
    """fastfeedparser's own result (already under feedparser's names), for comparison."""
    import fastfeedparser

    result = fastfeedparser.parse(body)
    feed = _wrap(dict(result.get("feed", {})))
    entries = [_wrap(dict(entry)) for entry in result.get("entries", [])]
    return {"feed": feed, "channel": feed, "entries": entries, "items": entries}


def run(
    root: Path,
    verbose: bool,
    listing: str | None,
    other_parser: Callable[[bytes, str], dict[str, Any]] | None = None,
) -> Tally:
    tally = Tally()
    tests = root / "tests"
    refusal = ""
    for path in cases(tests):
        tally.files += 1
        case = _read_case(path, tests)
        headers = case.headers if case else {}
        body = path.read_bytes()
        # feedparser's harness serves files named http_* from a local server at this address.
        url = f"http://127.0.0.1:8097/tests/{path.relative_to(tests).as_posix()}"
        if "http" not in path.relative_to(tests).as_posix():
            url = ""
        location = urljoin(url, headers.get("content-location", ""))
        if location.startswith(("http://", "https://")):  # the fetcher refuses other schemes
            url = location
        content_type = headers.get("content-type")
        namespace: dict[str, Any] | None = None
        try:
            if other_parser is None:
                parsed = parse_feed(body, url=url, content_type=content_type)
                namespace = adapt(parsed)
            else:
                namespace = other_parser(body, url)
            tally.parsed += 1
        except (ParseError, ValueError) as error:
            # ParseError is liseuse's refusal; ValueError is fastfeedparser's.
            tally.refused += 1
            refusal = str(error)
        except Exception as error:
            tally.crashes.append(f"{path.relative_to(tests)}: {type(error).__name__}: {error}")
            continue
        relative = path.relative_to(tests).as_posix()
        if relative.startswith("wellformed/sanitize/"):
            tally.sanitize_files += 1
            tally.sanitize_parsed += namespace is not None
            continue
        if case is None or not case.expect:
            tally.no_expect += 1
            continue
        if relative.startswith("http/") or "status" in case.headers:
            tally.reported["HTTP-only case (status, redirects)"] += 1
            continue
        if relative.startswith("wellformed/cdf/"):
            tally.reported["CDF (Microsoft's 1997 format, not a feed format liseuse reads)"] += 1
            continue
        try:
            terms = _conjuncts(case.expect)
        except SyntaxError:
            tally.reported["expression not Python 3"] += 1
            continue
        if namespace is None:
            namespace = {"feed": Adapted(), "entries": []}
        bozo = not is_wellformed(body, content_type)
        namespace["bozo"] = bozo
        reasons = [classify_term(term) for term in terms]
        gated_terms = [
            term for term, reason in zip(terms, reasons, strict=True) if reason == "gated"
        ]
        other = [reason for reason in reasons if reason not in ("gated", "bozo flag")]
        if other or not gated_terms:
            label = other[0] if other else "bozo flag only"
            tally.reported[label] += 1
            outcomes = [judge(term, namespace) for term in terms]
            tally.reported_passed[label] += all(o in ("pass", "text") for o in outcomes)
            continue
        tally.gated += 1
        outcomes = [judge(term, namespace) for term in gated_terms]
        if all(outcome in ("pass", "text") for outcome in outcomes):
            tally.passed += 1
            tally.text_only += "text" in outcomes
            continue
        failed = next(
            term for term, o in zip(gated_terms, outcomes, strict=True) if o not in ("pass", "text")
        )
        outcome = outcomes[gated_terms.index(failed)]
        if not namespace["feed"] and not namespace["entries"] and refusal:
            label = f"feed refused ({refusal.split('(')[0].strip()})"
        else:
            label = f"{_gated_key(failed)} {outcome}"
        label = f"{relative.split('/')[0]}/{label}"
        tally.failures[label] += 1
        tally.failure_files.setdefault(label, []).append(relative)
        if verbose or (listing and listing in label):
            _explain(relative, case.expect, failed, namespace)
    return tally


def _explain(relative: str, expect: str, failed: ast.expr, namespace: dict[str, Any]) -> None:
    scope = {"__builtins__": EVAL_BUILTINS, "datetime": datetime}
    got: Any
    try:
        target = failed.left if isinstance(failed, ast.Compare) else failed
        got = eval(_compile(target), scope, namespace)
    except Exception as error:
        got = f"<{type(error).__name__}: {error}>"
    print(f"FAIL {relative}\n  expect: {expect}\n  got:    {got!r}")


def report(tally: Tally, seconds: float) -> None:
    percent = 100.0 * tally.passed / tally.gated if tally.gated else 0.0
    print(f"files:          {tally.files}  (parsed {tally.parsed}, ParseError {tally.refused})")
    print(f"crashes:        {len(tally.crashes)}")
    for crash in tally.crashes:
        print(f"  {crash}")
    print(f"sanitize files: {tally.sanitize_files} (parse-only: {tally.sanitize_parsed} parsed)")
    print(f"gated cases:    {tally.gated}")
    print(f"passed:         {tally.passed}  ({tally.text_only} equal as text, markup differs)")
    print(f"gated score:    {percent:.1f} %")
    print(f"time:           {seconds:.1f} s")
    print("\ngated failure classes:")
    for label, count in tally.failures.most_common():
        print(f"  {count:4d}  {label}")
    print("\nreported, not gated (cases, of which passing):")
    for label, count in tally.reported.most_common():
        print(f"  {count:4d}  {tally.reported_passed[label]:4d}  {label}")
    if tally.no_expect:
        print(f"  {tally.no_expect:4d}        no Expect line readable")


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("-v", "--verbose", action="store_true", help="show every failure")
    arguments.add_argument("--list", metavar="CLASS", help="show the failures of one class")
    arguments.add_argument(
        "--fastfeedparser",
        action="store_true",
        help="score fastfeedparser's own output instead (for the choice in docs/parsing.md)",
    )
    options = arguments.parse_args()
    root = Path(os.environ.get("LISEUSE_FEEDPARSER_CORPUS", DEFAULT_CORPUS))
    if not (root / "tests").is_dir():
        print(f"no corpus at {root} (set LISEUSE_FEEDPARSER_CORPUS)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    other = fastfeedparser_namespace if options.fastfeedparser else None
    tally = run(root, options.verbose, options.list, other)
    report(tally, time.perf_counter() - started)
    return 1 if tally.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
