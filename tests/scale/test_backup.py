"""`liseuse export` / `liseuse import`: a person's whole data, moved or restored."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
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
    assert counts == {"subscriptions": 2, "labels": 1, "entries": 3}
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
    # Again: nothing doubles.
    backup.import_user(bob, document)
    assert _states(bob) == _states(alice)
    assert Subscription.objects.filter(user=bob).count() == 2
    assert Feed.objects.count() == 2 and Entry.objects.count() == 6


@pytest.mark.django_db
def test_a_move_to_an_empty_instance_keeps_starred_content_and_read_marks(alice: User) -> None:
    _alices_data(alice)
    document = json.loads(json.dumps(backup.export_user(alice)))
    # The new instance: none of the feeds, entries or people of the old one.
    Feed.objects.all().delete()
    alice.delete()
    carol = User.objects.create_user("carol", password="correct horse battery")

    backup.import_user(carol, document)
    starred = EntryState.objects.get(user=carol, is_starred=True).entry
    assert (starred.identity, starred.content) == ("1-1", "<p>Contenu 1-1</p>")
    read = EntryState.objects.get(user=carol, is_read=True).entry
    # Bare until the feed's next fetch fills it in (an empty hash counts as changed).
    assert (read.identity, read.content, read.content_hash) == ("0-0", "", "")
    assert EntryState.objects.get(user=carol, labels__name="à relire").entry.identity == "1-2"


@pytest.mark.django_db
def test_the_commands_write_and_read_the_file(
    alice: User, bob: User, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _alices_data(alice)
    cli.main(["export", "--user", "alice"])
    path = tmp_path / "alice.json"
    path.write_text(capsys.readouterr().out, encoding="utf-8")
    cli.main(["import", str(path), "--user", "bob"])
    assert "2 subscription(s), 1 label(s), 3 entry state(s)" in capsys.readouterr().out
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
