"""Limits: request and upload sizes, page sizes of the pages and both APIs, and regex time."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.test import override_settings

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.opml import MAX_OPML_BYTES
from tests.fever.conftest import fever_key
from tests.fever.conftest import make_feed
from tests.fever.conftest import with_api_password as fever_password
from tests.greader.conftest import GReader
from tests.greader.conftest import with_api_password
from tests.security.conftest import logged_in

pytestmark = pytest.mark.django_db


@override_settings(LISEUSE_MAX_REQUEST_BYTES=1024 * 1024)
def test_a_body_over_the_limit_is_a_413_before_anything_reads_it(alice: User) -> None:
    client = logged_in(alice)
    big = SimpleUploadedFile("big.opml", b"<opml>" + b" " * (1024 * 1024) + b"</opml>")
    response = client.post("/manage/opml/import", {"file": big})
    assert response.status_code == 413 and b"too large" in response.content
    assert "default-src" in response["Content-Security-Policy"]
    login = Client().post("/api/greader.php/accounts/ClientLogin", {"Passwd": "x" * 1_100_000})
    assert login.status_code == 413
    # A lying Content-Length is refused just the same, and a malformed one is a 400.
    assert Client().post("/login/", {}, CONTENT_LENGTH="999999999").status_code == 413
    assert Client().post("/login/", {}, CONTENT_LENGTH="lots").status_code == 400


def test_an_opml_file_over_5_mb_is_refused_with_a_message(alice: User) -> None:
    client = logged_in(alice)
    body = b'<opml version="2.0"><body>' + b" " * MAX_OPML_BYTES + b"</body></opml>"
    response = client.post("/manage/opml/import", {"file": SimpleUploadedFile("x.opml", body)})
    assert response.status_code == 400 and b"MB" in response.content


def test_too_many_form_fields_is_a_400_not_a_500(alice: User) -> None:
    fields = {f"f{i}": "x" for i in range(1500)}
    response = logged_in(alice).post("/manage/settings/preferences", fields)
    assert response.status_code == 400


def test_page_sizes_are_bounded_in_the_pages(alice: User) -> None:
    client = logged_in(alice)
    settings = {
        "language": "",
        "timezone": "UTC",
        "theme": "auto",
        "page_size": "100000",
        "default_view": "normal",
        "default_state": "unread",
    }
    response = client.post("/manage/settings/preferences", settings)
    assert response.status_code == 400
    alice.refresh_from_db()
    assert alice.page_size <= 500


def test_page_sizes_are_bounded_in_both_apis(
    alice: User, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_feed("many", alice, entries=60)
    monkeypatch.setattr(queries, "MAX_PAGE", 20)
    with_api_password(alice)
    gr = GReader(Client())
    assert gr.login("alice").status_code == 200
    path = "reader/api/0/stream/contents/user/-/state/com.google/reading-list"
    page = gr.json(path, n=10**9)
    assert len(page["items"]) == 20 and page["continuation"]
    fever_password(alice)
    monkeypatch.setattr(queries, "MAX_PAGE", 1000)
    answer = client.post("/api/fever.php?api&items&since_id=0", {"api_key": fever_key("alice")})
    assert len(answer.json()["items"]) == 50
    # Fever's item ids: the person's state ids.
    ids = ",".join(str(pk) for pk in EntryState.objects.values_list("pk", flat=True))
    named = client.post(f"/api/fever.php?api&items&with_ids={ids}", {"api_key": fever_key("alice")})
    assert named.status_code in (200, 400) and len(named.json().get("items", [])) <= 50


def test_a_catastrophic_regex_runs_in_linear_time(alice: User) -> None:
    feed = make_feed("slow", alice, entries=1)
    Entry.objects.filter(feed=feed).update(title="a" * 30 + "!", content="a" * 100_000 + "!")
    client = logged_in(alice)
    start = time.perf_counter()
    response = client.get("/search/", {"q": "/(a+)+$/", "state": "all"})
    quick = client.get("/search/", {"q": "intitle:/(a|aa)+$/", "state": "all"})
    elapsed = time.perf_counter() - start
    assert response.status_code == 200 and quick.status_code == 200
    # A backtracking engine would need 2**30 steps on the title alone.
    assert elapsed < 5, elapsed
    # The same engine still finds what does match.
    found = client.get("/search/", {"q": "/(a+)+!$/", "state": "all"}).content
    assert b"a" * 30 + b"!" in found and b"a" * 30 + b"!" not in response.content


def test_a_regex_that_is_too_long_or_broken_is_a_400_with_a_message(alice: User) -> None:
    client = logged_in(alice)
    long = client.get("/search/", {"q": "/" + "a" * 400 + "/", "state": "all"})
    broken = client.get("/search/", {"q": "/(a/", "state": "all"})
    for response in (long, broken):
        assert response.status_code == 400 and b"error" in response.content
