"""A full sync by the `google-reader` PyPI client (0.0.3) against a live liseuse.

The package declares Python >= 3.12 but is plain 3.10+ code; it is installed with
`pip install --ignore-requires-python google-reader` and runs unchanged on 3.11.
"""

from __future__ import annotations

import google_reader
import pytest
from pytest_django.live_server_helper import LiveServer

from liseuse.accounts.models import User
from liseuse.feeds.models import Category
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Subscription
from tests.greader.conftest import API_PASSWORD
from tests.greader.conftest import add_entry
from tests.greader.conftest import subscribe
from tests.greader.conftest import with_api_password

pytestmark = pytest.mark.django_db(transaction=True)

READ = google_reader.STREAM_READ
STARRED = google_reader.STREAM_STARRED


def flags(user: User, title: str) -> tuple[bool, bool]:
    row = EntryState.objects.get(user=user, entry__title=title)
    return row.is_read, row.is_starred


def test_google_reader_client_syncs_both_ways(live_server: LiveServer) -> None:
    alice = with_api_password(User.objects.create_user("alice", password="login password"))
    news = subscribe(alice, "https://news.example/feed", title="News", category="Tech")
    for n in range(1, 4):
        add_entry(news.feed, f"news {n}", minutes=n)
    EntryState.objects.filter(user=alice, entry__title="news 1").update(is_read=True)

    client = google_reader.Client(live_server.url)
    with pytest.raises(google_reader.AuthenticationError):
        client.login("alice", "login password")
    auth = client.login("alice", API_PASSWORD)
    token = client.get_token(auth)
    assert client.get_user_info(auth).user_name == "alice"

    (sub,) = client.list_subscriptions(auth)
    assert (sub.id, sub.title, sub.url) == (f"feed/{news.feed_id}", "News", news.feed.url)
    assert [tag.label for tag in sub.categories] == ["Tech"]
    assert [tag.id for tag in client.list_tags(auth)] == [STARRED, "user/-/label/Tech"]

    unread = client.get_stream_items_ids(
        auth, google_reader.STREAM_READING_LIST, exclude_target=READ
    )
    assert len(unread.item_refs) == 2 and not unread.continuation
    contents = client.get_stream_items_contents(auth, token, [ref.id for ref in unread.item_refs])
    assert [item.title for item in contents.items] == ["news 3", "news 2"]
    assert all(item.origin.stream_id == sub.id for item in contents.items)
    newest = contents.items[0].id  # the long form, as the client keeps it

    client.edit_tags(auth, token, [newest], add_tags=[READ, STARRED])
    assert flags(alice, "news 3") == (True, True)
    client.edit_tags(auth, token, [newest], remove_tags=[READ, STARRED])
    assert flags(alice, "news 3") == (False, False)
    starred_ids = client.get_stream_items_ids(auth, STARRED)
    assert starred_ids.item_refs == []

    client.mark_all_as_read(auth, token, sub.id)
    assert not EntryState.objects.filter(user=alice, is_read=False).exists()
    read_ids = client.get_stream_items_ids(auth, sub.id, include_target=READ)
    assert len(read_ids.item_refs) == 3

    assert client.quick_add_subscription(auth, token, news.feed.url).stream_id == sub.id
    client.edit_subscription(auth, token, sub.id, "edit", title="Nouvelles")
    client.rename_tag(auth, token, "user/-/label/Tech", "Techno")
    assert Subscription.objects.get(pk=news.pk).title == "Nouvelles"
    assert Category.objects.get(user=alice).name == "Techno"
    client.delete_tag(auth, token, "user/-/label/Techno")
    assert not Category.objects.filter(user=alice).exists()
    client.edit_subscription(auth, token, sub.id, "unsubscribe")
    assert client.list_subscriptions(auth) == []
