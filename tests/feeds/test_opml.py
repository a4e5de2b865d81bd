from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django.utils import translation

from liseuse.accounts.models import User
from liseuse.feeds import opml
from liseuse.feeds.models import Category
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Label
from liseuse.feeds.models import Subscription
from liseuse.feeds.subscribe import SubscribeError
from liseuse.feeds.subscribe import follow

DATA = Path(__file__).parent.parent / "data" / "opml"


def _followed(user: User) -> set[tuple[str, str, str]]:
    return {
        (s.feed.url, s.display_title, s.category.name if s.category else "")
        for s in Subscription.objects.filter(user=user).select_related("feed", "category")
    }


def test_it_imports_a_freshrss_export_whole(alice: User) -> None:
    report = opml.import_opml(alice, (DATA / "freshrss-export.opml").read_bytes())
    assert (report.added, report.skipped, report.categories_created) == (5, 0, 3)
    assert ("https://framablog.org/feed/", "Framablog", "Sans catégorie") in _followed(alice)
    assert (
        "https://www.fsf.org/static/fsforg/rss/news.xml",
        "The FSF & friends",
        "Logiciel libre",
    ) in _followed(alice)
    assert Feed.objects.get(url="https://framablog.org/feed/").site_url == "https://framablog.org/"


def test_it_imports_a_miniflux_export_whole(alice: User) -> None:
    report = opml.import_opml(alice, (DATA / "miniflux-export.opml").read_bytes())
    assert report.added == 3
    assert ("https://go.dev/blog/feed.atom", "The Go Blog", "Go") in _followed(alice)


@pytest.mark.parametrize("name", ["freshrss-export.opml", "miniflux-export.opml", "nested.opml"])
def test_export_of_import_keeps_every_url_title_and_category(
    alice: User, bob: User, name: str
) -> None:
    opml.import_opml(alice, (DATA / name).read_bytes())
    exported = opml.export_opml(alice)
    opml.import_opml(bob, exported.encode())
    assert _followed(bob) == _followed(alice)
    assert len(_followed(bob)) >= 3


def test_a_category_without_feeds_goes_out_and_comes_back(alice: User, bob: User) -> None:
    Category.objects.create(user=alice, name="À lire plus tard", position=0)
    opml.import_opml(alice, (DATA / "freshrss-export.opml").read_bytes())
    exported = opml.export_opml(alice)
    assert '<outline text="À lire plus tard" title="À lire plus tard"/>' in exported
    report = opml.import_opml(bob, exported.encode())
    mine = set(Category.objects.filter(user=alice).values_list("name", flat=True))
    assert set(Category.objects.filter(user=bob).values_list("name", flat=True)) == mine
    assert report.categories_created == len(mine) and "À lire plus tard" in mine
    # Imported again: nothing new, and a folder of folders is no category of its own.
    nested = (
        b'<opml version="2.0"><body><outline text="Top"><outline text="Empty"/>'
        b'<outline text="Inner"><outline text="f" xmlUrl="https://f.example/feed"/></outline>'
        b"</outline></body></opml>"
    )
    assert opml.import_opml(bob, exported.encode()).categories_created == 0
    opml.import_opml(bob, nested)
    assert {"Empty", "Inner"} <= set(
        Category.objects.filter(user=bob).values_list("name", flat=True)
    )
    assert not Category.objects.filter(user=bob, name="Top").exists()


def test_only_empty_folders_become_categories(alice: User, bob: User) -> None:
    # Links, includes, notes with a type and feeds without their xmlUrl are no folders.
    others = (
        b'<opml version="2.0"><body><outline text="f" xmlUrl="https://f.example/feed"/>'
        b'<outline text="A page" type="link" url="https://example.org/"/>'
        b'<outline text="More" type="include" url="https://example.org/more.opml"/>'
        b'<outline text="A note" type="text"/>'
        b'<outline text="Podcast" type="rss" xmlUrl=""/>'
        b'<outline text="Site" htmlUrl="https://example.org/"/></body></opml>'
    )
    assert opml.import_opml(alice, others).categories_created == 0
    assert not Category.objects.filter(user=alice).exists()
    # An export of categories without any feed comes back whole.
    Category.objects.create(user=bob, name="Vide")
    assert opml.import_opml(alice, opml.export_opml(bob).encode()).categories_created == 1


def test_it_skips_feeds_already_followed_and_shares_the_feed_row(alice: User, bob: User) -> None:
    data = (DATA / "freshrss-export.opml").read_bytes()
    opml.import_opml(alice, data)
    again = opml.import_opml(alice, data)
    assert (again.added, again.skipped) == (0, 5)
    opml.import_opml(bob, data)
    assert Feed.objects.count() == 5  # one row per URL, however many people follow it


