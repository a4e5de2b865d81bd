"""The data model.

A `Feed` is global: one row per URL, fetched once however many people follow it. A person follows
it through a `Subscription`, reads its `Entry` rows through their own `EntryState` rows (created
for every follower when an entry arrives), files them under `Category` and `Label`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from liseuse.feeds.attachments import with_attachments
from liseuse.feeds.fulltext import first_words
from liseuse.pipeline.urls import host_of


def feed_host(url: str) -> str:
    """The host a feed is fetched from, lowercased, as the fetcher's per-host limit counts it
    (`pipeline.fetch`); "" for a URL without one, or a damaged one."""
    return host_of(url)[:255]


class HostField(models.CharField):  # type: ignore[type-arg]
    """`Feed.host`: the host of the row's `url`, set from it whenever the row is written by
    `save()` or `bulk_create()` (both call `pre_save`). An `update(url=…)` must set it too
    (`store._move_feed`)."""

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = feed_host(getattr(model_instance, "url", ""))
        setattr(model_instance, self.attname, value)
        return value


class Feed(models.Model):
    url = models.URLField(max_length=2048, unique=True)
    # Of `url`, for `feeds.claim`: one worker at a time fetches from a host, so that the
    # per-host limit holds across workers and machines, not only within one process.
    host = HostField(max_length=255, blank=True, default="", db_default="", editable=False)
    # The other host `url` redirected to at its last answer (a 302, or a 301 not confirmed
    # yet), "" if none: claims keep the feed away from that host's worker too.
    redirect_host = models.CharField(max_length=255, blank=True, default="", db_default="")
    title = models.TextField(blank=True, default="")  # plain text, from the feed
    site_url = models.URLField(max_length=2048, blank=True, default="")
    description = models.TextField(blank=True, default="")
    # What the feed says its entries are written in (a BCP 47 tag, `sanitize.language_tag`):
    # the pages mark them so, for screen readers and hyphenation. "" when it says nothing.
    language = models.CharField(max_length=35, blank=True, default="", db_default="")
    hub_url = models.URLField(max_length=2048, blank=True, default="")  # WebSub hub, if any
    icon_url = models.URLField(max_length=2048, blank=True, default="")
    favicon = models.ForeignKey("Favicon", null=True, blank=True, on_delete=models.SET_NULL)
    favicon_checked_at = models.DateTimeField(null=True, blank=True)  # last look for an icon

    # Conditional GET: sent back verbatim on the next fetch.
    etag = models.TextField(blank=True, default="")
    last_modified = models.TextField(blank=True, default="")

    # Scheduling and health.
    next_fetch_at = models.DateTimeField(default=timezone.now)
    last_fetched_at = models.DateTimeField(null=True, blank=True)  # last attempt, any outcome
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")  # readable; empty when healthy
    error_count = models.PositiveIntegerField(default=0)  # consecutive failures
    disabled = models.BooleanField(default=False)  # 410 Gone, or disabled by hand
    ttl_minutes = models.PositiveIntegerField(null=True, blank=True)  # RSS <ttl>
    # The interval derived from the feed's rhythm at its last successful parse; reused on 304.
    fetch_interval_minutes = models.PositiveIntegerField(null=True, blank=True)

    # The lease of `feeds.claim`: a worker owns the feed until `lease_until`.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    # The time the server asked not to be fetched again before (429 / 503 with Retry-After) at
    # the last failure; None after a success. The schedule keeps to it (next_fetch_at), and so
    # does a person's "Refresh now".
    retry_after_until = models.DateTimeField(null=True, blank=True)
    # How long the last refresh took, fetch to store (the /metrics histogram).
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # The identities the feed listed at its last successful parse: retention never deletes
    # those (they would come straight back, or need a tombstone the feed contradicts).
    listed_identities = models.JSONField(default=list, blank=True)

    # Retention for this feed (feeds.retention); None: the instance's LISEUSE_RETENTION_… value.
    keep_max = models.PositiveIntegerField(null=True, blank=True)  # at most this many entries
    keep_min = models.PositiveIntegerField(null=True, blank=True)  # never fewer than this many
    keep_days = models.PositiveIntegerField(null=True, blank=True)  # older ones may go

    created_at = models.DateTimeField(default=timezone.now)
    # When retention first found nobody following the feed and nobody keeping one of its
    # entries; None while someone does. A day later the feed goes (feeds.retention).
    unfollowed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # feeds.claim: "enabled feeds due now", scanned by every worker on every loop.
            models.Index(
                fields=["next_fetch_at"], condition=Q(disabled=False), name="feed_due_idx"
            ),
            # feeds.claim: the hosts other workers hold now (only leased feeds are in it).
            models.Index(
                fields=["lease_until"],
                condition=Q(lease_until__isnull=False),
                name="feed_leased_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.url


class Favicon(models.Model):
    """A site's icon, fetched once, size-capped, and served by liseuse itself."""

    digest = models.CharField(max_length=64, unique=True)  # sha256 of data: shared between feeds
    content_type = models.CharField(max_length=64)
    data = models.BinaryField()

    def __str__(self) -> str:
        return self.digest


