"""`liseuse serve`: gunicorn for the web pages, and the refresh loop beside it.

The refresh loop runs as a child process (`liseuse worker`) so that a slow parse never holds a
web request up and a crash of one does not take the other down. It leaves when the server does.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

from django.conf import settings
from gunicorn.app.base import BaseApplication

from liseuse.lib.env import listen_address

log = logging.getLogger("liseuse.server")


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


def serve(*, worker: bool = True) -> None:
    host, port = listen_address(settings.LISEUSE_LISTEN)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    refresher: subprocess.Popen[bytes] | None = None

    def start_worker(server: Any) -> None:
        nonlocal refresher
        if worker:
            refresher = subprocess.Popen([sys.executable, "-m", "liseuse.cli", "worker"])
            log.info("refresh loop started (pid %s)", refresher.pid)

    def stop_worker(server: Any) -> None:
        if refresher is not None and refresher.poll() is None:
            refresher.terminate()
            try:
                refresher.wait(timeout=10)
            except subprocess.TimeoutExpired:
                refresher.kill()

    log.info("liseuse listening on http://%s/", bind)
    _Gunicorn(
        {
            "bind": bind,
            # Threads, not processes: light on a Pi, and requests mostly wait on the database.
            "worker_class": "gthread",
            "workers": settings.LISEUSE_WEB_WORKERS,
            "threads": 4,
            "timeout": 60,
            "accesslog": "-",
            "when_ready": start_worker,
            "on_exit": stop_worker,
        }
    ).run()
