"""The settings page: reading preferences, the API password (with the apps' addresses), the login
password."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.test import Client

from liseuse.accounts.models import User

pytestmark = pytest.mark.django_db

PREFERENCES = {
    "language": "fr",
    "timezone": "Europe/Paris",
    "theme": "dark",
    "page_size": "30",
    "default_view": "reader",
    "default_state": "all",
    "oldest_first": "1",
    "mark_read_on_open": "",
    "mark_read_on_scroll": "on",
    "mark_updated_unread": "on",
    "keyboard_shortcuts": "",  # off
}


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_sessions_page_writes_dates_as_the_reading_pages_do(alice: User) -> None:
    alice.language = "fr"
    alice.save()
    client = Client()
    assert client.post("/login/", {"username": "alice", "password": "correct horse battery"})
    html = client.get("/manage/sessions/").content.decode()
    # When it was opened and when it ends: "15 janvier 2024 à 03:09", not Django's own format.
    assert len(re.findall(r"<td>\d{1,2} \w+ \d{4} à \d\d:\d\d</td>", html)) == 2, html


def test_the_page_shows_the_apps_addresses(alice: User) -> None:
    page = logged_in(alice).get("/manage/settings/")
    assert page.status_code == 200
    assert b"http://testserver/api/greader.php" in page.content
    assert b"http://testserver/api/fever.php" in page.content
    assert Client().get("/manage/settings/").status_code == 302


def test_preferences_are_saved_and_the_language_applies(alice: User) -> None:
    client = logged_in(alice)
    response = client.post("/manage/settings/preferences", PREFERENCES)
    assert response.status_code == 303 and response["Location"] == "/manage/settings/"
    alice.refresh_from_db()
    assert (alice.language, alice.timezone, alice.theme, alice.page_size) == (
        "fr",
        "Europe/Paris",
        "dark",
        30,
    )
    assert (alice.default_view, alice.default_state, alice.oldest_first) == ("reader", "all", True)
    assert not alice.mark_read_on_open and alice.mark_read_on_scroll and alice.mark_updated_unread
    assert not alice.keyboard_shortcuts
    assert response.cookies["django_language"].value == "fr"
    assert "Paramètres".encode() in client.get("/manage/settings/").content
    back = client.post("/manage/settings/preferences", {**PREFERENCES, "language": ""})
    assert back.cookies["django_language"]["max-age"] == 0


def test_bad_preferences_are_a_400_and_change_nothing(alice: User) -> None:
    for field, value in [("timezone", "Mars/Olympus"), ("page_size", "0"), ("theme", "neon")]:
        response = logged_in(alice).post(
            "/manage/settings/preferences", {**PREFERENCES, field: value}
        )
        assert response.status_code == 400 and b'class="error"' in response.content
    alice.refresh_from_db()
    assert alice.timezone == "UTC" and alice.theme == "auto"


def test_the_api_password_is_set_hashed_with_the_fever_key(alice: User) -> None:
    response = logged_in(alice).post(
        "/manage/settings/api-password",
        {"api_password": "pour les apps", "api_password_again": "pour les apps"},
    )
    assert response.status_code == 303
    alice.refresh_from_db()
    assert alice.check_api_password("pour les apps") and "pour les apps" not in alice.api_password
    assert alice.fever_api_key == hashlib.md5(b"alice:pour les apps").hexdigest()
    assert not alice.check_password("pour les apps")  # the login password is untouched


def test_a_short_or_mistyped_api_password_is_refused(alice: User) -> None:
    client = logged_in(alice)
    short = client.post(
        "/manage/settings/api-password", {"api_password": "court", "api_password_again": "court"}
    )
    assert short.status_code == 400 and b"8 characters" in short.content
    differ = client.post(
        "/manage/settings/api-password",
        {"api_password": "un mot de passe", "api_password_again": "un autre mot"},
    )
    assert differ.status_code == 400 and b"differ" in differ.content
    alice.refresh_from_db()
    assert alice.api_password == ""


def test_changing_the_login_password_keeps_the_session(alice: User) -> None:
    client = logged_in(alice)
    wrong = client.post(
        "/manage/settings/password",
        {"current": "not it", "new": "a new fine password", "new_again": "a new fine password"},
    )
    assert wrong.status_code == 400 and b"current password is wrong" in wrong.content
    response = client.post(
        "/manage/settings/password",
        {
            "current": "correct horse battery",
            "new": "a new fine password",
            "new_again": "a new fine password",
        },
    )
    assert response.status_code == 303
    alice.refresh_from_db()
    assert alice.check_password("a new fine password")
    assert client.get("/manage/settings/").status_code == 200


def test_each_person_changes_only_their_own_settings(alice: User, bob: User) -> None:
    logged_in(bob).post("/manage/settings/preferences", {**PREFERENCES, "theme": "light"})
    logged_in(bob).post(
        "/manage/settings/api-password",
        {"api_password": "celui de bob", "api_password_again": "celui de bob"},
    )
    alice.refresh_from_db()
    assert alice.theme == "auto" and alice.api_password == ""
