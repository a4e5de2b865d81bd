"""Who may call: the api_key, Fever's envelope, and what a failed check answers."""

from __future__ import annotations

import pytest
from django.test import Client

from liseuse.accounts.models import User
from tests.fever.conftest import URL
from tests.fever.conftest import Caller
from tests.fever.conftest import fever_key
from tests.fever.conftest import make_feed

pytestmark = pytest.mark.django_db


def test_the_right_key_answers_auth_1_with_the_envelope(reader: User, fever: Caller) -> None:
    make_feed("a", reader)
    assert fever(reader) == {"api_version": 3, "auth": 1, "last_refreshed_on_time": 1705363200}


def test_a_wrong_key_answers_auth_0_with_status_200_and_nothing_else(
    reader: User, fever: Caller
) -> None:
    make_feed("a", reader)
    wrong = fever_key("alice", "not the api password")
    assert fever(wrong, "items&unread_item_ids") == {"api_version": 3, "auth": 0}
    assert fever("", "items") == {"api_version": 3, "auth": 0}
    assert fever("zz" * 16, "items") == {"api_version": 3, "auth": 0}


def test_without_an_api_password_nobody_gets_in(alice: User, fever: Caller) -> None:
    # The login password is never the API password, and no API password means no key at all.
    assert fever(fever_key("alice", "correct horse battery"))["auth"] == 0
    assert fever(fever_key("alice", ""))["auth"] == 0


def test_a_disabled_person_is_refused(reader: User, fever: Caller) -> None:
    reader.is_active = False
    reader.save()
    assert fever(reader)["auth"] == 0


def test_changing_the_api_password_retires_the_old_key(reader: User, fever: Caller) -> None:
    old = fever_key("alice")
    reader.set_api_password("a new one")
    reader.save()
    assert fever(old)["auth"] == 0
    assert fever(fever_key("alice", "a new one"))["auth"] == 1


def test_the_key_is_read_from_the_body_only_and_in_any_case(
    reader: User, client: Client, fever: Caller
) -> None:
    key = fever_key("alice")
    answer = client.get(f"{URL}?api&api_key={key}").json()
    assert answer == {"api_version": 3, "auth": 0}
    assert fever(key.upper())["auth"] == 1


def test_a_trailing_slash_is_served_the_same_without_a_redirect(
    reader: User, client: Client
) -> None:
    response = client.post(f"{URL}/?api", {"api_key": fever_key("alice")})
    assert response.status_code == 200 and response.json()["auth"] == 1


def test_no_csrf_token_is_needed(reader: User) -> None:
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(f"{URL}?api&items", {"api_key": fever_key("alice")})
    assert response.status_code == 200 and response.json()["auth"] == 1


def test_other_methods_are_refused(reader: User, client: Client) -> None:
    assert client.put(f"{URL}?api").status_code == 405


def test_last_refreshed_is_0_before_any_feed_was_fetched(reader: User, fever: Caller) -> None:
    assert fever(reader)["last_refreshed_on_time"] == 0
