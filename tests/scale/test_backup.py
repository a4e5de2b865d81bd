"""`liseuse export` / `liseuse import`: a person's whole data, moved or restored."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from liseuse import cli
from liseuse.accounts.models import User
from liseuse.feeds import backup
from liseuse.feeds.models import Category
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Label
from liseuse.feeds.models import RetentionRule
from liseuse.feeds.models import SavedQuery
from liseuse.feeds.models import Subscription
from liseuse.feeds.subscribe import follow
from liseuse.feeds.worker import refresh_once
from tests.httpserver import LocalServer
from tests.httpserver import Reply


def _alices_data(alice: User) -> None:
    alice.theme = "dark"
    alice.page_size = 20
    alice.save()
    follow(alice, "http://a.example/feed", category="Presse")
    follow(alice, "http://b.example/feed")
    Subscription.objects.filter(feed__url="http://b.example/feed").update(
        title="Mon B", visibility="hidden"
    )
    SavedQuery.objects.create(user=alice, name="Vélo", query="vélo is:unread")
    RetentionRule.objects.create(
        user=alice, category=Category.objects.get(user=alice, name="Presse"), keep_days=30
    )
    now = timezone.now()
    for n, feed in enumerate(Feed.objects.order_by("url")):
        for i in range(3):
            entry = Entry.objects.create(
                feed=feed,
                identity=f"{n}-{i}",
                content_hash=f"h{n}{i}",
                title=f"Titre {n}-{i}",
                content=f"<p>Contenu {n}-{i}</p>",
                published=now - timedelta(hours=i),
            )
            EntryState.objects.create(user=alice, entry=entry, feed=feed, sort_date=entry.published)
    EntryState.objects.filter(entry__identity="0-0").update(is_read=True, read_at=now)
    EntryState.objects.filter(entry__identity="1-1").update(is_starred=True, starred_at=now)
    label = Label.objects.create(user=alice, name="à relire")
    EntryState.objects.get(entry__identity="1-2").labels.add(label)


def _states(user: User) -> set[tuple[str, bool, bool, tuple[str, ...]]]:
    return {
        (
            state.entry.identity,
            state.is_read,
            state.is_starred,
            tuple(label.name for label in state.labels.all()),
        )
        for state in EntryState.objects.filter(user=user).select_related("entry")
    }


@pytest.mark.django_db
def test_an_export_imported_for_another_person_gives_the_same_reading_state(
    alice: User, bob: User
) -> None:
    _alices_data(alice)
    document = json.loads(json.dumps(backup.export_user(alice)))
    assert document["format"] == "liseuse-backup" and "<opml" in document["opml"]
    assert len(document["entries"]) == 3, "only read, starred or labelled entries"

    counts = backup.import_user(bob, document)
    assert counts == {
        **{"subscriptions": 2, "labels": 1, "entries": 3},
        **{"new_subscriptions": 2, "new_labels": 1, "changed_states": 3},
    }
    assert _states(bob) == _states(alice)
    bob.refresh_from_db()
    assert (bob.theme, bob.page_size) == ("dark", 20)
    hidden = Subscription.objects.get(user=bob, feed__url="http://b.example/feed")
    assert (hidden.title, hidden.visibility) == ("Mon B", "hidden")
    assert Subscription.objects.get(user=bob, feed__url="http://a.example/feed").category == (
        Category.objects.get(user=bob, name="Presse")
    )
    assert SavedQuery.objects.get(user=bob).query == "vélo is:unread"
    rule = RetentionRule.objects.get(user=bob)
    assert (rule.category and rule.category.name, rule.keep_days) == ("Presse", 30)
    # Again: nothing doubles, and nothing is counted as new.
    again = backup.import_user(bob, document)
    assert again == {**counts, "new_subscriptions": 0, "new_labels": 0, "changed_states": 0}
    assert _states(bob) == _states(alice)
    assert Subscription.objects.filter(user=bob).count() == 2
    assert Feed.objects.count() == 2 and Entry.objects.count() == 6


def _moved_to_an_empty_instance(alice: User) -> User:
    """Alice's export imported for carol on a new instance: none of the feeds, entries or
    people of the old one."""
    document = json.loads(json.dumps(backup.export_user(alice)))
    Feed.objects.all().delete()
    alice.delete()
    carol = User.objects.create_user("carol", password="correct horse battery")
    backup.import_user(carol, document)
    return carol


@pytest.mark.django_db
def test_a_move_to_an_empty_instance_keeps_starred_content_and_read_marks(alice: User) -> None:
    _alices_data(alice)
    carol = _moved_to_an_empty_instance(alice)
    starred = EntryState.objects.get(user=carol, is_starred=True).entry
    assert (starred.identity, starred.content) == ("1-1", "<p>Contenu 1-1</p>")
    read = EntryState.objects.get(user=carol, is_read=True).entry
    # Bare until the feed's next fetch fills it in (an empty hash counts as changed).
    assert (read.identity, read.content, read.content_hash) == ("0-0", "", "")
    assert EntryState.objects.get(user=carol, labels__name="à relire").entry.identity == "1-2"


@pytest.mark.django_db
def test_a_move_keeps_words_in_brackets_in_titles_and_authors(alice: User) -> None:
    # Titles are plain text since the parser keeps "std::vector<int>"; the import still cut
    # what looked like a tag out of them.
    _alices_data(alice)
    Entry.objects.filter(identity="1-1").update(title="std::vector<int>", author="<Jane>")
    Subscription.objects.filter(user=alice, title="Mon B").update(title="B <beta>")
    carol = _moved_to_an_empty_instance(alice)
    starred = EntryState.objects.get(user=carol, is_starred=True).entry
    assert (starred.title, starred.author) == ("std::vector<int>", "<Jane>")
    assert Subscription.objects.filter(user=carol, title="B <beta>").exists()


@pytest.mark.django_db
def test_the_commands_write_and_read_the_file(
    alice: User, bob: User, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _alices_data(alice)
    cli.main(["export", "--user", "alice"])
    path = tmp_path / "alice.json"
    path.write_text(capsys.readouterr().out, encoding="utf-8")
    cli.main(["import", str(path), "--user", "bob"])
    imported = capsys.readouterr().out
    assert "2 subscription(s) (2 new), 1 label(s) (1 new), 3 entry state(s) (3 changed)" in imported
    assert _states(bob) == _states(alice)

    path.write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(SystemExit) as failed:
        cli.main(["import", str(path), "--user", "bob"])
    assert failed.value.code == 1
    assert "not a liseuse export" in capsys.readouterr().err
    path.write_text('{"format": "liseuse-backup", "version": 1, "entries": [{}]}')
    with pytest.raises(SystemExit):
        cli.main(["import", str(path), "--user", "bob"])
    assert "malformed" in capsys.readouterr().err


def _document(**parts: object) -> dict[str, object]:
    return {"format": "liseuse-backup", "version": 1, **parts}


def _nothing_imported_for(user: User) -> bool:
    return not (
        Subscription.objects.filter(user=user).exists()
        or Category.objects.filter(user=user).exists()
        or EntryState.objects.filter(user=user).exists()
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("javascript:alert(1)", "only http and https URLs are followed"),
        ("http://", "names no host"),
        (None, "is not a URL"),
    ],
)
def test_a_feed_url_that_cannot_be_followed_refuses_the_whole_file(
    bob: User, url: object, reason: str
) -> None:
    document = _document(
        categories=[{"name": "Presse", "position": 0}],
        subscriptions=[
            {"url": "http://a.example/feed", "category": "Presse"},
            {"url": url},
        ],
    )
    with pytest.raises(backup.BackupError, match=rf"^subscriptions\[1\]\.url: .*{reason}"):
        backup.import_user(bob, document)
    assert _nothing_imported_for(bob) and not Feed.objects.exists()


@pytest.mark.django_db
def test_feed_urls_are_normalized_as_feed_add_does(alice: User, bob: User) -> None:
    follow(alice, "http://a.example/feed")
    document = _document(
        subscriptions=[{"url": "HTTP://A.example/feed#frag"}],
        entries=[
            {
                "feed": "http://A.EXAMPLE/feed",
                "identity": "x",
                "url": "javascript:alert(1)",
                "title": "<b>Titre</b>",
                "content": '<p onclick="steal()">Texte</p><script>steal()</script>',
                "enclosures": [
                    {"url": "javascript:alert(1)", "type": "audio/mpeg"},
                    {"url": "https://a.example/e.mp3", "type": "audio/mpeg", "length": 3},
                ],
                "is_starred": True,
                "published": "2024-05-01T10:00:00+00:00",
            }
        ],
    )
    backup.import_user(bob, document)
    assert list(Feed.objects.values_list("url", flat=True)) == ["http://a.example/feed"]
    entry = Entry.objects.get()
    # Entries are shared: what bob's file says of one, alice may read. A title is plain text
    # (shown escaped everywhere), as a feed's is: its words in brackets are kept as words.
    assert entry.url == "" and entry.title == "<b>Titre</b>"
    assert "script" not in entry.content and "onclick" not in entry.content
    assert entry.enclosures == [
        {"url": "https://a.example/e.mp3", "type": "audio/mpeg", "length": 3}
    ]
    assert 'xmlUrl="http://a.example/feed"' in backup.export_user(bob)["opml"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("parts", "message"),
    [
        (
            {"subscriptions": [{"url": "http://a.example/f", "refresh_floor_minutes": "abc"}]},
            "subscriptions[0].refresh_floor_minutes: 'abc' is not a whole number",
        ),
        (
            {"categories": [{"name": "Presse", "position": "abc"}]},
            "categories[0].position: 'abc' is not a whole number",
        ),
        (
            {"saved_queries": [{"name": "Vélo", "query": "vélo", "position": "zz"}]},
            "saved_queries[0].position: 'zz' is not a whole number",
        ),
        (
            {
                "entries": [
                    {
                        "feed": "http://a.example/f",
                        "identity": "x",
                        "published": "2024-13-45T99:00:00",
                    }
                ]
            },
            "entries[0].published: '2024-13-45T99:00:00' is not a date and time",
        ),
        (
            {"retention": [{"category": None, "keep_max": True}]},
            "retention[0].keep_max: True is not a whole number",
        ),
        (
            {"retention": [{"category": None, "keep_days": 99999999999}]},
            "retention[0].keep_days: 99999999999 is not between 0 and 2147483647",
        ),
        (
            {"settings": {"timezone": "Mars/Olympus"}},
            "settings.timezone: 'Mars/Olympus' is not a time zone",
        ),
        ({"settings": {"theme": "neon", "page_size": -5}}, "theme: "),
        ({"settings": {"theme": "neon", "page_size": -5}}, "page_size: "),
    ],
)
def test_a_malformed_value_is_named_and_nothing_is_imported(
    bob: User, parts: dict[str, object], message: str
) -> None:
    document = _document(**{"categories": [{"name": "Avant", "position": 0}], **parts})
    with pytest.raises(backup.BackupError) as refused:
        backup.import_user(bob, document)
    assert message in str(refused.value)
    bob.refresh_from_db()
    assert _nothing_imported_for(bob) and not SavedQuery.objects.exists()
    assert not RetentionRule.objects.exists() and bob.timezone == "UTC"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "parts",
    [
        {"labels": ["Presse"]},
        {"subscriptions": [{"url": "http://a.example/feed", "category": "Later"}]},
        {"categories": [{"name": "Later", "position": 0}]},
        {"retention": [{"category": "Later", "keep_days": 3}]},
        {"labels": ["Presse "]},  # names are kept without their blanks, as everywhere
        {"subscriptions": [{"url": "http://a.example/feed", "category": " Later "}]},
    ],
    ids=[
        "label",
        "subscription-category",
        "category",
        "retention-category",
        "label-with-blanks",
        "category-with-blanks",
    ],
)
def test_a_label_and_a_category_of_one_name_refuse_the_whole_file(
    bob: User, parts: dict[str, object]
) -> None:
    # Google Reader apps know both as user/-/label/<name>, and then reach only the category.
    Category.objects.create(user=bob, name="Presse")
    Label.objects.create(user=bob, name="Later")
    with pytest.raises(backup.BackupError, match="already one of your"):
        backup.import_user(bob, _document(**parts))
    assert list(Category.objects.filter(user=bob).values_list("name", flat=True)) == ["Presse"]
    assert list(Label.objects.filter(user=bob).values_list("name", flat=True)) == ["Later"]
    assert not Subscription.objects.filter(user=bob).exists()


@pytest.mark.django_db(transaction=True)
def test_an_import_puts_nothing_before_the_others_who_follow_a_feed(alice: User, bob: User) -> None:
    """A backup names entries by identity: one made up, for a feed others follow, must neither
    reach them (nor those who follow it later), nor hold back the article that the feed
    publishes under that identity one day."""
    page = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        "<link>http://127.0.0.1:1/</link>{items}</channel></rss>"
    )
    item = "<item><guid>{g}</guid><title>{t}</title><description>d</description></item>"
    one = page.format(items=item.format(g="a", t="Un")).encode()
    two = page.format(items=item.format(g="b", t="Deux") + item.format(g="a", t="Un")).encode()
    with (
        override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True),
        LocalServer({"/feed": Reply(body=one), "/peek": Reply(body=two)}) as server,
    ):
        follow(bob, server.url("/feed"))
        peek = follow(alice, server.url("/peek"))  # to learn the identity "b" will have
        refresh_once(all_feeds=True)
        coming = Entry.objects.get(feed_id=peek.feed_id, guid="b").identity
        data = backup.export_user(alice)
        data["entries"] = [
            {
                "feed": server.url("/feed"),
                "identity": coming,
                "title": "PHISH: reset your password",
                "content": "<p>here</p>",
                "published": timezone.now().isoformat(),
            }
        ]
        backup.import_user(alice, data)
        carol = User.objects.create_user("carol", password="correct horse battery")
        follow(carol, server.url("/feed"))
        assert list(
            EntryState.objects.filter(user=carol).values_list("entry__title", flat=True)
        ) == ["Un"]
        assert not EntryState.objects.filter(user=bob, entry__identity=coming).exists()
        # The feed publishes it: everyone who follows it gets it, as the feed wrote it.
        server.routes["/feed"] = Reply(body=two)
        Feed.objects.update(next_fetch_at=timezone.now())
        refresh_once(all_feeds=False)
    entry = Entry.objects.get(feed__url=server.url("/feed"), identity=coming)
    assert (entry.title, entry.fetched) == ("Deux", True)
    for person in (alice, bob, carol):
        assert EntryState.objects.filter(user=person, entry=entry).count() == 1