def test_it_flattens_nested_folders_to_the_innermost(alice: User) -> None:
    opml.import_opml(alice, (DATA / "nested.opml").read_bytes())
    assert _followed(alice) == {
        ("https://deep.example/feed", "Deep feed", "Inner"),
        ("https://top.example/feed", "Top feed", "Top"),
        ("https://loose.example/rss", "Loose", "Python"),
        ("https://nofolder.example/rss", "No folder", ""),
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"this is not xml at all", "not an XML file"),
        (b"<html><body>hi</body></html>", "not OPML"),
        (
            b'<opml version="2.0"><body><outline text="a page" type="link" '
            b'url="https://example.org/"/></body></opml>',
            "lists no feed",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
            b'"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><opml><body><outline text="&lol2;" '
            b'xmlUrl="https://x.example/"/></body></opml>',
            "entities",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b'<opml><body><outline text="&xxe;" xmlUrl="https://x.example/"/></body></opml>',
            "entities",
        ),
        (
            b'<opml><body><outline text="a" xmlUrl="https://ok.example/"/>'
            b'<outline text="evil" xmlUrl="javascript:alert(1)"/></body></opml>',
            "bad feed URL",
        ),
        (  # urlsplit raises ValueError on it: it was a 500 on the import page
            b'<opml><body><outline text="a" xmlUrl="http://[::1"/></body></opml>',
            "bad feed URL",
        ),
    ],
)
def test_it_refuses_a_bad_file_and_imports_nothing(alice: User, data: bytes, message: str) -> None:
    with pytest.raises(opml.OpmlError, match=message):
        opml.import_opml(alice, data)
    assert not Subscription.objects.exists()
    assert not Feed.objects.exists()
    assert not Category.objects.exists()


def test_it_refuses_a_50_mb_file(alice: User) -> None:
    big = (
        b'<opml><body><outline text="a" xmlUrl="https://a.example/"/>'
        + b" " * (50 * 1024 * 1024)
        + b"</body></opml>"
    )
    with pytest.raises(opml.OpmlError, match="at most 5 MB"):
        opml.import_opml(alice, big)
    assert not Subscription.objects.exists()


def test_export_escapes_hostile_names(alice: User) -> None:
    feed = Feed.objects.create(url="https://x.example/feed")
    cat = Category.objects.create(user=alice, name='"><script>alert(1)</script>')
    Subscription.objects.create(user=alice, feed=feed, category=cat, title="a & <b>")
    exported = opml.export_opml(alice)
    assert "<script>" not in exported
    assert opml.parse_opml(exported.encode())[0].title == "a & <b>"
    assert opml.parse_opml(exported.encode())[0].category == '"><script>alert(1)</script>'


def test_a_site_address_is_kept_only_if_it_is_a_web_address(alice: User) -> None:
    # The subscription's page links to it: a javascript: one ran as soon as it was clicked
    # (only the Content-Security-Policy stopped it), and went back out in the export.
    data = (
        b'<opml><body><outline text="a" xmlUrl="https://a.example/feed" htmlUrl="javascript:alert(1)"/>'
        b'<outline text="b" xmlUrl="https://b.example/feed" htmlUrl=" https://b.example/ "/>'
        b"</body></opml>"
    )
    opml.import_opml(alice, data)
    sites = dict(Feed.objects.values_list("url", "site_url"))
    assert sites == {"https://a.example/feed": "", "https://b.example/feed": "https://b.example/"}
    assert "javascript" not in opml.export_opml(alice)


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("fr", "Ce fichier XML n’est pas un OPML"),
        ("en", "This XML file is not OPML"),
    ],
)
def test_a_refusal_speaks_the_persons_language(language: str, message: str) -> None:
    with translation.override(language), pytest.raises(opml.OpmlError, match=message):
        opml.parse_opml(b"<rss><channel/></rss>")


@pytest.mark.parametrize(("language", "said"), [("en", "5.07 MB"), ("fr", "5,07 Mo")])
def test_a_file_just_over_the_limit_is_not_said_to_be_the_limit(language: str, said: str) -> None:
    # Whole megabytes said "The OPML file is 5 MB; liseuse accepts at most 5 MB."
    data = b" " * int(5.07 * 1024 * 1024)
    with translation.override(language), pytest.raises(opml.OpmlError) as refused:
        opml.parse_opml(data)
    assert said in str(refused.value)


def test_a_feed_nobody_followed_is_kept_again_once_imported(alice: User) -> None:
    # Retention deletes a feed a day after it found nobody following it (Feed.unfollowed_at):
    # an import that follows it again must start that day afresh, as subscribing does.
    gone = Feed.objects.create(
        url="https://un.example/rss", unfollowed_at=timezone.now() - timedelta(days=3)
    )
    opml.import_opml(
        alice, b'<opml><body><outline text="Un" xmlUrl="https://un.example/rss"/></body></opml>'
    )
    gone.refresh_from_db()
    assert gone.unfollowed_at is None


def test_a_folder_named_like_a_label_is_refused_and_nothing_imported(alice: User) -> None:
    # Google Reader apps would see one user/-/label/Later for both (queries.NameTaken).
    Label.objects.create(user=alice, name="Later")
    data = (
        b'<opml><body><outline text="News"><outline text="a" xmlUrl="https://a.example/f"/>'
        b'</outline><outline text="Later"><outline text="b" xmlUrl="https://b.example/f"/>'
        b"</outline></body></opml>"
    )
    with pytest.raises(opml.OpmlError, match=r"Later.*one of your labels"):
        opml.import_opml(alice, data)
    assert not Subscription.objects.exists() and not Category.objects.exists()


def test_following_into_a_category_named_like_a_label_is_refused(alice: User) -> None:
    Label.objects.create(user=alice, name="Later")
    with pytest.raises(SubscribeError, match="one of your labels"):
        follow(alice, "https://a.example/f", category="Later")
    assert not Subscription.objects.exists() and not Category.objects.exists()
    assert follow(alice, "https://a.example/f", category="News").category is not None
