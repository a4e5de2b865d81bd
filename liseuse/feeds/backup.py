"""A person's whole data as one JSON document: `liseuse export` / `liseuse import`.

For backups and for moving between instances. The document holds the person's settings,
categories, labels, subscriptions (and the same as OPML, for other readers), saved searches,
retention rules, and every entry they read, starred or labelled, keyed by feed URL and entry
identity:

- starred and labelled entries carry their whole content: they must survive even where the
  feed no longer lists them;
- read-only entries carry only what identifies them (no content, no content hash): on another
  instance the entry is created bare, and the feed's next fetch fills it in as an update,
  which keeps the read state (an entry the feed no longer lists stays a title and a link).

Importing is idempotent: a second import of the same file changes nothing. Nothing here
touches the password, the API password or sessions.

An imported file is checked as a feed's document is: feed URLs normalized as `feed add` does
(a `javascript:` one refused, `HTTP://host/feed#top` the same feed as `http://host/feed`), links
http(s) only, HTML sanitized, numbers and dates read strictly. Entries are shared by everyone
who follows their feed: what one person's file says of them, others may read.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from liseuse.accounts.models import User
from liseuse.accounts.services import validate_timezone
from liseuse.feeds import opml
from liseuse.feeds import queries
from liseuse.feeds.models import Category
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Label
from liseuse.feeds.models import RetentionRule
from liseuse.feeds.models import SavedQuery
from liseuse.feeds.models import Subscription
from liseuse.feeds.subscribe import follow
from liseuse.feeds.urls import FeedUrlError
from liseuse.feeds.urls import normalize_feed_url
from liseuse.pipeline.sanitize import sanitize_html
from liseuse.pipeline.sanitize import text_field
from liseuse.pipeline.sanitize import title_field
from liseuse.pipeline.urls import safe_url

FORMAT = "liseuse-backup"
VERSION = 1
# The largest number a PositiveIntegerField holds on PostgreSQL.
_MAX_NUMBER = 2**31 - 1


class BackupError(ValueError):
    """A document this version cannot import; the message says why."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _date(value: object, where: str) -> datetime | None:
    """An ISO date of the file, None where it has none; BackupError for anything else (a
    date that is no date, "2024-13-45", stopped the import with a traceback)."""
    if value is None or value == "":
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise BackupError(f"{where}: {value!r} is not a date and time")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
    return parsed


def _number(value: object, where: str, *, minimum: int = 0) -> int:
    """A whole number of the file; not a string of one, nor a boolean (True is an int to
    Python, and was stored as 1)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BackupError(f"{where}: {value!r} is not a whole number")
    if not minimum <= value <= _MAX_NUMBER:
        raise BackupError(f"{where}: {value} is not between {minimum} and {_MAX_NUMBER}")
    return value


def _feed_url(value: object, where: str) -> str:
    """The feed URL as `feed add` and the OPML import would follow it, or BackupError naming
    it: followed as given, `javascript:…` went into the OPML export, which could not be
    imported back, and `HTTP://host/feed#top` was a second copy of a feed already there."""
    if not isinstance(value, str):
        raise BackupError(f"{where}: {value!r} is not a URL")
    try:
        return normalize_feed_url(value)
    except FeedUrlError as exc:
        raise BackupError(f"{where}: {value!r}: {exc}") from None


def _enclosures(value: object, where: str) -> list[dict[str, object]]:
    """What `store._enclosures` stores, keeping only http(s) addresses (a link in the pages)."""
    if not isinstance(value, list):
        raise BackupError(f"{where}: {value!r} is not a list")
    kept: list[dict[str, object]] = []
    for item in value:
        url = safe_url(item.get("url"), base=None) if isinstance(item, dict) else None
        if url is None:
            continue
        length = item.get("length")
        kept.append(
            {
                "url": url,
                "type": text_field(str(item.get("type") or "")),
                "length": length
                if isinstance(length, int) and not isinstance(length, bool)
                else None,
            }
        )
    return kept


def _entries(user: User) -> Iterator[dict[str, Any]]:
    states = (
        EntryState.objects.filter(user=user)
        .filter(Q(is_read=True) | Q(is_starred=True) | Q(labels__isnull=False))
        .distinct()
        .select_related("entry", "entry__feed")
        .prefetch_related("labels")
        .order_by("id")
    )
    for state in states.iterator(chunk_size=1000):
        entry = state.entry
        labels = sorted(label.name for label in state.labels.all())
        item: dict[str, Any] = {
            "feed": entry.feed.url,
            "identity": entry.identity,
            "guid": entry.guid,
            "url": entry.url,
            "title": entry.title,
            "published": _iso(entry.published),
            "is_read": state.is_read,
            "read_at": _iso(state.read_at),
            "is_starred": state.is_starred,
            "starred_at": _iso(state.starred_at),
            "labels": labels,
        }
        if state.is_starred or labels:
            item.update(
                content_hash=entry.content_hash,
                author=entry.author,
                content=entry.content,
                summary=entry.summary,
                categories=entry.categories,
                enclosures=entry.enclosures,
                updated=_iso(entry.updated),
            )
        yield item


def export_user(user: User) -> dict[str, Any]:
    subscriptions = Subscription.objects.filter(user=user).select_related("feed", "category")
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": timezone.now().isoformat(),
        "username": user.username,
        "settings": {name: getattr(user, name) for name in User.SETTINGS},
        "categories": [
            {"name": c.name, "position": c.position} for c in Category.objects.filter(user=user)
        ],
        "labels": [label.name for label in Label.objects.filter(user=user)],
        "subscriptions": [
            {
                "url": s.feed.url,
                "title": s.title,
                "category": s.category.name if s.category else None,
                "visibility": s.visibility,
                "refresh_floor_minutes": s.refresh_floor_minutes,
            }
            for s in subscriptions.order_by("id")
        ],
        "saved_queries": [
            {"name": q.name, "query": q.query, "position": q.position}
            for q in SavedQuery.objects.filter(user=user)
        ],
        "retention": [
            {
                "category": rule.category.name if rule.category else None,
                "keep_max": rule.keep_max,
                "keep_min": rule.keep_min,
                "keep_days": rule.keep_days,
            }
            for rule in RetentionRule.objects.filter(user=user).select_related("category")
        ],
        "opml": opml.export_opml(user),
        "entries": list(_entries(user)),
    }


def _check(document: object) -> dict[str, Any]:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BackupError('this is not a liseuse export (no "format": "liseuse-backup")')
    if document.get("version") != VERSION:
        raise BackupError(
            f"export version {document.get('version')!r}; this liseuse reads {VERSION}"
        )
    for key in ("categories", "labels", "subscriptions", "entries"):
        if not isinstance(document.get(key, []), list):
            raise BackupError(f"{key!r} must be a list")
    return document


def import_user(user: User, document: object) -> dict[str, int]:
    """Merge an export into `user`'s data, all or nothing; returns counts of what it applied."""
    data = _check(document)
    try:
        with transaction.atomic():
            return _import(user, data)
    except BackupError:
        raise
    except ValidationError as exc:
        raise BackupError(_describe(exc)) from None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise BackupError(f"a malformed item in the export ({type(exc).__name__}: {exc})") from None


