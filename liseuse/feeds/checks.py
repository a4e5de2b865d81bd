"""System checks that catch a misconfigured instance, each with a hint pointing at the docs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error
from django.core.checks import Tags
from django.core.checks import Warning
from django.core.checks import register

DOCS = "see docs/configuration.md"

# Filesystems on which SQLite's locking is unreliable: the database would corrupt.
_NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smbfs", "smb3", "sshfs", "fuse.sshfs", "9p", "afs"}


def _filesystem_type(path: Path) -> str:
    """The type of the filesystem holding `path`, from /proc/mounts (empty where unknown)."""
    try:
        mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    except OSError:
        return ""
    best, best_type = "", ""
    target = str(path.resolve())
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        mount_point, fs_type = fields[1], fields[2]
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, fs_type
    return best_type


@register(Tags.database)
def check_database_reachable(
    app_configs: Sequence[AppConfig] | None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[Error]:
    """Whether the database answers (`liseuse check` asks; Django's own startup checks do not,
    and pass no `databases`). Every other command says so in one line; `check` said nothing
    and passed."""
    if not databases:
        return []
    from django.db import DatabaseError
    from django.db import connection

    try:
        connection.ensure_connection()
    except DatabaseError as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return [
            Error(
                f"The database cannot be reached: {reason}",
                hint=f"Check LISEUSE_DATABASE_URL and that the server runs ({DOCS}).",
                id="liseuse.E003",
            )
        ]
    return []


@register(Tags.database)
def check_sqlite_location(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[Error | Warning]:
    return sqlite_problems(settings.DATABASES["default"])


def sqlite_problems(database: Mapping[str, Any]) -> list[Error | Warning]:
    if database["ENGINE"] != "django.db.backends.sqlite3":
        return []
    folder = Path(str(database["NAME"])).parent
    fs_type = _filesystem_type(folder)
    if fs_type in _NETWORK_FILESYSTEMS:
        return [
            Error(
                f"The SQLite database is on a network filesystem ({fs_type}).",
                hint="SQLite needs a local disk: move LISEUSE_DATA_DIR, or use PostgreSQL "
                f"with LISEUSE_DATABASE_URL ({DOCS}).",
                id="liseuse.E001",
            )
        ]
    if not os.access(folder, os.W_OK):
        return [
            Error(
                f"The data folder {folder} is not writable.",
                hint=f"Give the user running liseuse write access to LISEUSE_DATA_DIR ({DOCS}).",
                id="liseuse.E002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_deployment(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[Error | Warning]:
    problems: list[Error | Warning] = []
    if settings.DEBUG:
        problems.append(
            Warning(
                "LISEUSE_DEBUG is on: error pages show internals to anyone.",
                hint=f"Unset LISEUSE_DEBUG in production ({DOCS}).",
                id="liseuse.W001",
            )
        )
    local = {"127.0.0.1", "localhost", "[::1]"}
    if set(settings.ALLOWED_HOSTS) <= local:
        problems.append(
            Warning(
                "LISEUSE_ALLOWED_HOSTS only names this machine: nobody else can reach liseuse.",
                hint=f"Set LISEUSE_ALLOWED_HOSTS to the public host name ({DOCS}).",
                id="liseuse.W002",
            )
        )
    if "*" in settings.ALLOWED_HOSTS:
        problems.append(
            Warning(
                "LISEUSE_ALLOWED_HOSTS contains '*': any Host header is accepted.",
                hint=f"Name the host(s) liseuse is served as ({DOCS}).",
                id="liseuse.W003",
            )
        )
    if not settings.SESSION_COOKIE_SECURE:
        problems.append(
            Warning(
                "HTTPS is not configured: passwords and sessions would travel in clear.",
                hint=f"Serve liseuse behind HTTPS and set LISEUSE_HTTPS=1 ({DOCS}).",
                id="liseuse.W004",
            )
        )
    return problems
