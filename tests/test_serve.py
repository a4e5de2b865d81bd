"""`liseuse serve` as a person runs it: a real gunicorn answering, the refresh loop beside it."""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.test import override_settings
from gunicorn.config import Config
from gunicorn.glogging import Logger

from liseuse import server
from liseuse.accounts.models import User
from liseuse.ops.logs import ENVIRON_USER_ID
from liseuse.ops.logs import JsonFormatter
from liseuse.server import AccessLogger
from liseuse.server import redacted
from tests.process import free_port
from tests.process import liseuse_env


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _children(pid: int) -> list[int]:
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def _is_refresh_loop(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:  # it ended since it was listed
        return False
    return b"liseuse.cli" in argv and b"worker" in argv


def test_serve_migrates_answers_with_the_first_account_page_and_stops_with_its_worker(
    tmp_path: Path,
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "liseuse.cli", "serve"],
        env=liseuse_env(tmp_path, LISEUSE_LISTEN=f"127.0.0.1:{port}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                status, headers, _ = _get(base + "/")
                break
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "liseuse serve did not answer within 60 s"
                time.sleep(0.2)
        assert (status, headers["Location"]) == (302, "/setup/")
        assert headers["Server"].startswith("gunicorn")  # not Django's runserver
        status, _, body = _get(base + "/setup/")
        assert status == 200 and b"Welcome to liseuse" in body
        status, _, body = _get(base + "/static/ui/liseuse.css")
        assert status == 200 and b"color-scheme" in body
        assert (tmp_path / "liseuse.sqlite3").exists() and (tmp_path / "secret_key").exists()
        workers = [pid for pid in _children(process.pid) if _is_refresh_loop(pid)]
        assert len(workers) == 1, "the refresh loop runs beside the web server"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    output = process.stdout.read().decode() if process.stdout else ""
    # The access log, one line per request in the combined log format.
    assert re.search(r'^127\.0\.0\.1 - - \[.+\] "GET /setup/ HTTP/1\.1" 200 \d+ "-" ', output, re.M)
    time.sleep(0.5)
    assert (
        not Path(f"/proc/{workers[0]}").exists()
        or b"zombie" in Path(f"/proc/{workers[0]}/status").read_bytes().lower()
    ), "the refresh loop outlived the server"


def test_a_refresh_loop_that_dies_is_started_again(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "liseuse.cli", "serve"],
        env=liseuse_env(tmp_path, LISEUSE_LISTEN=f"127.0.0.1:{port}"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def refresh_loops() -> list[int]:
        return [pid for pid in _children(process.pid) if _is_refresh_loop(pid)]

    def wait_for(condition: Any) -> Any:
        deadline = time.monotonic() + 60
        while not (found := condition()):
            assert process.poll() is None and time.monotonic() < deadline, "timed out"
            time.sleep(0.1)
        return found

    try:
        (first,) = wait_for(refresh_loops)
        os.kill(first, signal.SIGKILL)  # as the kernel does to a process out of memory
        (second,) = wait_for(lambda: [pid for pid in refresh_loops() if pid != first])
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0
    time.sleep(0.5)
    assert (
        not Path(f"/proc/{second}").exists()
        or b"zombie" in Path(f"/proc/{second}/status").read_bytes().lower()
    ), "the new refresh loop stops with the server"


def test_a_refresh_loop_that_ends_before_the_server_stops_it_is_no_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Ctrl-C reaches the whole process group: the refresh loop ends before gunicorn gets to
    stop it (server.RefreshLoop.stop). An error saying it would be started again came with
    every Ctrl-C; it is said when it is, after the pause."""
    monkeypatch.setattr(server, "RESTART_FIRST", 60.0)
    loop = server.RefreshLoop([sys.executable, "-c", "pass"])
    pausing = threading.Event()

    class Stopping(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            pausing.set()
            return super().wait(timeout)

    loop._stopping = Stopping()
    with caplog.at_level(logging.INFO, logger="liseuse.server"):
        loop.start()
        assert pausing.wait(30), "the loop ended, and its watch waits before a new one"
        loop.stop()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_serve_no_worker_runs_no_refresh_loop(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "liseuse.cli", "serve", "--no-worker"],
        env=liseuse_env(tmp_path, LISEUSE_LISTEN=f"127.0.0.1:{port}"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert _get(f"http://127.0.0.1:{port}/setup/")[0] == 200
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        children = _children(process.pid)
        assert children, "gunicorn's web workers are there"
        assert not any(_is_refresh_loop(pid) for pid in children)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_serve_refuses_an_address_another_server_listens_on(tmp_path: Path) -> None:
    """The web processes listen with SO_REUSEPORT (each its own socket, connections spread by
    the kernel): without a check, they would share the port with another listener that does
    the same, and split its visitors with it silently."""
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "liseuse.cli", "serve", "--no-worker"],
            env=liseuse_env(tmp_path, LISEUSE_LISTEN=f"127.0.0.1:{port}", LISEUSE_WEB_WORKERS="2"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr, done.stderr[-2000:]


def test_the_access_log_line_is_gunicorns_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """liseuse's access logger makes only the fields of the combined log format, and the same
    line from them as gunicorn's logger (which makes every header a field too)."""
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/reader/api/0/edit-tag?a=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.7",
        "HTTP_REFERER": "https://example.org/",
        "HTTP_USER_AGENT": 'Reeder "5"',
        "HTTP_AUTHORIZATION": "Basic YWxpY2U6c2VjcmV0",  # alice:secret
    }

    class Response:
        status = "204 No Content"
        sent = 0
        headers = (("Content-Type", "text/plain"),)

    class Request:
        headers = (("Host", "liseuse.example"),)

    config = Config()
    elapsed = datetime.timedelta(microseconds=1500)
    # Both loggers read the clock: one instant for both, or the lines differ across a second.
    monkeypatch.setattr(Logger, "now", lambda self: "[26/Nov/2026:23:13:10 +0000]")
    lines = []
    for logger in (Logger(config), AccessLogger(config)):
        atoms = logger.atoms(Response(), Request(), environ, elapsed)
        lines.append(config.access_log_format % logger.atoms_wrapper_class(atoms))
    assert lines[0] == lines[1]
    assert lines[1].startswith("192.0.2.7 - alice [")
    assert lines[1].endswith(
        '"POST /reader/api/0/edit-tag?a=1 HTTP/1.1" 204 0 "https://example.org/" "Reeder \\"5\\""'
    )


def test_secrets_in_a_query_never_reach_the_access_log() -> None:
    # Google Reader's ClientLogin is taken by GET too: its password was written to the log.
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/accounts/ClientLogin?Email=alice&Passwd=s3cret&x=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.7",
    }

    class Response:
        status = "200 OK"
        sent = 10

    atoms = AccessLogger(Config()).atoms(Response(), None, environ, datetime.timedelta(0))
    assert atoms["r"] == "GET /accounts/ClientLogin?Email=alice&Passwd=***&x=1 HTTP/1.1"
    assert (
        redacted("/api/fever.php?api&api_key=abc;T=def&ts=5&t=Titre")
        == "/api/fever.php?api&api_key=***;T=***&ts=5&t=***"
    )
    assert redacted("/f/2/?state=all") == "/f/2/?state=all"


def test_with_json_logs_the_access_line_is_json_with_the_same_keys(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """LISEUSE_LOG_FORMAT=json: the access line is the message of a JSON line that carries
    the keys every other line does (liseuse/ops/logs.py)."""
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.7",
        ENVIRON_USER_ID: 7,
    }

    class Response:
        status = "200 OK"
        sent = 2048
        headers = ()

    config = Config()
    config.set("accesslog", "-")
    with (
        override_settings(LISEUSE_LOG_FORMAT="json"),
        caplog.at_level(logging.INFO, logger="liseuse.access"),
        caplog.at_level(logging.INFO, logger="gunicorn.error"),
    ):
        logger = AccessLogger(config)
        logger.access(Response(), None, environ, datetime.timedelta(microseconds=12_340))
        logger.info("Booting worker with pid: %s", 1234)  # gunicorn's own lines too
    (record,) = [r for r in caplog.records if r.name == "liseuse.access"]
    line = json.loads(JsonFormatter().format(record))
    assert (line["user_id"], line["duration_ms"]) == (7, 12.3)
    assert line["message"].startswith("192.0.2.7 - - [")
    assert line["message"].endswith('"GET / HTTP/1.1" 200 2048 "-" "-"')
    (own,) = [r for r in caplog.records if r.name == "gunicorn.error"]
    assert own.getMessage() == "Booting worker with pid: 1234"
    assert logger.error_log.handlers == [], "not gunicorn's text lines beside the JSON ones"
    logger.error_log.propagate = False  # as gunicorn leaves it, for the tests after this one


@pytest.mark.django_db
def test_a_logged_in_request_names_its_person_to_the_access_log(
    client: Client, alice: User
) -> None:
    client.force_login(alice)
    response = client.get("/manage/settings/")
    assert response.wsgi_request.META[ENVIRON_USER_ID] == alice.pk
    client.logout()
    assert ENVIRON_USER_ID not in client.get("/login/").wsgi_request.META


@pytest.mark.parametrize(
    ("listen", "reason"),
    [
        ("abc", "LISEUSE_LISTEN='abc' must be host:port, such as 127.0.0.1:8000"),
        ("127.0.0.1:99999", "LISEUSE_LISTEN='127.0.0.1:99999': the port must be from 0 to 65535"),
    ],
)
def test_serve_refuses_a_listen_address_it_cannot_read_in_one_line(
    tmp_path: Path, listen: str, reason: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "liseuse.cli", "serve", "--no-worker"],
        env=liseuse_env(tmp_path, LISEUSE_LISTEN=listen),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr == f"liseuse: error: {reason}\n"


def test_an_address_of_no_interface_of_this_machine_is_not_said_to_be_taken(
    tmp_path: Path,
) -> None:
    """192.0.2.1 (TEST-NET-1, documentation only) is no address of this machine: binding to it
    fails with "cannot assign", which has nothing to do with another server."""
    done = subprocess.run(
        [sys.executable, "-m", "liseuse.cli", "serve", "--no-worker"],
        env=liseuse_env(tmp_path, LISEUSE_LISTEN="192.0.2.1:18510", LISEUSE_WEB_WORKERS="2"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "cannot listen on 192.0.2.1:18510" in done.stderr, done.stderr[-2000:]
    assert "another liseuse" not in done.stderr and "no network interface" in done.stderr


def test_the_log_names_the_address_when_each_web_process_has_its_own_socket() -> None:
    config = Config()
    config.set("bind", ["127.0.0.1:18511"])
    logger = AccessLogger(config)
    said: list[str] = []
    logger.error_log.handlers = []
    logger.error_log.addHandler(_Collect(said))
    logger.info("Listening at: %s (%s)", "", 1234)
    assert said == ["Listening at: 127.0.0.1:18511 (1234)"]


class _Collect(logging.Handler):
    def __init__(self, said: list[str]) -> None:
        super().__init__()
        self.said = said

    def emit(self, record: logging.LogRecord) -> None:
        self.said.append(record.getMessage())


def test_a_loop_ended_once_the_server_is_stopping_is_not_started_again(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The arbiter's stop signal tells the loop at once (`tell_on_stop`): its web processes
    may take seconds to end, and a loop ended by the same Ctrl-C was started again meanwhile,
    with an error, and refreshed for that long."""
    monkeypatch.setattr(server, "RESTART_FIRST", 0.05)
    received: list[int] = []
    before = signal.signal(signal.SIGUSR1, lambda signum, frame: received.append(signum))
    loop = server.RefreshLoop([sys.executable, "-c", "import time; time.sleep(0.5)"])
    try:
        server.tell_on_stop(loop, (signal.SIGUSR1,))
        with caplog.at_level(logging.INFO, logger="liseuse.server"):
            loop.start()
            first = loop.process
            os.kill(os.getpid(), signal.SIGUSR1)  # as gunicorn's arbiter gets Ctrl-C's SIGINT
            assert first is not None
            first.wait(timeout=10)
            time.sleep(0.5)  # ten times the pause before a new loop
        assert received == [signal.SIGUSR1]  # the arbiter's own handler still ran
        assert loop.process is first
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    finally:
        signal.signal(signal.SIGUSR1, before)
        loop.stop()