def _describe(exc: ValidationError, where: str = "") -> str:
    """A model's validation errors with the fields they are about: "theme: … page_size: …"
    (its messages alone did not say which value of the file was wrong)."""
    if not hasattr(exc, "error_dict"):
        return f"{where}{' '.join(exc.messages)}"
    return "; ".join(
        f"{where}{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
    )


_Named = TypeVar("_Named", Category, Label)


def _named(
    model: type[_Named],
    check: Callable[[User, str], None],
    user: User,
    name: object,
    **defaults: object,
) -> tuple[_Named, bool]:
    """The person's category or label of that name, made if need be; never with the other
    kind's name (Google Reader apps know both as user/-/label/<name>: `queries.NameTaken`)."""
    name = str(name).strip()[:255]  # as the pages, OPML and `follow` keep names
    found = model._default_manager.filter(user=user, name=name).first()
    if found is not None:
        return found, False
    try:
        check(user, name)
    except queries.NameTaken as exc:
        raise BackupError(str(exc)) from None
    return model._default_manager.create(user=user, name=name, **defaults), True


def _category(user: User, name: object, *, position: int = 0) -> tuple[Category, bool]:
    return _named(Category, queries.check_category_name, user, name, position=position)


def _label(user: User, name: object) -> tuple[Label, bool]:
    return _named(Label, queries.check_label_name, user, name)


