"""A WebSub push as a hub sends it to `liseuse serve` (gunicorn): in chunks, with no
Content-Length, which Django alone reads as an empty body."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.process import free_port
from tests.process import liseuse
from tests.process import liseuse_env

SECRET = "s" * 40
TOKEN = "t" * 32


def _rss(*guids: str) -> bytes:
    items = "".join(f"<item><guid>{g}</guid><title>{g}</title></item>" for g in guids)
    return f'<rss version="2.0"><channel><title>P</title>{items}</channel></rss>'.encode()


def _wait_until_it_listens(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return
        except OSError:
            assert process.poll() is None, "liseuse serve ended"
            assert time.monotonic() < deadline, "liseuse serve did not listen within 60 s"
            time.sleep(0.2)


def _chunks(body: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_a_chunked_push_to_liseuse_serve_is_read_and_stored(tmp_path: Path) -> None:
    env = {"LISEUSE_ALLOW_PRIVATE_NETWORKS": "1"}
    with LocalServer({"/feed": Reply(body=_rss("polled"))}) as site:
        assert liseuse(tmp_path, "user", "add", "alice", stdin="a long password\n").returncode == 0
        added = liseuse(tmp_path, "feed", "add", site.url("/feed"), "--user", "alice", **env)
        assert added.returncode == 0, added.stderr
    database = sqlite3.connect(tmp_path / "liseuse.sqlite3")
    ((feed_id, topic),) = database.execute("SELECT id, url FROM feeds_feed").fetchall()
    with database:
        database.execute(
            "INSERT INTO feeds_websubsubscription (feed_id, hub, topic, token, secret, state,"
            " requested_at) VALUES (?, 'https://hub.example/', ?, ?, ?, 'active', ?)",
            (feed_id, topic, TOKEN, SECRET, "2026-01-01 00:00:00"),
        )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "liseuse.cli", "serve", "--no-worker"],
        env=liseuse_env(tmp_path, LISEUSE_LISTEN=f"127.0.0.1:{port}", **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_it_listens(process, port)
        body = _rss("polled", "pushed")
        signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request(
            "POST",
            f"/websub/{TOKEN}",
            body=_chunks(body, 40),
            headers={
                "Content-Type": "application/rss+xml",
                "X-Hub-Signature": f"sha256={signature}",
                "Transfer-Encoding": "chunked",
            },
            encode_chunked=True,
        )
        answer = connection.getresponse()
        answer.read()
        connection.close()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert answer.status == 202
    guids = {guid for (guid,) in database.execute("SELECT guid FROM feeds_entry")}
    database.close()
    assert guids == {"polled", "pushed"}, "the pushed document was read whole and stored"
