"""`liseuse check --deploy` on people and trust: the secret key, open registration, proxies."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from django.core.checks import CheckMessage
from django.test import override_settings

from liseuse.accounts import checks

GOOD_KEY = "k3y-" + "".join(chr(65 + i % 26) + str(i % 10) for i in range(30))


def ids(problems: Sequence[CheckMessage]) -> set[str]:
    return {str(problem.id) for problem in problems}


def test_a_kept_private_strong_key_is_fine(tmp_path: Path) -> None:
    key = tmp_path / "secret_key"
    key.write_text(GOOD_KEY)
    key.chmod(0o600)
    assert (
        checks.secret_key_problems(secret_key=GOOD_KEY, from_environment=False, key_file=key) == []
    )


def test_a_key_not_kept_readable_by_others_or_weak_is_reported(tmp_path: Path) -> None:
    key = tmp_path / "secret_key"
    assert ids(
        checks.secret_key_problems(secret_key=GOOD_KEY, from_environment=False, key_file=key)
    ) == {"liseuse.W011"}
    key.write_text(GOOD_KEY)
    key.chmod(0o644)
    assert ids(
        checks.secret_key_problems(secret_key=GOOD_KEY, from_environment=False, key_file=key)
    ) == {"liseuse.W012"}
    assert ids(
        checks.secret_key_problems(secret_key="changeme", from_environment=True, key_file=key)
    ) == {"liseuse.W010"}


def test_open_registration_and_https_without_the_proxy_setting_are_reported() -> None:
    with override_settings(
        LISEUSE_OPEN_REGISTRATION=True, SESSION_COOKIE_SECURE=True, LISEUSE_BEHIND_PROXY=False
    ):
        found = ids(checks.check_people_and_trust(None))
    assert {"liseuse.W013", "liseuse.W014"} <= found
    with override_settings(
        LISEUSE_OPEN_REGISTRATION=False, SESSION_COOKIE_SECURE=True, LISEUSE_BEHIND_PROXY=True
    ):
        found = ids(checks.check_people_and_trust(None))
    assert not {"liseuse.W013", "liseuse.W014"} & found


def test_the_settings_keep_the_generated_key_private() -> None:
    from django.conf import settings

    key = Path(settings.DATA_DIR) / "secret_key"
    assert key.exists() and key.stat().st_mode & 0o077 == 0
