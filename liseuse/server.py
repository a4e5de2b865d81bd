"""`liseuse serve`: gunicorn for the web pages, and the refresh loop beside it.

The refresh loop runs as a child process (`liseuse worker`) so that a slow parse never holds a
web request up and a crash of one does not take the other down. It leaves when the server does,
and is started again when it dies on its own.
"""

from __future__ import annotations

import errno
import logging
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from types import FrameType
from typing import Any

from django.conf import settings
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from liseuse.lib.env import listen_address
from liseuse.ops.logs import ENVIRON_USER_ID

log = logging.getLogger("liseuse.server")
access_log = logging.getLogger("liseuse.access")


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        # gunicorn 24+ opens a control socket in $HOME by default; liseuse has no use for it.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        from liseuse.wsgi import application

        return application


# Secrets an app may put in a URL's query: Google Reader's ClientLogin is also taken by GET
# (as FreshRSS takes it), and its password then reached the access log.
_SECRET_PARAMETER = re.compile(r"([?&;](?:passwd|password|api_key|t)=)[^&;]*", re.IGNORECASE)


def redacted(uri: str) -> str:
    """`uri` with the values of its secret query parameters replaced by "***"."""
    return _SECRET_PARAMETER.sub(r"\1***", uri) if "=" in uri else uri


class AccessLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, its access line (the combined log format) made from the fields that
    line shows alone. gunicorn makes a field of every request and response header and
    environment variable, for formats liseuse does not use: a twentieth of the web processes'
    time when they serve kept pages (py-spy under bench/scale_data.py's load).

    With LISEUSE_LOG_FORMAT=json the line goes through liseuse's own logging instead, as the
    message of a JSON line with the same keys as the others (`duration_ms`, and `user_id`
    for a logged-in person's page), and so do gunicorn's own lines (workers starting and
    stopping, errors)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if settings.LISEUSE_LOG_FORMAT == "json":
            for handler in list(self.error_log.handlers):
                self.error_log.removeHandler(handler)
            self.error_log.propagate = True  # to the root logger's JSON lines

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        # With a socket of each web process's own (`reuse_port`), the arbiter holds none and
        # says "Listening at:  (pid)": the address it would have named is the one asked for.
        if msg.startswith("Listening at:") and args and not args[0]:
            args = (",".join(self.cfg.bind), *args[1:])
        super().info(msg, *args, **kwargs)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if settings.LISEUSE_LOG_FORMAT != "json":
            super().access(resp, req, environ, request_time)
            return
        if not self.access_log_enabled:
            return
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        context: dict[str, object] = {"duration_ms": round(request_time.total_seconds() * 1000, 1)}
        if environ.get(ENVIRON_USER_ID) is not None:
            context["user_id"] = environ[ENVIRON_USER_ID]
        access_log.info(self.cfg.access_log_format % atoms, extra=context)

    def atoms(
        self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any
    ) -> dict[str, Any]:
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        method = environ["REQUEST_METHOD"]
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "l": "-",
            "u": self._get_user(environ) or "-",
            "t": self.now(),
            "r": f"{method} {redacted(environ['RAW_URI'])} {environ['SERVER_PROTOCOL']}",
            "s": status,
            "b": str(sent) if sent is not None else "-",
            "f": environ.get("HTTP_REFERER", "-"),
            "a": environ.get("HTTP_USER_AGENT", "-"),
        }


# A refresh loop that died (killed for its memory, a crash) is started again after this pause,
# doubled each time it dies again before having run for RESTART_MAX seconds.
RESTART_FIRST = 1.0
RESTART_MAX = 300.0


class RefreshLoop:
    """The refresh loop's child process, started again whenever it ends while the server runs.

    Once it died, nothing refreshed any feed until someone restarted `liseuse serve`, while
    the pages went on being served as if all were well. Its exit code cannot tell a crash from
    a stop: gunicorn's arbiter reaps every child that ends, and `wait` then says 0. A loop that
    ended because the whole process group was asked to stop is started again only if the
    server has not stopped within the pause, and then stopped with it."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self.process = self._spawn()
        threading.Thread(target=self._watch, name="liseuse-refresh-watch", daemon=True).start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(self.command)
        log.info("refresh loop started (pid %s)", process.pid)
        return process

    def _watch(self) -> None:
        pause = RESTART_FIRST
        while True:
            with self._lock:
                process = self.process
            assert process is not None
            started = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started > RESTART_MAX:
                pause = RESTART_FIRST
            # Said once the pause is over: a loop stopped by Ctrl-C (which reaches the whole
            # process group) ends before the server gets to stop it, and an error saying it
            # would be started again came with every Ctrl-C.
            if self._stopping.wait(pause):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                log.error(
                    "the refresh loop ended with code %s %.0f s ago; starting it again", code, pause
                )
                self.process = self._spawn()
            pause = min(pause * 2, RESTART_MAX)

    def stopping(self) -> None:
        """The server was asked to stop: a loop that ends now is not started again. (Its web
        processes may take seconds to end, and `stop` comes after them: a loop ended by the
        same Ctrl-C was started again meanwhile, with an error, and refreshed for that long.)"""
        self._stopping.set()

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _own_sockets(port: int, workers: int) -> bool:
    """Whether each web process listens on a socket of its own (SO_REUSEPORT), the kernel
    spreading new connections between them.

    On one shared socket, whichever process is quicker to accept takes the connection, and a
    browser's or a proxy's keep-alive connections stay where they landed: under 50 connections,
    one run in four or five had most of them on one process, one core idle and the other's
    queue doubling every latency (bench/scale_data.py). Linux spreads them evenly; elsewhere
    SO_REUSEPORT does not, and one shared socket is kept. Port 0 would give each process a
    port of its own."""
    return workers > 1 and port != 0 and sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")


def _refuse_if_taken(host: str, port: int, bind: str) -> None:
    """Stop with a clear message if something listens on the address already. With sockets of
    their own (SO_REUSEPORT), the web processes would otherwise bind beside another program of
    the same user that does the same (a second liseuse, say) and share its connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Connections of an earlier run still closing (TIME_WAIT) do not count; a listener does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                hint = "is another liseuse or server running there? set LISEUSE_LISTEN"
            elif exc.errno == errno.EADDRNOTAVAIL:
                hint = "no network interface of this machine has that address; set LISEUSE_LISTEN"
            else:
                hint = "set LISEUSE_LISTEN"
            raise SystemExit(
                f"liseuse: cannot listen on {bind}: {exc.strerror or exc} ({hint})"
            ) from None


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)