def _import(user: User, data: dict[str, Any]) -> dict[str, int]:
    settings = data.get("settings") or {}
    for name in User.SETTINGS:
        if name in settings:
            setattr(user, name, settings[name])
    if "timezone" in settings:
        try:
            validate_timezone(settings["timezone"])
        except ValidationError as exc:
            raise BackupError(_describe(exc, "settings.timezone: ")) from None
    user.full_clean(exclude=["password", "username"])
    user.save(update_fields=[n for n in User.SETTINGS if n in settings] or None)

    categories = {}
    for i, item in enumerate(data.get("categories", [])):
        position = _number(
            item.get("position", 0), f"categories[{i}].position", minimum=-_MAX_NUMBER
        )
        category, _ = _category(user, item["name"], position=position)
        categories[category.name] = category
    labels = {}
    # What was not there before (states: whose flags or labels changed): an export imported
    # again is counted as nothing new.
    new = {"new_subscriptions": 0, "new_labels": 0, "changed_states": 0}
    for name in data.get("labels", []):
        label, created = _label(user, name)
        labels[label.name] = label
        new["new_labels"] += created

    feeds: dict[str, Feed] = {}
    for i, item in enumerate(data.get("subscriptions", [])):
        where = f"subscriptions[{i}]."
        url = _feed_url(item["url"], f"{where}url")
        existing = Subscription.objects.filter(user=user, feed__url=url).first()
        category_name = item.get("category")
        if category_name:
            _category(user, category_name)  # a label's name is refused here, in words
        subscription = existing or follow(user, url, category=category_name)
        new["new_subscriptions"] += existing is None
        subscription.title = title_field(str(item.get("title") or ""))
        subscription.visibility = item.get("visibility") or Subscription.Visibility.MAIN
        subscription.refresh_floor_minutes = _number(
            item.get("refresh_floor_minutes") or 0, f"{where}refresh_floor_minutes"
        )
        if category_name:
            subscription.category = (
                categories.get(category_name) or _category(user, category_name)[0]
            )
        try:
            subscription.full_clean(exclude=["user", "feed"])
        except ValidationError as exc:
            raise BackupError(_describe(exc, where)) from None
        subscription.save()
        feeds[url] = subscription.feed

    for i, item in enumerate(data.get("saved_queries", [])):
        position = _number(
            item.get("position", 0), f"saved_queries[{i}].position", minimum=-_MAX_NUMBER
        )
        SavedQuery.objects.get_or_create(
            user=user,
            name=str(item["name"])[:255],
            defaults={"query": str(item.get("query", "")), "position": position},
        )

    for i, item in enumerate(data.get("retention") or []):
        name = item.get("category")
        folder: Category | None = None
        if name:
            folder = categories.get(name) or _category(user, name)[0]
        limits = {
            key: None if item.get(key) is None else _number(item[key], f"retention[{i}].{key}")
            for key in ("keep_max", "keep_min", "keep_days")
        }
        RetentionRule.objects.update_or_create(user=user, category=folder, defaults=limits)

    applied = 0
    for i, item in enumerate(data.get("entries", [])):
        where = f"entries[{i}]."
        url = _feed_url(item["feed"], f"{where}feed")
        feed = feeds.get(url)
        if feed is None:  # an entry of a feed the person no longer follows: its feed, unfollowed
            feed = Feed.objects.get_or_create(url=url)[0]
            feeds[feed.url] = feed
        published = _date(item.get("published"), f"{where}published") or timezone.now()
        link = safe_url(str(item.get("url") or ""), base=None) or ""
        entry, _ = Entry.objects.get_or_create(
            feed=feed,
            identity=str(item["identity"])[:64],
            defaults={
                # No hash for a bare entry: the feed's next copy of it counts as an update and
                # fills the content in.
                "content_hash": str(item.get("content_hash") or ""),
                "guid": str(item.get("guid") or ""),
                "url": link[:2048],
                # Plain text as a feed's are (words in brackets kept: "std::vector<int>");
                # categories lose what looks like a tag, as a feed's do.
                "title": title_field(str(item.get("title") or "")),
                "author": title_field(str(item.get("author") or "")),
                "content": sanitize_html(str(item.get("content") or ""), base_url=link or None),
                "summary": sanitize_html(str(item.get("summary") or ""), base_url=link or None),
                "categories": [text_field(str(c)) for c in item.get("categories") or []],
                "enclosures": _enclosures(item.get("enclosures") or [], f"{where}enclosures"),
                "published": published,
                "updated": _date(item.get("updated"), f"{where}updated"),
                # From the file, not from the feed's address: for this person only, until a
                # fetch lists it (Entry.fetched).
                "fetched": False,
            },
        )
        state, created = EntryState.objects.get_or_create(
            user=user, entry=entry, defaults={"feed": feed, "sort_date": entry.published}
        )
        # Following a feed gives its recent entries a state already: changed, not created.
        before = (
            None
            if created
            else (state.is_read, state.is_starred, set(state.labels.values_list("pk", flat=True)))
        )
        state.is_read = bool(item.get("is_read"))
        state.read_at = _date(item.get("read_at"), f"{where}read_at") if state.is_read else None
        state.is_starred = bool(item.get("is_starred"))
        state.starred_at = (
            _date(item.get("starred_at"), f"{where}starred_at") if state.is_starred else None
        )
        state.save(update_fields=["is_read", "read_at", "is_starred", "starred_at"])
        names = [str(n)[:255] for n in item.get("labels") or []]
        for name in names:
            if name not in labels:
                labels[name], created = _label(user, name)
                new["new_labels"] += created
        state.labels.set([labels[n] for n in names])
        applied += 1
        new["changed_states"] += before != (
            state.is_read,
            state.is_starred,
            {labels[n].pk for n in names},
        )
    return {
        "subscriptions": len(data.get("subscriptions", [])),
        "labels": len(labels),
        "entries": applied,
        **new,
    }
