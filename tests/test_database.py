"""The PostgreSQL connections kept between requests (liseuse/db/postgresql): one the server
ended is opened again before the request uses it, and a quiet one is trusted without a query."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.db import close_old_connections
from django.db import connection
from django.db import connections
from django.test import Client

from liseuse.accounts.models import User

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's connections"),
    pytest.mark.django_db(transaction=True),
]


def _backend() -> int:
    assert connection.connection is not None
    return int(connection.connection.info.backend_pid)


def _next_request() -> None:
    """What the web server does between two requests (the test client leaves it out)."""
    close_old_connections()


def test_a_connection_the_server_ended_is_opened_again(client: Client, alice: User) -> None:
    client.force_login(alice)
    assert client.get("/").status_code == 200
    ended = _backend()
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [ended])
            deadline = time.monotonic() + 5
            while True:  # the backend leaves a moment after it is told to
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [ended])
                if cursor.fetchone() == (0,) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
    finally:
        other.close()
    _next_request()
    assert client.get("/").status_code == 200  # not a 500
    assert _backend() != ended


def test_a_quiet_connection_costs_no_query_to_check(client: Client, alice: User) -> None:
    client.force_login(alice)
    assert client.get("/").status_code == 200
    kept = _backend()
    with mock.patch.object(
        type(connections["default"]), "is_usable", side_effect=AssertionError("asked")
    ):
        for _ in range(3):
            _next_request()
            assert client.get("/").status_code == 200
    assert _backend() == kept