class Entry(models.Model):
    # No index of its own: the unique (feed, identity) index and (feed, published) start with it.
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="entries", db_index=False)
    # pipeline.decide's identity: hash of guid, else link, else title + content.
    identity = models.CharField(max_length=64)
    content_hash = models.CharField(max_length=64)
    guid = models.TextField(blank=True, default="")
    url = models.URLField(max_length=2048, blank=True, default="")
    title = models.TextField(blank=True, default="")  # plain text
    author = models.TextField(blank=True, default="")  # plain text
    content = models.TextField(blank=True, default="")  # sanitized HTML, safe to show as is
    summary = models.TextField(blank=True, default="")  # sanitized HTML
    categories = models.JSONField(default=list, blank=True)  # plain-text tags from the feed
    enclosures = models.JSONField(default=list, blank=True)  # [{"url", "type", "length"}]
    published = models.DateTimeField()  # the feed's date, else first seen; never in the future
    updated = models.DateTimeField(null=True, blank=True)
    first_seen = models.DateTimeField(default=timezone.now)
    # Whether a fetch of the feed's address brought it. Not what a backup import or a feed
    # merge put there, whose content and date are whoever made the file's or ran the other
    # server's: the feed's newcomers are not given it, nor does its retention rank it, until a
    # fetch lists it; the store then gives it to every follower as a new entry (store.py).
    fetched = models.BooleanField(default=True, db_default=True)

    class Meta:
        constraints = [
            # The store's upsert key: an entry is stored once per feed, whatever crashes.
            models.UniqueConstraint(fields=["feed", "identity"], name="entry_identity_uniq"),
        ]
        indexes = [
            # Feed page for anonymous/global views and retention: a feed's entries by date.
            models.Index(fields=["feed", "published"], name="entry_feed_published_idx"),
            # The store's look, at each fetch, for entries no fetch brought yet: almost always
            # none, and this index empty.
            models.Index(fields=["feed"], condition=Q(fetched=False), name="entry_unfetched_idx"),
        ]

    def __str__(self) -> str:
        return self.title or self.url or self.identity

    @property
    def display_title(self) -> str:
        """What the reading pages show as its title: its own; else, as FreshRSS does, its first
        words (microblogs and Mastodon write none, and a URL tells nothing); else its URL. The
        APIs send the title as it is: apps have their own ways with untitled entries."""
        return self.title or first_words(self.content or self.summary) or self.url

    @property
    def display_content(self) -> str:
        """Its HTML as shown to people and Fever apps: the content (else the summary), then its
        attachments (a podcast's episode, a picture), which the feed lists beside it."""
        return with_attachments(self.content or self.summary, self.enclosures)


class EntryTombstone(models.Model):
    """A purged entry's identity, so that the feed still listing it never brings it back."""

    # No index of its own: the unique (feed, identity) index starts with it.
    feed = models.ForeignKey(
        Feed, on_delete=models.CASCADE, related_name="tombstones", db_index=False
    )
    identity = models.CharField(max_length=64)
    purged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feed", "identity"], name="tombstone_identity_uniq"),
        ]

    def __str__(self) -> str:
        return self.identity


class Category(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="categories"
    )
    name = models.CharField(max_length=255)
    position = models.IntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="category_name_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    class Visibility(models.TextChoices):
        MAIN = "main", "main stream"  # shown in the main stream and its category
        CATEGORY = "category", "category only"  # hidden from the main stream
        HIDDEN = "hidden", "hidden"  # shown only when the feed itself is opened

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions"
    )
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="subscriptions")
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="subscriptions"
    )
    title = models.TextField(blank=True, default="")  # the person's own name for it; else feed's
    visibility = models.CharField(max_length=8, choices=Visibility.choices, default=Visibility.MAIN)
    # The person's floor on how often this feed is fetched (minutes); 0 = the default rhythm.
    refresh_floor_minutes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "feed"], name="subscription_uniq"),
        ]

    def __str__(self) -> str:
        return self.display_title

    @property
    def display_title(self) -> str:
        return self.title or self.feed.title or self.feed.url


