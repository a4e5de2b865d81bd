"""The apps' logins are throttled like the login page: guessing an API password is slowed down."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client
from django.test import override_settings

from liseuse.accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(alice: User) -> User:
    alice.set_api_password("api-secret-1")
    alice.save()
    return alice


@override_settings(LISEUSE_LOGIN_FAILURES_PER_ACCOUNT=3, LISEUSE_LOGIN_FAILURES_PER_ADDRESS=50)
def test_google_reader_clientlogin_is_throttled_per_account(client: Client, reader: User) -> None:
    for _ in range(3):
        wrong = client.post("/accounts/ClientLogin", {"Email": "alice", "Passwd": "guess"})
        assert wrong.status_code == 401
    blocked = client.post("/accounts/ClientLogin", {"Email": "alice", "Passwd": "api-secret-1"})
    assert blocked.status_code == 429  # even the right password waits
    other = client.post("/accounts/ClientLogin", {"Email": "bob", "Passwd": "guess"})
    assert other.status_code == 401  # another account is not blocked


@override_settings(LISEUSE_LOGIN_FAILURES_PER_ADDRESS=3)
def test_fever_keys_are_throttled_per_address(client: Client, reader: User) -> None:
    good = hashlib.md5(b"alice:api-secret-1").hexdigest()
    assert client.post("/api/fever.php?api", {"api_key": good}).json()["auth"] == 1
    for n in range(3):
        answer = client.post("/api/fever.php?api", {"api_key": f"{n:032x}"})
        assert answer.json()["auth"] == 0
    blocked = client.post("/api/fever.php?api", {"api_key": good})
    assert blocked.status_code == 429 and blocked.json()["auth"] == 0
    elsewhere = Client(REMOTE_ADDR="10.1.2.3")
    assert elsewhere.post("/api/fever.php?api", {"api_key": good}).json()["auth"] == 1
