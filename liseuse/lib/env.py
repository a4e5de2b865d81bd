"""Read configuration from `LISEUSE_…` environment variables, with types and clear errors."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from urllib.parse import parse_qsl
from urllib.parse import unquote
from urllib.parse import urlsplit

PREFIX = "LISEUSE_"


class ConfigError(ValueError):
    """A `LISEUSE_…` variable holds a value we cannot use; the message names it."""


def env_str(name: str, default: str = "") -> str:
    """The variable's value; `NAME_FILE` (a path, as Docker secrets give) takes precedence."""
    file_path = os.environ.get(PREFIX + name + "_FILE")
    if file_path:
        try:
            return Path(file_path).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise ConfigError(
                f"{PREFIX}{name}_FILE={file_path!r} cannot be read: {reason}"
            ) from None
    return os.environ.get(PREFIX + name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = env_str(name, "").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{PREFIX}{name}={raw!r} is not a yes/no value (use 1/0, true/false, yes/no)")


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    raw = env_str(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{PREFIX}{name}={value} is below the minimum of {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{PREFIX}{name}={value} is above the maximum of {maximum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env_str(name, "")
    if raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str, default: list[str]) -> list[str]:
    """A comma-separated list of IP networks ("192.168.1.0/24", "10.0.0.7"), each checked."""
    networks = env_list(name, default)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(
                f"{PREFIX}{name}: {network!r} is not an IP address or network (such as "
                "192.168.1.0/24)"
            ) from None
    return networks


# libpq's connection parameters (PostgreSQL 17's list): what a URL may give after "?".
_LIBPQ_PARAMETERS = frozenset(
    {
        *("host", "hostaddr", "port", "dbname", "user", "password", "passfile"),
        *("require_auth", "channel_binding", "connect_timeout", "client_encoding", "options"),
        *("application_name", "fallback_application_name", "keepalives", "keepalives_idle"),
        *("keepalives_interval", "keepalives_count", "tcp_user_timeout", "replication"),
        *("gssencmode", "sslmode", "sslnegotiation", "requiressl", "sslcompression", "sslcert"),
        *("sslkey", "sslkeylogfile", "sslpassword", "sslcertmode", "sslrootcert", "sslcrl"),
        *("sslcrldir", "sslsni", "requirepeer", "ssl_min_protocol_version"),
        *("ssl_max_protocol_version", "krbsrvname", "gsslib", "gssdelegation", "service"),
        *("target_session_attrs", "load_balance_hosts"),
    }
)


def database_from_url(url: str) -> dict[str, object]:
    """Django's DATABASES entry for a `postgresql://user:pass@host:port/name` URL."""
    try:
        parts = urlsplit(url)
        port = parts.port  # urlsplit reads the port only when asked
    except ValueError:  # "[::1/db": a bracket left open
        raise ConfigError(
            f"{PREFIX}DATABASE_URL: the host is not a valid address, or its port not a number "
            "from 0 to 65535 (postgresql://user:password@host:5432/name)"
        ) from None
    if parts.scheme not in {"postgres", "postgresql"}:
        # Without "://" there is no scheme to quote: "notaurl" was said to start with nothing://.
        got = f"{parts.scheme}://" if parts.scheme and "://" in url else repr(url[:40])
        raise ConfigError(
            f"{PREFIX}DATABASE_URL must start with postgresql:// (got {got}); "
            "leave it unset to use SQLite"
        )
    # libpq's parameters after "?" (sslmode=verify-full, host=/run/postgresql…), as psql and
    # Miniflux take them: they were dropped, and ?sslmode=require connected without TLS.
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(query) - _LIBPQ_PARAMETERS)
    if unknown:
        raise ConfigError(
            f"{PREFIX}DATABASE_URL: unknown connection parameter {unknown[0]!r} after '?' "
            "(libpq's, such as sslmode=verify-full or connect_timeout=10)"
        )
    # These fill what the URL itself leaves blank (postgresql:///name?host=/run/postgresql).
    dbname, user, password = (
        query.pop("dbname", ""),
        query.pop("user", ""),
        query.pop("password", ""),
    )
    host, query_port = query.pop("host", ""), query.pop("port", "")
    name = unquote(parts.path.lstrip("/")) or dbname
    if not name:
        raise ConfigError(f"{PREFIX}DATABASE_URL names no database (postgresql://host/NAME)")
    return {
        "ENGINE": "liseuse.db.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or "") or user,
        "PASSWORD": unquote(parts.password or "") or password,
        "HOST": parts.hostname or host,
        "PORT": str(port or query_port or ""),
        # The other parameters go to the driver as they are (sslmode, sslrootcert…).
        "OPTIONS": query,
        # Keep connections for a minute: the web workers and the refresh loop reconnect less.
        "CONN_MAX_AGE": 60,
        # A connection the server ended is opened again rather than failing a request; the
        # backend checks a quiet connection without a query (liseuse/db/postgresql).
        "CONN_HEALTH_CHECKS": True,
    }


def listen_address(value: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not host:
        raise ConfigError(f"{PREFIX}LISTEN={value!r} must be host:port, such as 127.0.0.1:8000")
    if int(port) > 65535:
        raise ConfigError(f"{PREFIX}LISTEN={value!r}: the port must be from 0 to 65535")
    return host.strip("[]"), int(port)