class Label(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labels"
    )
    name = models.CharField(max_length=255)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="label_name_uniq"),
        ]

    def __str__(self) -> str:
        return self.name


class EntryState(models.Model):
    """A person's read / starred flags and labels for one entry.

    `feed` and `sort_date` copy the entry's so that every stream query is answered from this
    table's indexes alone, without sorting a join (the main stream is one index range scan).
    """

    # No index of its own: every index below starts with `user`, the unique one included.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="entry_states",
        db_index=False,
    )
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="states")
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="+")
    sort_date = models.DateTimeField()  # = entry.published
    # When the entry reached this person (a fetch, or following a feed that already had it):
    # what Google Reader clients filter on to sync only what is new to them (`ot`, `nt`).
    arrived_at = models.DateTimeField(db_default=Now())
    is_read = models.BooleanField(default=False)
    is_starred = models.BooleanField(default=False)
    read_at = models.DateTimeField(null=True, blank=True)
    starred_at = models.DateTimeField(null=True, blank=True)
    labels = models.ManyToManyField(Label, blank=True, related_name="entry_states")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "entry"], name="entrystate_uniq"),
        ]
        indexes = [
            # queries.stream: a person's unread entries newest (or oldest) first: the main
            # stream's default page and the APIs' unread item ids.
            models.Index(
                fields=["user", "sort_date", "entry"],
                condition=Q(is_read=False),
                name="state_unread_idx",
            ),
            # queries.stream with state=all: every entry of a person by date.
            models.Index(fields=["user", "sort_date", "entry"], name="state_all_idx"),
            # queries.stream for one feed (and categories, as a list of feeds).
            models.Index(fields=["user", "feed", "is_read", "sort_date"], name="state_feed_idx"),
            # The sidebar's and the APIs' unread counts grouped by feed (with the newest unread
            # date for Google Reader's unread-count): a scan of the unread rows only.
            models.Index(
                fields=["user", "feed", "sort_date"],
                condition=Q(is_read=False),
                name="state_unread_feed_idx",
            ),
            # queries.stream state=starred: the favourites, by date.
            models.Index(
                fields=["user", "sort_date", "entry"],
                condition=Q(is_starred=True),
                name="state_starred_idx",
            ),
            # queries.states_by_state_id: Fever pages by state id. Through the primary key, a
            # page stepped over everyone else's states among the person's: all of them for
            # someone who joined after others, on a full sync's first page (SQLite 17 ms,
            # PostgreSQL 29 ms with 320,000 states before theirs, and ten times that with ten
            # times as many). Written once per state: no mark as read changes it.
            models.Index(fields=["user", "id"], name="state_user_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.entry_id}"


class SavedQuery(models.Model):
    """A named search (FreshRSS's "user queries"), shown in the sidebar."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_queries"
    )
    name = models.CharField(max_length=255)
    query = models.TextField()
    position = models.IntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class WebSubSubscription(models.Model):
    """A feed's subscription at its WebSub hub (feeds.websub): pushed content, less polling."""

    class State(models.TextChoices):
        REQUESTED = "requested", "asked, waiting for the hub's check"
        ACTIVE = "active", "active"
        DENIED = "denied", "refused by the hub"

    feed = models.OneToOneField(Feed, on_delete=models.CASCADE, related_name="websub")
    hub = models.URLField(max_length=2048)
    topic = models.URLField(max_length=2048)
    # The random part of the callback URL, and the HMAC key the hub signs pushes with.
    token = models.CharField(max_length=64, unique=True)
    secret = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.REQUESTED)
    requested_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)  # the hub's lease
    renew_at = models.DateTimeField(null=True, blank=True)  # ask again from then on
    last_push_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.topic} @ {self.hub}"


class RetentionRule(models.Model):
    """A person's own retention limits (feeds.retention), for all their feeds or one category.

    Entries are shared, so a person's rule removes only their own reading states; an entry nobody
    has a state for any more goes too (with a tombstone), unless its feed still lists it. A
    category's rule wins over the person's general one. None: the instance's value.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="retention_rules"
    )
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.CASCADE, related_name="retention_rules"
    )
    keep_max = models.PositiveIntegerField(null=True, blank=True)
    keep_min = models.PositiveIntegerField(null=True, blank=True)
    keep_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            # One general rule per person, and one per category.
            models.UniqueConstraint(
                fields=["user"], condition=Q(category=None), name="retention_rule_person_uniq"
            ),
            models.UniqueConstraint(fields=["user", "category"], name="retention_rule_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.category_id or '*'}"
