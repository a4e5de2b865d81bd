"""A local feed server for the refresh benchmark: the corpus of bench/corpus.py, over HTTP.

It listens on every loopback address of the corpus (127.0.0.2, 127.0.0.3, …), each bound
explicitly so that nothing is ever reachable from outside the machine, plus 127.0.0.1 for a small
admin side. Feeds are rendered from the seed and kept in memory (all of them before the server says
it is ready, with --warm), so the server costs the readers as little CPU as it can.

What a reader sees is what a careful real server does: a strong ETag and a Last-Modified on every
feed, 304 Not Modified to a matching If-None-Match (or, without one, to an If-Modified-Since not
older than the feed), gzip when asked for, a content type per format, and optionally a delay
before every answer (--latency-ms) to stand for the distance to real sites.

Every feed request is counted (requests, 200s, 304s) per feed and per host, with the most
requests ever in flight at once on one host (a reader's politeness, measured) and in all, and the
server's own CPU time. Counts are read and reset on the admin side, and written to --stats on
exit; --log writes one line per request.

Admin side, on http://127.0.0.1:PORT only:
    GET  /_admin/stats                 the counts, as JSON
    POST /_admin/reset                 zero the counts
    POST /_admin/latency?ms=50         change the added latency at run time

When it is ready it prints one JSON line to standard output: {"ready": true, "port": PORT, ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import signal
import socket
import sys
import time
from collections import Counter
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TextIO

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus  # bench/ is a folder of scripts, not a package

ADMIN_HOST = corpus.ADMIN_HOST


@dataclass(slots=True)
class Served:
    document: corpus.Document
    gzipped: bytes


@dataclass(slots=True)
class FeedCount:
    requests: int = 0
    ok: int = 0
    not_modified: int = 0


@dataclass
class State:
    feeds: int
    seed: int
    port: int = 0
    latency: float = 0.0  # seconds added before every feed answer
    use_gzip: bool = True
    cache: dict[int, Served] = field(default_factory=dict)
    counts: dict[int, FeedCount] = field(default_factory=lambda: defaultdict(FeedCount))
    statuses: Counter[int] = field(default_factory=Counter)
    conditional: int = 0
    in_flight: Counter[str] = field(default_factory=Counter)
    max_in_flight: Counter[str] = field(default_factory=Counter)
    in_flight_total: int = 0
    max_in_flight_total: int = 0
    started: float = field(default_factory=time.monotonic)
    cpu_started: float = field(default_factory=time.process_time)
    log: TextIO | None = None

    def served(self, index: int) -> Served:
        cached = self.cache.get(index)
        if cached is None:
            base = f"http://{corpus.feed_host(index, self.feeds)}:{self.port}"
            document = corpus.render(self.seed, index, base)
            # Level 6 is the usual web server default; done once per feed, never per request.
            cached = Served(document, gzip.compress(document.body, compresslevel=6, mtime=0))
            self.cache[index] = cached
        return cached

    def reset(self) -> None:
        self.counts.clear()
        self.statuses.clear()
        self.conditional = 0
        self.max_in_flight.clear()
        self.max_in_flight_total = 0
        self.started = time.monotonic()
        self.cpu_started = time.process_time()

    def stats(self) -> dict[str, object]:
        per_feed = {
            str(index): {"requests": c.requests, "200": c.ok, "304": c.not_modified}
            for index, c in sorted(self.counts.items())
        }
        return {
            "feeds": self.feeds,
            "latency_ms": round(self.latency * 1000),
            "seconds_since_reset": round(time.monotonic() - self.started, 3),
            # The server shares the machine's two cores with the side being measured.
            "server_cpu_seconds_since_reset": round(time.process_time() - self.cpu_started, 3),
            "requests": sum(self.statuses.values()),
            "status": {str(status): n for status, n in sorted(self.statuses.items())},
            "conditional_requests": self.conditional,
            "feeds_requested": len(self.counts),
            "feeds_requested_twice_or_more": sum(1 for c in self.counts.values() if c.requests > 1),
            "max_in_flight_per_host": max(self.max_in_flight.values(), default=0),
            "max_in_flight_total": self.max_in_flight_total,
            "max_in_flight_by_host": dict(sorted(self.max_in_flight.items())),
            "per_feed": per_feed,
        }


STATE = web.AppKey("state", State)


def _local_address(request: web.Request) -> str:
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return str(sockname[0]) if sockname else ""


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    # If-None-Match uses the weak comparison: W/"x" matches "x".
    candidates = (tag.strip().removeprefix("W/") for tag in header.split(","))
    return etag in candidates


def _not_modified(request: web.Request, document: corpus.Document) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        # When both are sent, If-None-Match decides alone (RFC 9110 §13.2.2).
        return _etag_matches(if_none_match, document.etag)
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    return since >= parsedate_to_datetime(document.last_modified)


async def feed(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    host = _local_address(request)
    try:
        index = int(request.match_info["index"])
    except ValueError:
        index = -1
    if (
        not 0 <= index < state.feeds
        or corpus.feed_host(index, state.feeds) != host
        or corpus.extension(corpus.feed_format(index, state.seed)) != request.match_info["ext"]
    ):
        state.statuses[404] += 1
        raise web.HTTPNotFound()
    count = state.counts[index]
    count.requests += 1
    conditional = "If-None-Match" in request.headers or "If-Modified-Since" in request.headers
    state.conditional += conditional
    state.in_flight[host] += 1
    state.max_in_flight[host] = max(state.max_in_flight[host], state.in_flight[host])
    state.in_flight_total += 1
    state.max_in_flight_total = max(state.max_in_flight_total, state.in_flight_total)
    try:
        if state.latency:
            await asyncio.sleep(state.latency)
        served = state.served(index)
        document = served.document
        headers = {"ETag": document.etag, "Last-Modified": document.last_modified}
        if _not_modified(request, document):
            count.not_modified += 1
            status = 304
            response = web.Response(status=304, headers=headers)
        else:
            count.ok += 1
            status = 200
            headers["Content-Type"] = document.content_type
            headers["Vary"] = "Accept-Encoding"
            body = document.body
            if state.use_gzip and "gzip" in request.headers.get("Accept-Encoding", ""):
                headers["Content-Encoding"] = "gzip"
                body = served.gzipped
            response = web.Response(status=200, body=body, headers=headers)
    finally:
        state.in_flight[host] -= 1
        state.in_flight_total -= 1
    state.statuses[status] += 1
    if state.log is not None:
        state.log.write(f"{time.time():.3f}\t{host}\t{index}\t{status}\t{int(conditional)}\n")
    return response


async def other(request: web.Request) -> web.StreamResponse:
    # Site pages, images, favicons: nothing here; say so quickly.
    request.app[STATE].statuses[404] += 1
    raise web.HTTPNotFound()


def _admin_only(request: web.Request) -> None:
    if _local_address(request) != ADMIN_HOST:
        raise web.HTTPNotFound()


async def admin_stats(request: web.Request) -> web.StreamResponse:
    _admin_only(request)
    state = request.app[STATE]
    if state.log is not None:
        state.log.flush()
    return web.json_response(state.stats())


async def admin_reset(request: web.Request) -> web.StreamResponse:
    _admin_only(request)
    request.app[STATE].reset()
    return web.json_response({"reset": True})


async def admin_latency(request: web.Request) -> web.StreamResponse:
    _admin_only(request)
    try:
        milliseconds = float(request.query["ms"])
    except (KeyError, ValueError):
        raise web.HTTPBadRequest(text="latency needs ?ms=NUMBER") from None
    request.app[STATE].latency = max(0.0, milliseconds) / 1000
    return web.json_response({"latency_ms": milliseconds})


def make_app(state: State) -> web.Application:
    app = web.Application()
    app[STATE] = state
    app.router.add_get(r"/feeds/{index}.{ext:xml|json}", feed)
    app.router.add_get("/_admin/stats", admin_stats)
    app.router.add_post("/_admin/reset", admin_reset)
    app.router.add_post("/_admin/latency", admin_latency)
    app.router.add_route("*", "/{tail:.*}", other)
    return app


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((ADMIN_HOST, 0))
        return int(probe.getsockname()[1])


async def serve(state: State, port: int, stats_path: Path | None) -> None:
    runner = web.AppRunner(make_app(state), access_log=None)
    await runner.setup()
    hosts = [ADMIN_HOST, *corpus.host_addresses(state.feeds)]
    # With port 0 every address must still share one port (the OPML names one): pick a port free
    # on 127.0.0.1 and try it everywhere, again with another if some address has it taken.
    for attempt in range(20):
        state.port = port or _free_port()
        sites = [web.TCPSite(runner, host, state.port, backlog=1024) for host in hosts]
        try:
            for site in sites:
                await site.start()
            break
        except OSError:
            for site in sites:
                await site.stop()
            if port or attempt == 19:
                raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    ready = {"ready": True, "port": state.port, "hosts": len(hosts) - 1, "feeds": state.feeds}
    print(json.dumps(ready), flush=True)
    await stop.wait()
    if stats_path is not None:
        stats_path.write_text(json.dumps(state.stats(), indent=1) + "\n", encoding="utf-8")
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=corpus.DEFAULT_SEED)
    parser.add_argument("--port", type=int, default=0, help="0: pick a free one (printed)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--warm", action="store_true", help="render every feed before serving")
    parser.add_argument("--no-gzip", action="store_true")
    parser.add_argument("--log", type=Path, help="one line per feed request (TSV)")
    parser.add_argument("--stats", type=Path, help="write the counts here on exit (JSON)")
    args = parser.parse_args(argv)
    state = State(
        feeds=args.feeds,
        seed=args.seed,
        latency=args.latency_ms / 1000,
        use_gzip=not args.no_gzip,
    )
    if args.port:
        state.port = args.port
    elif args.warm:
        # Rendering puts the port into every URL, so it must be known before warming.
        args.port = state.port = _free_port()
    if args.warm:
        for index in range(args.feeds):
            state.served(index)
    if args.log:
        state.log = args.log.open("a", encoding="utf-8", buffering=1 << 16)
    try:
        asyncio.run(serve(state, args.port, args.stats))
    finally:
        if state.log is not None:
            state.log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
