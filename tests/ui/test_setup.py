from __future__ import annotations

import pytest
from django.test import Client

from liseuse.accounts.models import User

pytestmark = pytest.mark.django_db


def test_a_fresh_instance_sends_the_first_visit_to_setup(client: Client) -> None:
    assert client.get("/")["Location"] == "/setup/"
    assert client.get("/login/")["Location"] == "/setup/"
    page = client.get("/setup/")
    assert page.status_code == 200 and b"Create the first account" in page.content


def test_the_first_account_becomes_admin_and_setup_is_gone_for_good(client: Client) -> None:
    response = client.post(
        "/setup/",
        {"username": "alice", "password": "a fine password", "password_again": "a fine password"},
    )
    assert response.status_code == 302 and response["Location"] == "/"
    alice = User.objects.get()
    assert alice.is_superuser and alice.is_staff
    assert client.get("/").status_code == 200  # logged in: the main stream
    assert client.get("/setup/").status_code == 404
    assert Client().get("/")["Location"] == "/login/"
    Client().post("/setup/", {"username": "eve", "password": "x" * 12, "password_again": "x" * 12})
    assert User.objects.count() == 1


def test_setup_refuses_differing_or_weak_passwords(client: Client) -> None:
    differing = client.post(
        "/setup/",
        {"username": "alice", "password": "a fine password", "password_again": "another one!!"},
    )
    assert differing.status_code == 200 and b"The two passwords differ" in differing.content
    weak = client.post("/setup/", {"username": "alice", "password": "123", "password_again": "123"})
    assert b"too short" in weak.content
    assert not User.objects.exists()


def test_login_shows_the_main_stream_and_refuses_a_wrong_password(
    client: Client, alice: User
) -> None:
    wrong = client.post("/login/", {"username": "alice", "password": "nope"})
    assert wrong.status_code == 400 and b"Wrong username or password" in wrong.content
    right = client.post("/login/", {"username": "alice", "password": "correct horse battery"})
    assert right["Location"] == "/"
    page = client.get("/")
    assert b"Main stream" in page.content and b"Nothing to read here" in page.content
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get("/")["Location"] == "/login/"


def test_passwords_are_hashed_with_argon2() -> None:
    from django.contrib.auth.hashers import make_password
    from django.test import override_settings

    from liseuse import settings as real

    # The test settings swap in a fast hasher; the real ones must hash with Argon2.
    with override_settings(PASSWORD_HASHERS=real.PASSWORD_HASHERS):
        assert make_password("x").startswith("argon2$argon2id$")