def tell_on_stop(loop: RefreshLoop, signals: tuple[signal.Signals, ...] = _STOP_SIGNALS) -> None:
    """Have `loop` know at once when this process (gunicorn's arbiter) is asked to stop, then
    let the handler that was there (the arbiter's own) do its work."""
    for signum in signals:
        previous = signal.getsignal(signum)

        def handler(received: int, frame: FrameType | None, previous: Any = previous) -> None:
            loop.stopping()
            if callable(previous):
                previous(received, frame)

        signal.signal(signum, handler)


def serve(*, worker: bool = True) -> None:
    host, port = listen_address(settings.LISEUSE_LISTEN)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    workers = settings.LISEUSE_WEB_WORKERS
    own_sockets = _own_sockets(port, workers)
    if own_sockets:
        _refuse_if_taken(host, port, bind)
    refresher = RefreshLoop([sys.executable, "-m", "liseuse.cli", "worker", "--leave-with-parent"])

    def start_worker(server: Any) -> None:
        if worker:
            refresher.start()
            # Called once the arbiter has set its signal handlers, in its main thread.
            tell_on_stop(refresher)

    def stop_worker(server: Any) -> None:
        refresher.stop()

    log.info("liseuse listening on http://%s/", bind)
    _Gunicorn(
        {
            "bind": bind,
            # Threads, not processes: light on a Pi, and requests mostly wait on the database.
            "worker_class": "gthread",
            "workers": workers,
            "reuse_port": own_sockets,
            "threads": 4,
            "timeout": 60,
            # How long requests under way may take to end once asked to stop (gunicorn's 30 s
            # by default: a web process stuck ending its thread pool held Ctrl-C that long).
            "graceful_timeout": 10,
            "accesslog": "-",
            "logger_class": AccessLogger,
            "when_ready": start_worker,
            "on_exit": stop_worker,
        }
    ).run()
