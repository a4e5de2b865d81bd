from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from liseuse.lib import env


def test_booleans_and_numbers_are_read_or_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISEUSE_X", "yes")
    assert env.env_bool("X") is True
    monkeypatch.setenv("LISEUSE_X", "perhaps")
    with pytest.raises(env.ConfigError, match="LISEUSE_X='perhaps' is not a yes/no value"):
        env.env_bool("X")
    monkeypatch.setenv("LISEUSE_N", "12")
    assert env.env_int("N", 3) == 12
    monkeypatch.setenv("LISEUSE_N", "0")
    with pytest.raises(env.ConfigError, match="below the minimum"):
        env.env_int("N", 3, minimum=1)
    monkeypatch.delenv("LISEUSE_N")
    assert env.env_int("N", 3) == 3


def test_a_secret_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "s").write_text("from-file\n")
    monkeypatch.setenv("LISEUSE_SECRET_KEY", "from-env")
    monkeypatch.setenv("LISEUSE_SECRET_KEY_FILE", str(tmp_path / "s"))
    assert env.env_str("SECRET_KEY") == "from-file"


def test_database_urls() -> None:
    db = env.database_from_url("postgresql://me:p%40ss@db.example:5433/liseuse")
    assert (db["ENGINE"], db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "liseuse.db.postgresql",
        "liseuse",
        "me",
        "p@ss",
        "db.example",
        "5433",
    )
    with pytest.raises(env.ConfigError, match=r"must start with postgresql:// \(got mysql://\)"):
        env.database_from_url("mysql://x/y")
    with pytest.raises(env.ConfigError, match=r"must start with postgresql:// \(got 'notaurl'\)"):
        env.database_from_url("notaurl")
    with pytest.raises(env.ConfigError, match="names no database"):
        env.database_from_url("postgresql://host/")


def test_listen_addresses() -> None:
    assert env.listen_address("0.0.0.0:80") == ("0.0.0.0", 80)
    assert env.listen_address("[::1]:8000") == ("::1", 8000)
    with pytest.raises(env.ConfigError, match="must be host:port"):
        env.listen_address("8000")


def _default_batch(tmp_path: Path, database_url: str | None) -> int:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LISEUSE_")}
    environment.update(LISEUSE_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="liseuse.settings")
    if database_url:
        environment["LISEUSE_DATABASE_URL"] = database_url
    printed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from liseuse import settings; print(settings.LISEUSE_REFRESH_BATCH)",
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(printed.stdout)


def test_a_refresh_claims_bigger_batches_on_sqlite_than_on_postgresql(tmp_path: Path) -> None:
    # SQLite: one machine, one writer, fewer batches go faster; PostgreSQL: several workers
    # share a pass, and smaller batches keep them all busy to its end.
    assert _default_batch(tmp_path, None) == 1000
    assert _default_batch(tmp_path, "postgresql://someone@db.example:5432/liseuse") == 500


def test_networks_are_checked_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISEUSE_NETS", "192.168.1.0/24, 10.0.0.7,fd00::/8")
    assert env.env_networks("NETS", []) == ["192.168.1.0/24", "10.0.0.7", "fd00::/8"]
    monkeypatch.setenv("LISEUSE_NETS", "192.168.1.0/24,intranet")
    with pytest.raises(env.ConfigError, match="LISEUSE_NETS: 'intranet' is not an IP address"):
        env.env_networks("NETS", [])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://db:port/liseuse", "port"),
        ("postgresql://db:99999/liseuse", "port"),
        ("postgresql://[::1/liseuse", "address"),
    ],
)
def test_a_database_url_that_cannot_be_read_is_refused_by_name(url: str, reason: str) -> None:
    with pytest.raises(env.ConfigError, match=rf"^LISEUSE_DATABASE_URL: .*{reason}"):
        env.database_from_url(url)


def test_a_missing_secret_file_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LISEUSE_SECRET_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(env.ConfigError, match=r"^LISEUSE_SECRET_KEY_FILE=.*absent.*cannot be read"):
        env.env_str("SECRET_KEY")


def test_a_listen_port_out_of_range_is_refused_by_name() -> None:
    with pytest.raises(env.ConfigError, match=r"LISEUSE_LISTEN='127\.0\.0\.1:99999'.*0 to 65535"):
        env.listen_address("127.0.0.1:99999")


def test_numbers_above_their_maximum_are_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LISEUSE_N", "2000")
    with pytest.raises(env.ConfigError, match="LISEUSE_N=2000 is above the maximum of 1440"):
        env.env_int("N", 3, maximum=1440)


def test_database_urls_keep_libpqs_parameters() -> None:
    # ?sslmode=require was dropped: the connection went without TLS, and nothing said so.
    db = env.database_from_url(
        "postgresql://me@db.example/liseuse?sslmode=verify-full&sslrootcert=/etc/ca.pem"
        "&connect_timeout=5"
    )
    assert db["OPTIONS"] == {
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ca.pem",
        "connect_timeout": "5",
    }
    socket = env.database_from_url("postgresql:///liseuse?host=/run/postgresql&user=liseuse")
    assert (socket["HOST"], socket["USER"], socket["OPTIONS"]) == ("/run/postgresql", "liseuse", {})
    with pytest.raises(env.ConfigError, match="unknown connection parameter 'sslmod'"):
        env.database_from_url("postgresql://db.example/liseuse?sslmod=require")
