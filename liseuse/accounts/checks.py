"""Deployment checks about people and trust (shown by `liseuse check`): the secret key that
signs sessions, and the settings that open the instance to strangers."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Tags
from django.core.checks import Warning
from django.core.checks import register

DOCS = "see docs/configuration.md"


def secret_key_problems(
    *, secret_key: str, from_environment: bool, key_file: Path
) -> list[Warning]:
    problems: list[Warning] = []
    if len(secret_key) < 40 or len(set(secret_key)) < 10:
        problems.append(
            Warning(
                "The secret key is short or repetitive: sessions could be forged.",
                hint=f"Unset LISEUSE_SECRET_KEY to let liseuse generate one ({DOCS}).",
                id="liseuse.W010",
            )
        )
    if not from_environment:
        try:
            mode = key_file.stat().st_mode
        except OSError:
            problems.append(
                Warning(
                    "The secret key is not kept: every restart would log everyone out.",
                    hint=f"Give liseuse a data folder it can write and keep ({DOCS}).",
                    id="liseuse.W011",
                )
            )
        else:
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                problems.append(
                    Warning(
                        f"The secret key file {key_file} can be read by other users.",
                        hint=f"chmod 600 {key_file}",
                        id="liseuse.W012",
                    )
                )
    return problems


def data_folder_problems(folder: Path, database: Path | None) -> list[Warning]:
    """The SQLite database, which holds every session (a session key is the browser's cookie),
    must not be readable by the machine's other users: its folder closed to them, or the file."""
    if database is None:
        return []
    try:
        folder_open = folder.stat().st_mode & stat.S_IXOTH
        file_open = database.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH)
    except OSError:
        return []  # not made yet: liseuse makes the folder for its owner alone
    if folder_open and file_open:
        return [
            Warning(
                f"The database {database} can be read by other users of this machine: they "
                "could take over anyone's session.",
                hint=f"chmod 700 {folder}",
                id="liseuse.W015",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_people_and_trust(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[Warning]:
    problems = secret_key_problems(
        secret_key=str(settings.SECRET_KEY),
        from_environment=bool(os.environ.get("LISEUSE_SECRET_KEY")),
        key_file=Path(settings.DATA_DIR) / "secret_key",
    )
    database = settings.DATABASES["default"]
    sqlite = str(database["ENGINE"]).endswith("sqlite3")
    sqlite_file = Path(str(database["NAME"])) if sqlite else None
    problems += data_folder_problems(Path(settings.DATA_DIR), sqlite_file)
    if getattr(settings, "LISEUSE_OPEN_REGISTRATION", False):
        problems.append(
            Warning(
                "Open registration is on: anyone who reaches liseuse can create an account.",
                hint=f"Unset LISEUSE_OPEN_REGISTRATION unless that is what you want ({DOCS}).",
                id="liseuse.W013",
            )
        )
    if settings.SESSION_COOKIE_SECURE and not getattr(settings, "LISEUSE_BEHIND_PROXY", False):
        problems.append(
            Warning(
                "HTTPS is on but LISEUSE_BEHIND_PROXY is not: behind a reverse proxy, every "
                "visitor shares the proxy's address and login throttling counts them together.",
                hint=f"Set LISEUSE_BEHIND_PROXY=1 when a proxy sets X-Forwarded-For ({DOCS}).",
                id="liseuse.W014",
            )
        )
    return problems
