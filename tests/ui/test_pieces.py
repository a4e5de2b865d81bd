"""The parts of the reading pages written by Python (liseuse.ui.pieces) rather than templates:
plain text stays escaped everywhere, stored HTML is shown as it is, and the counts agree with
the read side."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from django.test import Client

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds.models import Category
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Label
from liseuse.feeds.models import Subscription
from tests.ui.reading_data import add_entry
from tests.ui.reading_data import followed_feed

pytestmark = pytest.mark.django_db

WHEN = datetime(2024, 1, 15, 2, 9, tzinfo=UTC)
NASTY = "<b>bold</b> & \"quoted\" 'single'"
ESCAPED = "&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; &#x27;single&#x27;"


def test_plain_text_is_escaped_in_the_sidebar_the_entries_and_the_global_view(
    client: Client, alice: User
) -> None:
    feed = followed_feed(alice, title=NASTY, category=NASTY)
    feed.last_error = NASTY
    feed.save()
    other = followed_feed(alice, "https://other.example/feed", title="Other")
    Subscription.objects.filter(feed=other).update(title=NASTY)
    entry = add_entry(feed, NASTY, WHEN, author=NASTY, content="<p>Kept <em>as is</em></p>")
    Entry.objects.filter(pk=entry.pk).update(url='https://news.example/?a=1&b="2"')
    Label.objects.create(user=alice, name=NASTY)
    client.force_login(alice)
    for address in ("/", "/?view=reader", "/?view=global", f"/f/{feed.id}/?panel=1"):
        html = client.get(address).content.decode()
        assert "<b>bold</b>" not in html, address
        assert ESCAPED in html, address
    html = client.get("/").content.decode()
    assert "<p>Kept <em>as is</em></p>" in html  # stored, sanitized HTML: shown as it is
    assert 'href="https://news.example/?a=1&amp;b=&quot;2&quot;"' in html
    assert f'title="{ESCAPED}"' in html  # the feed's error, on its warning sign
    assert f'<span class="name">{ESCAPED}</span>' in html  # the person's own title


def test_the_counts_leave_out_feeds_kept_out_of_the_main_stream(
    client: Client, alice: User
) -> None:
    shown = followed_feed(alice, "https://a.example/feed", title="Shown", category="Tech")
    kept_out = followed_feed(alice, "https://b.example/feed", title="Kept out", category="Tech")
    hidden = followed_feed(alice, "https://c.example/feed", title="Hidden", category="Tech")
    Subscription.objects.filter(feed=kept_out).update(visibility=Subscription.Visibility.CATEGORY)
    Subscription.objects.filter(feed=hidden).update(visibility=Subscription.Visibility.HIDDEN)
    for feed, count in ((shown, 3), (kept_out, 2), (hidden, 1)):
        for n in range(count):
            add_entry(feed, f"{feed.title} {n}", WHEN)
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert queries.unread_total(alice) == 3
    assert "<title>(3) Main stream · liseuse</title>" in html
    assert f'data-count-feed="{kept_out.id}">2<' in html
    assert f'data-count-feed="{hidden.id}">1<' in html
    # The category counts what it shows: its own feeds and the kept-out one, not the hidden one.
    category = Category.objects.get(user=alice, name="Tech")
    assert f'<a href="/c/{category.id}/">Tech</a> <span class="count" data-count-cat>5<' in html


def test_each_entry_shows_its_state_labels_and_links(client: Client, alice: User) -> None:
    feed = followed_feed(alice)
    read = add_entry(feed, "Read one", WHEN)
    starred = add_entry(feed, "Starred one", WHEN)
    later = Label.objects.create(user=alice, name="Later")
    EntryState.objects.filter(entry=read).update(is_read=True)
    state = EntryState.objects.get(entry=starred)
    state.is_starred = True
    state.save()
    state.labels.add(later)
    client.force_login(alice)
    html = client.get("/?state=all").content.decode()
    assert f'<article class="entry" id="e{read.id}"' in html
    assert f'<article class="entry unread starred" id="e{starred.id}"' in html
    assert f'action="/entries/{read.id}/read"' in html
    assert f'action="/entries/{starred.id}/labels"' in html
    assert f'value="{later.id}" checked> Later' in html
    # Without JavaScript an action comes back to the entry's title, inside its fold: browsers
    # open the fold the address points into, and the reader finds the entry as they left it.
    assert f'value="/?state=all#t{starred.id}"' in html
    assert html.count('name="csrfmiddlewaretoken"') >= 3 * 2


def _next_values(html: str, entry_id: int) -> dict[str, str]:
    """The `next` of each form of an entry, by what the form does."""
    article = html[html.index(f'id="e{entry_id}"') :]
    article = article[: article.index("</article>")]
    found = {}
    for kind, action in (("read", "read"), ("starred", "star"), ("labels", "labels")):
        start = article.index(f'/entries/{entry_id}/{action}"')
        found[kind] = re.search(r'name="next" value="([^"]*)"', article[start:])[1]  # type: ignore[index]
    return found


def test_an_action_that_takes_the_entry_out_of_the_list_comes_back_to_the_next_one(
    client: Client, alice: User
) -> None:
    # Without JavaScript the page reloads at the anchor: one for an entry no longer listed (read
    # in a list of unread ones) sent the reader back to the top of the page.
    feed = followed_feed(alice)
    first = add_entry(feed, "First", WHEN)
    second = add_entry(feed, "Second", WHEN - timedelta(hours=1))
    client.force_login(alice)

    html = client.get("/").content.decode()  # unread, newest first

    assert _next_values(html, first.id) == {
        "read": f"/#e{second.id}",  # marked read, it leaves the list: the next one
        "starred": f"/#t{first.id}",  # still listed: back to its title, open
        "labels": f"/#t{first.id}",
    }
    assert _next_values(html, second.id)["read"] == f"/#e{first.id}"  # the last: the one before


def test_unstarring_among_favourites_comes_back_to_the_next_one(
    client: Client, alice: User
) -> None:
    feed = followed_feed(alice)
    first = add_entry(feed, "First", WHEN)
    second = add_entry(feed, "Second", WHEN - timedelta(hours=1))
    EntryState.objects.update(is_starred=True, is_read=True)
    client.force_login(alice)

    html = client.get("/starred/").content.decode()

    assert _next_values(html, first.id)["starred"] == f"/starred/#e{second.id}"
    assert _next_values(html, first.id)["read"] == f"/starred/#t{first.id}"


def test_favourites_show_all_of_them_and_the_unread_ones_on_demand(
    client: Client, alice: User
) -> None:
    feed = followed_feed(alice)
    read = add_entry(feed, "Read favourite", WHEN)
    unread = add_entry(feed, "Unread favourite", WHEN - timedelta(hours=1))
    EntryState.objects.update(is_starred=True)
    EntryState.objects.filter(entry=read).update(is_read=True)
    client.force_login(alice)

    everything = client.get("/starred/").content.decode()
    only_unread = client.get("/starred/?state=unread").content.decode()

    assert f'id="e{read.id}"' in everything and f'id="e{unread.id}"' in everything
    assert '?state=all" aria-current="true"' in everything  # the switch says what is shown
    assert f'id="e{unread.id}"' in only_unread and f'id="e{read.id}"' not in only_unread


def test_reader_view_titles_come_right_under_the_page_heading(client: Client, alice: User) -> None:
    feed = followed_feed(alice)
    entry = add_entry(feed, "A title", WHEN)
    client.force_login(alice)

    html = client.get("/?view=reader").content.decode()

    assert f'<h2 class="title" id="t{entry.id}">' in html  # h1, then h2: no level skipped
