from __future__ import annotations

from pathlib import Path

import pytest
from django.test import override_settings

from liseuse.feeds import checks


def test_deploy_check_reports_debug_hosts_and_https() -> None:
    with override_settings(DEBUG=True, ALLOWED_HOSTS=["127.0.0.1"], SESSION_COOKIE_SECURE=False):
        ids = {p.id for p in checks.check_deployment(None)}
    assert ids == {"liseuse.W001", "liseuse.W002", "liseuse.W004"}
    with override_settings(
        DEBUG=False, ALLOWED_HOSTS=["news.example.org"], SESSION_COOKIE_SECURE=True
    ):
        assert checks.check_deployment(None) == []
    with override_settings(ALLOWED_HOSTS=["*"]):
        assert "liseuse.W003" in {p.id for p in checks.check_deployment(None)}


def test_sqlite_on_a_network_filesystem_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = {"ENGINE": "django.db.backends.sqlite3", "NAME": tmp_path / "x.sqlite3"}
    monkeypatch.setattr(checks, "_filesystem_type", lambda path: "nfs4")
    errors = checks.sqlite_problems(db)
    assert [e.id for e in errors] == ["liseuse.E001"] and "network filesystem" in errors[0].msg
    monkeypatch.setattr(checks, "_filesystem_type", lambda path: "ext4")
    assert checks.sqlite_problems(db) == []


def test_the_filesystem_of_the_root_is_known() -> None:
    assert checks._filesystem_type(Path("/")) != ""


def test_the_url_table_raises_no_warning() -> None:
    # Fever's "fever.php/" route was written as "/" under "fever.php": Django's urls.W002 then
    # showed in every `liseuse check`, which could never come out clean.
    from django.core import checks as django_checks

    assert django_checks.run_checks(tags=[django_checks.Tags.urls]) == []
