"""Run the real `liseuse` command in a child process, on a throw-away SQLite data folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def liseuse_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISEUSE_")}
    # The child reads liseuse's real settings, not the test suite's.
    env["DJANGO_SETTINGS_MODULE"] = "liseuse.settings"
    env["LISEUSE_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def liseuse(
    data_dir: Path, *args: str, stdin: str = "", **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "liseuse.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=liseuse_env(data_dir, **extra),
        timeout=120,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
