"""A small HTTP server on 127.0.0.1 for tests (canned replies or handler functions, and a log),
and a fake DNS resolver to reach it under made-up names.

    with LocalServer({"/feed.xml": Reply(body=b"<rss/>")}) as server:
        fetch(server.url("/feed.xml"))
        assert server.requests[0].headers["user-agent"].startswith("liseuse/")

A route is a `Reply`, or a function from the `SeenRequest` to a `Reply` (for conditional GET,
redirect chains, slow answers…). A reply body may be an iterable of byte chunks: each is sent
as soon as it is produced (so a generator can sleep to drip), then the connection is closed.
Unknown paths answer 404. The server runs in its own thread, one thread per connection, so it
works the same under any event loop of the code being tested and sees concurrent requests.

`LargeFile` is a route serving a large file made up on the fly (no memory for it), answering
`Range` requests as file servers do, or ignoring them as some sites do.
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from types import TracebackType

from aiohttp.abc import AbstractResolver
from aiohttp.abc import ResolveResult


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    delay: float = 0.0  # seconds to wait before answering (to hold a request open)


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str  # with the query string
    headers: Mapping[str, str]  # names in lower case
    client_port: int  # the same port twice means the connection was kept alive
    body: bytes = b""  # what a POST sent


Route = Reply | Callable[[SeenRequest], Reply]

# The content of a `LargeFile`: 0, 1, … 250, 0, 1, …; 251 is prime, so no power of two lines up.
_PATTERN = bytes(range(251))
_SERVED_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def pattern_bytes(offset: int, length: int) -> bytes:
    """`length` bytes of a `LargeFile`'s content from `offset`."""
    start = offset % len(_PATTERN)
    repeats = (start + length) // len(_PATTERN) + 1
    return (_PATTERN * repeats)[start : start + length]


@dataclass
class LargeFile:
    """A route serving `size` bytes of `pattern_bytes` (after `head`, the file's first bytes:
    a media header, say), made as they are sent (a 60 MB file costs no memory), with a
    Content-Length. With `ranges`, "Range: bytes=a-b", "bytes=a-" and "bytes=-n" get a 206
    with its Content-Range (416 past the end); without, every request gets the whole file.
    `sent` counts the body bytes made so far: a client that stops reading leaves the rest
    unmade (beyond what the sockets' buffers take)."""

    size: int
    content_type: str = "application/octet-stream"
    ranges: bool = True
    head: bytes = b""
    sent: int = 0

    def content(self, offset: int, length: int) -> bytes:
        """The file's `length` bytes from `offset`."""
        data = pattern_bytes(offset, length)
        if offset < len(self.head):
            data = self.head[offset : offset + length] + data[len(self.head) - offset :]
        return data

    def __call__(self, request: SeenRequest) -> Reply:
        first, last = 0, self.size - 1
        status = 200
        headers = {"Content-Type": self.content_type}
        match = _SERVED_RANGE.fullmatch(request.headers.get("range", ""))
        if self.ranges:
            headers["Accept-Ranges"] = "bytes"
        if self.ranges and match and (match[1] or match[2]):
            if not match[1]:
                first = max(self.size - int(match[2]), 0)
            else:
                first = int(match[1])
                last = min(int(match[2]), last) if match[2] else last
            if first >= self.size or last < first:
                return Reply(416, {"Content-Range": f"bytes */{self.size}"})
            status = 206
            headers["Content-Range"] = f"bytes {first}-{last}/{self.size}"
        headers["Content-Length"] = str(last - first + 1)
        return Reply(status, headers, self._body(first, last + 1))

    def _body(self, start: int, end: int) -> Iterable[bytes]:
        for offset in range(start, end, 64 * 1024):
            piece = self.content(offset, min(64 * 1024, end - offset))
            self.sent += len(piece)
            yield piece


class LocalServer:
    """Serves `routes` on `host` (127.0.0.1 unless told) at a free port while in a `with`."""

    def __init__(
        self,
        routes: Mapping[str, Route] | None = None,
        *,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,  # a server-side context to answer https instead
    ):
        self.routes: dict[str, Route] = dict(routes or {})
        self.scheme = "https" if tls else "http"
        self.requests: list[SeenRequest] = []
        self.max_active = 0  # the most requests ever being answered at the same time
        self._active = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), _make_handler(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False  # do not wait for idle keep-alive connections
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        # A short poll keeps `shutdown()` (which waits for the next poll) from slowing every test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        """The full URL of `path`; `host` replaces the address (e.g. a name a fake DNS knows)."""
        return f"{self.scheme}://{host or self.host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _answer(self, request: SeenRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            self._active += 1
            self.max_active = max(self.max_active, self._active)
        try:
            route = self.routes.get(request.path) or self.routes.get(request.path.split("?")[0])
            if route is None:
                return Reply(404, body=b"not found")
            reply = route(request) if callable(route) else route
            if reply.delay:
                time.sleep(reply.delay)
            return reply
        finally:
            with self._lock:
                self._active -= 1


def _make_handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real feed servers do

        def do_GET(self) -> None:
            self._serve(b"")

        def do_POST(self) -> None:  # a WebSub hub, and any POST the guard must keep away
            self._serve(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def _serve(self, body: bytes) -> None:
            request = SeenRequest(
                method=self.command,
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                client_port=int(self.client_address[1]),
                body=body,
            )
            reply = server._answer(request)
            self.send_response(reply.status)
            headers = {name.lower(): value for name, value in reply.headers.items()}
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if isinstance(reply.body, bytes):
                if "content-length" not in headers:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                return
            # A streamed body has no length: its end is the end of the connection.
            self.send_header("Connection", "close")
            self.close_connection = True
            self.end_headers()
            try:
                for chunk in reply.body:
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, which is often what the test wants

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output quiet

    return Handler


class FakeResolver(AbstractResolver):
    """DNS for tests: names mapped to addresses, or to a function called at each lookup.

    Pass it as `Fetcher(resolver=...)` to serve the local server under a name, or to fake a
    public name that resolves to a private address. Unknown names fail as real DNS would.
    """

    def __init__(self, answers: Mapping[str, Sequence[str] | Callable[[], Sequence[str]]]):
        self.answers = dict(answers)
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        answer = self.answers.get(host)
        if answer is None:
            raise OSError(socket.EAI_NONAME, f"no such host: {host}")
        addresses = answer() if callable(answer) else answer
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=0,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        pass
