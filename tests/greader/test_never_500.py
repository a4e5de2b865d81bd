"""Whatever a client sends, the API answers with a status and a message, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from liseuse.accounts.models import User
from tests.greader.conftest import GReader
from tests.greader.conftest import add_entry
from tests.greader.conftest import subscribe

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "stream/contents/user/-/state/com.google/reading-list",
    "stream/contents",
    "stream/items/ids",
    "stream/items/contents",
    "edit-tag",
    "mark-all-as-read",
    "subscription/edit",
    "rename-tag",
    "disable-tag",
    "unread-count",
    "tag/list",
]
NAMES = ["s", "i", "a", "r", "n", "c", "ot", "nt", "xt", "it", "ts", "T", "t", "ac", "dest"]
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "user/-/label/",
            "user/-/state/com.google/read",
            "user/-/state/com.google/nothing",
            "feed/",
            "feed/99999999999999999999",
            "tag:google.com,2005:reader/item/ffffffffffffffff",
            "-9223372036854775809",
            "9" * 40,
            "0",
            "x" * 3000,
            "edit",
            "unsubscribe",
        ]
    ),
)


@pytest.fixture
def ready(gr: GReader, reader: User) -> GReader:
    sub = subscribe(reader, "https://fuzz.example/feed", category="Folder")
    add_entry(sub.feed, "one")
    return gr


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    post=st.booleans(),
    params=st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=5),
)
def test_random_parameters_never_make_a_500(
    ready: GReader, endpoint: str, post: bool, params: dict[str, str]
) -> None:
    path = f"reader/api/0/{endpoint}"
    response = ready.post(path, params) if post else ready.get(path, **params)
    assert response.status_code < 500, (endpoint, params, response.content[:300])
    if response.status_code >= 400:
        assert response.content.strip()


@pytest.mark.parametrize("key", ["²", "１２", "9" * 18, "9" * 19])
@pytest.mark.parametrize("endpoint", ["stream/contents", "stream/items/ids", "subscription/edit"])
def test_a_feed_number_that_is_no_number_is_a_4xx(ready: GReader, endpoint: str, key: str) -> None:
    # "²" is a digit to str.isdigit(), not to int(): feed/² was a 500.
    params = {"s": f"feed/{key}", "ac": "edit", "t": "renamed"}
    if endpoint == "subscription/edit":
        response = ready.post(f"reader/api/0/{endpoint}", params)
    else:
        response = ready.get(f"reader/api/0/{endpoint}", **params)

    assert 400 <= response.status_code < 500, response.content[:300]
    assert response.content.strip()
