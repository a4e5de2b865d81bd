"""Why a feed failed, as message templates: the pipeline fills them in English, and the web
interface shows them in the reader's language (`liseuse.feeds.reasons.readable`).

The pipeline does not import Django, so it cannot translate; and a reason is stored once for
everyone who follows the feed, whatever their language. So it is stored as the pipeline wrote
it, and read back against these templates when shown: the fields come out of the English text
and go into the translated template. A reason no template matches is shown as it is. Changing a
template's English leaves the reasons stored with the old one shown in English until the feed's
next fetch. What comes from elsewhere stays as it came: HTTP's status phrases ("HTTP 404 Not
Found"), the system's words for a failed connection, a parser's own message in brackets.
"""

from __future__ import annotations


def gettext_noop(message: str) -> str:
    """Marks `message` for the catalogs: makemessages looks for a call of this name."""
    return message


# --- fetching
REDIRECT_LOOP = gettext_noop("redirect loop: back to {url}")
TOO_MANY_REDIRECTS = gettext_noop("too many redirects (more than {count})")
CONNECT_TIMEOUT = gettext_noop("could not connect to {host} within {seconds} s")
TOTAL_TIMEOUT = gettext_noop("timed out after {seconds} s at {url}")
ODD_IP_SPELLING = gettext_noop("refused: {host} is an unusual way of writing {ip}; use {ip}")
INVALID_URL = gettext_noop("invalid URL: {url}")
NOT_HTTP = gettext_noop("refused: only http and https URLs can be fetched (got {scheme}: {url})")
NO_HOST = gettext_noop("invalid URL, it has no host: {url}")
REDIRECT_WITHOUT_LOCATION = gettext_noop("{status} without a Location header")
REDIRECT_TO_INVALID_URL = gettext_noop("{status} to an invalid URL: {url}")
TOO_LARGE = gettext_noop("response larger than {size}")
UNKNOWN_HOST = gettext_noop("could not resolve the host name {host}")
BAD_CERTIFICATE = gettext_noop("invalid TLS certificate for {host}: {problem}")
TLS_FAILED = gettext_noop("TLS handshake with {host} failed")
CONNECT_FAILED = gettext_noop("could not connect to {host} ({error})")
DISCONNECTED = gettext_noop("{host} closed the connection without answering")
BROKEN_BODY = gettext_noop("broken response body from {host}")
INVALID_RESPONSE = gettext_noop("invalid HTTP response from {host}")
REQUEST_FAILED = gettext_noop("request to {host} failed: {error}")
NOT_DURING_PUSH = gettext_noop("not fetched during a push")

# --- the private-network guard: "refused: <subject> <kind> (set … to allow)"
REFUSED_ADDRESS = gettext_noop("refused: {address} is {kind} (set {setting} to allow)")
REFUSED_SPELLING = gettext_noop(
    "refused: {host} means {address}, which is {kind} (set {setting} to allow)"
)
REFUSED_NAME = gettext_noop(
    "refused: {host} resolves to {address}, which is {kind} (set {setting} to allow)"
)
MAPPED_ADDRESS = gettext_noop("{address} (that is {inner})")

# The kinds of address the guard refuses, each a whole phrase (translations differ in order).
UNSPECIFIED = gettext_noop("an unspecified address")
PRIVATE = gettext_noop("a private address")
CARRIER_NAT = gettext_noop("a carrier-grade NAT address")
LOOPBACK = gettext_noop("a loopback address")
LINK_LOCAL = gettext_noop("a link-local address")
RESERVED = gettext_noop("a reserved address")
DOCUMENTATION = gettext_noop("a documentation address")
MULTICAST = gettext_noop("a multicast address")
# Refused even with ALLOW_PRIVATE_NETWORKS: only naming it in ALLOWED_NETWORKS lets it through.
METADATA = gettext_noop("a cloud metadata service")
NON_PUBLIC = gettext_noop("a non-public address")

# --- reading the body
EMPTY_BODY = gettext_noop("the body is empty")
HTML_PAGE = gettext_noop("this is an HTML page, not a feed")
NEITHER_XML_NOR_JSON = gettext_noop("this is neither XML nor JSON, so not a feed")
NO_XML_ELEMENT = gettext_noop("the document holds no XML element, so no feed")
BROKEN_XML = gettext_noop("the XML is broken beyond repair ({error})")
XML_TOO_DEEP = gettext_noop("the XML nests too deeply to be a feed")
XML_NOT_A_FEED = gettext_noop("this XML document is not a feed (its root element is <{element}>)")
JSON_TOO_DEEP = gettext_noop("this JSON nests too deeply to be a feed")
INVALID_JSON = gettext_noop("this is not valid JSON ({error})")
JSON_NOT_OBJECT = gettext_noop("this is JSON but not a JSON Feed (it is not an object)")
JSON_NO_VERSION = gettext_noop("this is JSON but not a JSON Feed (no JSON Feed version)")
NOTHING_FOUND = gettext_noop("no feed found at {url} ({reason})")
NOT_FETCHED = gettext_noop("could not fetch {url} ({reason})")

# --- the refresh
PARSER_CRASHED = gettext_noop("could not read the feed ({error})")
STORE_FAILED = gettext_noop("could not store its entries ({error})")
# The process reading the feed died (a crash in a C extension, the kernel's memory killer).
PROCESS_KILLED = gettext_noop(
    "the refresh process crashed (signal {signal}) while reading this feed"
)
PROCESS_EXITED = gettext_noop(
    "the refresh process ended (exit code {code}) while reading this feed"
)

_PROCESS_CRASHES = tuple(template.split("{", 1)[0] for template in (PROCESS_KILLED, PROCESS_EXITED))


def is_process_crash(reason: str) -> bool:
    """Whether `reason` says the process reading the feed died (PROCESS_KILLED / _EXITED):
    such a feed is read again only by the refresh loop's own processes (`feeds.worker`)."""
    return reason.startswith(_PROCESS_CRASHES)


TEMPLATES: tuple[str, ...] = tuple(
    value for name, value in list(globals().items()) if name.isupper() and isinstance(value, str)
)
