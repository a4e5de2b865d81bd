"""OPML import and export.

Import reads the whole file before writing anything, then writes in one transaction: a bad file
is refused with a readable reason and nothing is half-imported. The XML parser never expands
entities nor fetches anything (XXE, billion laughs).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import quoteattr

from django.db import transaction
from django.utils import formats
from django.utils import timezone
from django.utils.translation import gettext as _
from lxml import etree

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds.models import Category
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.urls import FeedUrlError
from liseuse.feeds.urls import normalize_feed_url
from liseuse.pipeline.parsers.xmlfeeds import safe_parser
from liseuse.pipeline.urls import safe_url

# FreshRSS and Miniflux exports of thousands of feeds weigh well under a megabyte.
MAX_OPML_BYTES = 5 * 1024 * 1024


class OpmlError(ValueError):
    """The OPML file cannot be imported; the message says why in words."""


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    url: str
    title: str
    site_url: str
    category: str  # "" for none


@dataclass(frozen=True, slots=True)
class ImportReport:
    added: int
    skipped: int  # already followed
    categories_created: int


def megabytes(size: int) -> str:
    """5 MB as "5", 5.07 MB as "5.07" ("5,07" in French): rounded up, so that a size over a
    limit never reads the same as the limit (whole megabytes said "the file is 5 MB; at most
    5 MB")."""
    hundredths = -(-size * 100 // (1024 * 1024))
    if hundredths % 100 == 0:
        return str(hundredths // 100)
    return formats.number_format(Decimal(hundredths) / 100, decimal_pos=2)


def parse_opml(data: bytes) -> list[OpmlFeed]:
    """Every feed outline of an OPML document, with the name of the folder holding it."""
    return read_opml(data)[0]


def read_opml(data: bytes) -> tuple[list[OpmlFeed], list[str]]:
    """Every feed outline of an OPML document, with the name of the folder holding it; and the
    names of the empty folders (an outline with neither an xmlUrl nor anything inside), which
    are categories without feeds yet (liseuse and FreshRSS export them so)."""
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(
            _("The OPML file is %(size)s MB; liseuse accepts at most %(limit)s MB.")
            % {"size": megabytes(len(data)), "limit": megabytes(MAX_OPML_BYTES)}
        )
    # Entity declarations can only serve an attack here (XXE, billion laughs): refuse them
    # before the parser sees them, with a message that says so.
    if b"<!ENTITY" in data:
        raise OpmlError(_("The OPML file declares XML entities, which liseuse refuses."))
    try:
        root = etree.fromstring(data, parser=safe_parser(recover=False))
    except etree.XMLSyntaxError as exc:
        raise OpmlError(_("This is not an XML file: %(reason)s.") % {"reason": exc.msg}) from None
    if not isinstance(root.tag, str) or etree.QName(root).localname.lower() != "opml":
        raise OpmlError(_("This XML file is not OPML (its root element is not <opml>)."))
    body = next((el for el in root if isinstance(el.tag, str) and el.tag.lower() == "body"), None)
    if body is None:
        raise OpmlError(_("The OPML file has no <body>."))

    feeds: list[OpmlFeed] = []
    seen: set[str] = set()
    empty_folders: list[str] = []

    def walk(element: etree._Element, folder: str) -> None:
        for outline in element:
            if not isinstance(outline.tag, str) or outline.tag.lower() != "outline":
                continue
            title = (outline.get("title") or outline.get("text") or "").strip()
            xml_url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            if xml_url:
                try:
                    url = normalize_feed_url(xml_url)
                except FeedUrlError as exc:
                    raise OpmlError(
                        _("Line %(line)s: %(name)s has a bad feed URL: %(reason)s")
                        % {
                            "line": outline.sourceline,
                            "name": repr(title or xml_url),
                            "reason": exc,
                        }
                    ) from None
                if url in seen:
                    continue
                seen.add(url)
                # Feeds outside any folder may name one with `category="/A/B"` (OPML 2.0).
                category = folder or (outline.get("category") or "").strip("/ ").split("/")[-1]
                feeds.append(
                    OpmlFeed(
                        url=url,
                        title=title,
                        # Shown as a link: an http(s) address or nothing ("javascript:…").
                        site_url=safe_url(outline.get("htmlUrl"), base=None) or "",
                        category=category.strip(),
                    )
                )
            elif len(outline) == 0:
                if title and _is_a_folder(outline):
                    empty_folders.append(title)
            else:
                # A folder. Nested folders are flattened to the innermost one's name: liseuse
                # categories, like FreshRSS's and Miniflux's, are one level deep.
                walk(outline, title or folder)

    walk(body, "")
    if not feeds and not empty_folders:
        raise OpmlError(_("The OPML file lists no feed (no outline has an xmlUrl)."))
    return feeds, empty_folders


def _is_a_folder(outline: etree._Element) -> bool:
    """Whether an outline with nothing inside is an empty folder, as liseuse and FreshRSS
    export one (a name, nothing else): not a link, an include, a note with a type, nor a
    feed whose address is missing or under another name."""
    named = {name.lower() for name in outline.attrib}
    return not named & {"type", "xmlurl", "url", "htmlurl"}


@transaction.atomic
def import_opml(user: User, data: bytes) -> ImportReport:
    feeds, empty_folders = read_opml(data)
    followed = set(
        Subscription.objects.filter(user=user, feed__url__in=[f.url for f in feeds]).values_list(
            "feed__url", flat=True
        )
    )
    categories = {c.name: c for c in Category.objects.filter(user=user)}
    # Every folder to make is checked before anything is written: the file is imported whole,
    # or not at all.
    named = [*(item.category for item in feeds if item.category), *empty_folders]
    for name in dict.fromkeys(name[:255] for name in named):
        if name not in categories:
            try:
                queries.check_category_name(user, name)
            except queries.NameTaken as exc:
                raise OpmlError(str(exc)) from None
    created_categories = 0
    for name in dict.fromkeys(name[:255] for name in empty_folders):
        if name not in categories:
            categories[name] = Category.objects.create(user=user, name=name)
            created_categories += 1
    added = 0
    now = timezone.now()
    for item in feeds:
        if item.url in followed:
            continue
        category = None
        if item.category:
            category = categories.get(item.category[:255])
            if category is None:
                category = Category.objects.create(user=user, name=item.category[:255])
                categories[category.name] = category
                created_categories += 1
        feed, _created = Feed.objects.get_or_create(
            url=item.url, defaults={"title": item.title, "site_url": item.site_url[:2048]}
        )
        Subscription.objects.create(
            user=user, feed=feed, category=category, title=item.title, created_at=now
        )
        if feed.unfollowed_at is not None:
            # Followed again within retention's grace, as `subscribe.follow` does: the day
            # before it goes starts afresh at its next unfollow.
            Feed.objects.filter(pk=feed.pk).update(unfollowed_at=None)
        added += 1
    return ImportReport(
        added=added, skipped=len(feeds) - added, categories_created=created_categories
    )


def export_opml(user: User) -> str:
    """The person's subscriptions as OPML 2.0, grouped by category."""
    subscriptions = (
        Subscription.objects.filter(user=user)
        .select_related("feed", "category")
        .order_by("category__position", "category__name", "title", "feed__url")
    )
    # Every category, those without feeds too (as FreshRSS exports them), in the sidebar's
    # order; feeds outside any after them.
    groups: dict[str, list[Subscription]] = {
        name: []
        for name in Category.objects.filter(user=user)
        .order_by("position", "name")
        .values_list("name", flat=True)
    }
    for sub in subscriptions:
        groups.setdefault(sub.category.name if sub.category else "", []).append(sub)

    def outline(sub: Subscription, indent: str) -> str:
        attrs = {
            "text": sub.display_title,
            "title": sub.display_title,
            "type": "rss",
            "xmlUrl": sub.feed.url,
        }
        if sub.feed.site_url:
            attrs["htmlUrl"] = sub.feed.site_url
        rendered = " ".join(f"{name}={quoteattr(value)}" for name, value in attrs.items())
        return f"{indent}<outline {rendered}/>"

    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{_escape_text(user.username)}'s subscriptions in liseuse</title>",
        f"    <dateCreated>{timezone.now():%a, %d %b %Y %H:%M:%S} GMT</dateCreated>",
        "  </head>",
        "  <body>",
    ]
    for name, subs in groups.items():
        folder = f"<outline text={quoteattr(name)} title={quoteattr(name)}"
        if name and not subs:
            lines.append(f"    {folder}/>")
        elif name:
            lines.append(f"    {folder}>")
            lines.extend(outline(sub, "      ") for sub in subs)
            lines.append("    </outline>")
        else:
            lines.extend(outline(sub, "    ") for sub in subs)
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
