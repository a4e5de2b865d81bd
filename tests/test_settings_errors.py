"""A `LISEUSE_…` value liseuse cannot use stops every command with one line naming the variable
(docs/configuration.md), never a traceback or a bare error number."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.process import liseuse


def _refused(data_dir: Path, **environment: str) -> str:
    result = liseuse(data_dir, "user", "list", **environment)
    assert result.returncode == 1, result.stdout
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("liseuse: error: LISEUSE_"), result.stderr
    return result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("LISEUSE_DATABASE_URL", "postgresql://127.0.0.1:port/db", "port"),
        ("LISEUSE_DATABASE_URL", "postgresql://127.0.0.1:70000/db", "port"),
        ("LISEUSE_DATABASE_URL", "postgresql://[::1/db", "address"),
        ("LISEUSE_LOG_LEVEL", "LOUD", "not a log level"),
        ("LISEUSE_SECRET_KEY_FILE", "/nonexistent/secret", "cannot be read"),
        ("LISEUSE_UI_TODAY", "notadate", "not a date"),
        ("LISEUSE_METRICS_ALLOW", "127.0.0.1,localhost", "not an IP address"),
        ("LISEUSE_REFRESH_MIN_MINUTES", "2000", "above LISEUSE_REFRESH_MAX_MINUTES=1440"),
    ],
)
def test_a_value_liseuse_cannot_use_is_named_in_one_line(
    tmp_path: Path, variable: str, value: str, reason: str
) -> None:
    message = _refused(tmp_path, **{variable: value})
    assert variable in message and reason in message


def test_a_data_folder_that_is_a_file_is_named_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    message = _refused(tmp_path / "data")
    assert "LISEUSE_DATA_DIR" in message and str(tmp_path / "data") in message


def test_a_data_folder_where_the_pages_cannot_go_is_named_in_one_line(tmp_path: Path) -> None:
    # As on a read-only data folder without its `cache/` yet: a folder that cannot be made.
    (tmp_path / "cache").write_text("in the way")
    message = _refused(tmp_path)
    assert "LISEUSE_DATA_DIR" in message and str(tmp_path / "cache" / "pages") in message


def test_a_secret_key_that_cannot_be_kept_names_the_folder_and_the_variables(
    tmp_path: Path,
) -> None:
    # As on a fresh read-only data folder: the key file cannot be written.
    (tmp_path / "secret_key").symlink_to(tmp_path / "gone" / "secret_key")
    message = _refused(tmp_path)
    assert "LISEUSE_DATA_DIR" in message and "LISEUSE_SECRET_KEY" in message
    assert str(tmp_path / "secret_key") in message
