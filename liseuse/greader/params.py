"""Request parameters as clients really send them.

Every parameter may repeat (`i=1&i=2`), come in the query string or the body, and the body may
be a proper form, a form whose values were never percent-encoded (newsboat sends
`i=tag:google.com,2005:reader/item/…&a=user/-/state/com.google/read`), or JSON under a form
content type. The raw body is parsed here, once, whatever the content type says.
"""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

from django.http import HttpRequest

from liseuse.greader.errors import bad_request

Params = dict[str, list[str]]

# Names clients send: in an un-encoded body, `&x=…` with another name after a feed URL that has a
# query string belongs to that URL (`s=feed/http://h/f?a=1&b=2`), not to a new parameter.
KNOWN = frozenset(
    [
        "a",
        "ac",
        "accountType",
        "ck",
        "client",
        "continue",
        "c",
        "dest",
        "Email",
        "i",
        "it",
        "n",
        "nt",
        "output",
        "ot",
        "Passwd",
        "quickadd",
        "r",
        "s",
        "service",
        "source",
        "T",
        "t",
        "ts",
        "xt",
    ]
)


def _from_json(text: str) -> Params:
    try:
        data = json.loads(text)
    except ValueError:
        raise bad_request("The body looks like JSON but is not valid JSON") from None
    if not isinstance(data, dict):
        raise bad_request("A JSON body must be an object of parameters")
    params: Params = {}
    for key, value in data.items():
        values = value if isinstance(value, list) else [value]
        params[str(key)] = [
            v if isinstance(v, str) else json.dumps(v) for v in values if v is not None
        ]
    return params


def _from_form(text: str) -> Params:
    params: Params = {}
    last: str | None = None
    for piece in text.split("&"):
        if not piece:
            continue
        raw_key, sep, raw_value = piece.partition("=")
        key = unquote_plus(raw_key).strip()
        if (not sep or key not in KNOWN) and last in ("s", "quickadd") and "?" in params[last][-1]:
            params[last][-1] += "&" + unquote_plus(piece)
            continue
        params.setdefault(key, []).append(unquote_plus(raw_value))
        last = key
    return params


def read(request: HttpRequest) -> Params:
    """The query string's parameters, then the body's, by name."""
    params: Params = {key: list(values) for key, values in request.GET.lists()}
    if request.method not in ("POST", "PUT"):
        return params
    content_type = request.content_type or ""
    if content_type.startswith("multipart/"):
        body: Params = {key: list(values) for key, values in request.POST.lists()}
    else:
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_request("The body is not UTF-8") from None
        stripped = text.lstrip()
        if stripped.startswith("{"):
            body = _from_json(stripped)
        elif content_type.endswith("xml") or stripped.startswith("<"):
            body = {}  # an OPML upload: the endpoint reads the raw body itself
        else:
            body = _from_form(text)
    for key, values in body.items():
        params.setdefault(key, []).extend(values)
    # PostgreSQL refuses NUL in text; no name or URL has one, so it is a client's mistake.
    if any("\x00" in value for values in params.values() for value in values):
        raise bad_request("A parameter contains a NUL character")
    return params


def one(params: Params, name: str, default: str | None = None) -> str | None:
    """The last value of a parameter (PHP's rule, which clients were written against)."""
    values = params.get(name)
    return values[-1] if values else default


def number(params: Params, name: str, default: int, *, low: int, high: int) -> int:
    raw = one(params, name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise bad_request(f"{name} must be a whole number, got {raw[:50]!r}") from None
    return max(low, min(value, high))
