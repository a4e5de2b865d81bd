"""50 API clients at once for 60 s against a real `liseuse serve`: does anything fail?

A throw-away SQLite data folder gets the Google Reader bench's person (500 feeds, 100k entries by
default, built by bench/greader_speed.py's `build`), then `liseuse serve --no-worker` (gunicorn)
serves it on a free loopback port. Half the clients speak Google Reader (login, unread-count,
stream/contents n=50, stream/items/ids, edit-tag read/unread), half Fever (items, unread ids, mark
item read/unread), in loops, until the time is up. Any status other than 200, any body other than
expected, and any connection error counts as an error. Prints requests, errors, requests/s and
latency percentiles per call.

    .venv/bin/python bench/api_load.py                              # 50 clients, 60 s
    .venv/bin/python bench/api_load.py --clients 10 --seconds 10 --feeds 50 --entries 10000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

READING_LIST = "user/-/state/com.google/reading-list"
READ = "user/-/state/com.google/read"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(data_dir: Path, feeds: int, entries: int) -> None:
    os.environ["LISEUSE_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "liseuse.settings"
    import django

    django.setup()
    import greader_speed
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    greader_speed.build(feeds, entries, 0.3, 1)


class Stats:
    def __init__(self) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.examples: list[str] = []

    async def call(
        self, name: str, session: aiohttp.ClientSession, method: str, url: str, **kwargs: object
    ) -> bytes | None:
        began = time.perf_counter()
        try:
            async with session.request(method, url, **kwargs) as response:  # type: ignore[arg-type]
                body = await response.read()
                ok = response.status == 200
        except (aiohttp.ClientError, TimeoutError) as exc:
            body, ok = str(exc).encode(), False
        self.times[name].append((time.perf_counter() - began) * 1000)
        if not ok:
            self.errors[name] += 1
            if len(self.examples) < 5:
                self.examples.append(f"{name}: {body[:200]!r}")
            return None
        return body


async def greader_client(base: str, stats: Stats, deadline: float, password: str) -> None:
    async with aiohttp.ClientSession() as session:
        body = await stats.call(
            "ClientLogin",
            session,
            "POST",
            f"{base}/accounts/ClientLogin",
            data={"Email": "reader", "Passwd": password},
        )
        if body is None:
            return
        token = body.decode().splitlines()[-1].removeprefix("Auth=")
        headers = {"Authorization": f"GoogleLogin auth={token}"}
        api = f"{base}/api/greader.php/reader/api/0"
        rng = random.Random()
        while time.monotonic() < deadline:
            await stats.call(
                "unread-count", session, "GET", f"{api}/unread-count?output=json", headers=headers
            )
            page = await stats.call(
                "stream/contents n=50",
                session,
                "GET",
                f"{api}/stream/contents/{READING_LIST}?n=50&xt={READ}",
                headers=headers,
            )
            await stats.call(
                "stream/items/ids",
                session,
                "GET",
                f"{api}/stream/items/ids?s={READING_LIST}&xt={READ}&n=1000",
                headers=headers,
            )
            if page:
                items = json.loads(page).get("items", [])
                if items:
                    item = rng.choice(items)["id"]
                    action = rng.choice(["a", "r"])
                    await stats.call(
                        "edit-tag",
                        session,
                        "POST",
                        f"{api}/edit-tag",
                        headers=headers,
                        data={"i": item, action: READ, "T": "x"},
                    )


async def fever_client(base: str, stats: Stats, deadline: float, password: str) -> None:
    key = hashlib.md5(f"reader:{password}".encode()).hexdigest()
    url = f"{base}/api/fever.php?api"
    rng = random.Random()
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            ids = await stats.call(
                "fever unread_item_ids",
                session,
                "POST",
                url + "&unread_item_ids",
                data={"api_key": key},
            )
            await stats.call("fever items", session, "POST", url + "&items", data={"api_key": key})
            if ids:
                unread = json.loads(ids).get("unread_item_ids", "")
                if unread:
                    item = rng.choice(unread.split(","))
                    await stats.call(
                        "fever mark",
                        session,
                        "POST",
                        url + f"&mark=item&as={rng.choice(['read', 'unread'])}&id={item}",
                        data={"api_key": key},
                    )


async def load(base: str, clients: int, seconds: float, password: str) -> Stats:
    stats = Stats()
    deadline = time.monotonic() + seconds
    tasks = [
        (greader_client if n % 2 == 0 else fever_client)(base, stats, deadline, password)
        for n in range(clients)
    ]
    await asyncio.gather(*tasks)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--web-workers", type=int, default=2)
    args = parser.parse_args()

    import greader_speed

    with tempfile.TemporaryDirectory(prefix="liseuse-load-") as folder:
        data = Path(folder)
        # Built in a child: this process stays free of Django, as a real client would be.
        subprocess.run(
            [sys.executable, __file__, "--prepare", str(data), str(args.feeds), str(args.entries)],
            check=True,
        )
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LISEUSE_")}
        env.update(
            LISEUSE_DATA_DIR=str(data),
            LISEUSE_LISTEN=f"127.0.0.1:{port}",
            LISEUSE_WEB_WORKERS=str(args.web_workers),
            DJANGO_SETTINGS_MODULE="liseuse.settings",
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "liseuse.cli", "serve", "--no-worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.2)
            began = time.monotonic()
            stats = asyncio.run(load(base, args.clients, args.seconds, greader_speed.PASSWORD))
            elapsed = time.monotonic() - began
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    total = sum(len(t) for t in stats.times.values())
    errors = sum(stats.errors.values())
    print(
        f"{args.clients} clients, {elapsed:.0f} s, {args.feeds} feeds / {args.entries} entries, "
        f"{args.web_workers} web workers: {total} requests, {errors} errors, "
        f"{total / elapsed:.0f} requests/s"
    )
    print(f"{'call':<24} {'count':>7} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for name, times in sorted(stats.times.items()):
        times.sort()
        p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
        print(
            f"{name:<24} {len(times):>7} {stats.errors[name]:>6} "
            f"{statistics.median(times):>8.1f} {p99:>8.1f}"
        )
    for example in stats.examples:
        print("error:", example)
    if errors:
        raise SystemExit(1)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--prepare":
        prepare(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
