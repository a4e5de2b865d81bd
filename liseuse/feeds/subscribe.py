"""Following a feed: from a URL a person gives (a feed, or a site whose feeds we discover)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from collections.abc import Sequence

from django.db import IntegrityError
from django.db import OperationalError
from django.db import connection
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds.merge import feed_at
from liseuse.feeds.merge import merge_feed
from liseuse.feeds.models import Category
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.models import feed_host
from liseuse.feeds.reasons import readable
from liseuse.feeds.urls import FeedUrlError
from liseuse.feeds.urls import normalize_feed_url
from liseuse.pipeline.discover import Discovery
from liseuse.pipeline.discover import discover
from liseuse.pipeline.fetch import Fetcher
from liseuse.pipeline.types import PipelineError

# About what a feed document lists at once: what a first fetch would have shown.
RECENT_ENTRIES_ON_FOLLOW = 100

# Given (url, title) pairs, returns the chosen URL. None: refuse to guess, list them instead.
Chooser = Callable[[Sequence[tuple[str, str]]], str]


class SubscribeError(ValueError):
    """The URL cannot be followed; the message says why, in words."""


def _discover(url: str) -> Discovery:
    from liseuse.feeds.worker import fetch_config

    async def run() -> Discovery:
        async with Fetcher(fetch_config()) as fetcher:
            return await discover(fetcher, url)

    try:
        return asyncio.run(run())
    except PipelineError as exc:
        raise SubscribeError(readable(str(exc))) from None


def subscribe_url(
    user: User,
    raw_url: str,
    *,
    category: str | None = None,
    title: str = "",
    choose: Chooser | None = None,
) -> Subscription:
    """Follow the feed at `raw_url`, or the one its page offers (`choose` picks among several).
    A feed nobody followed yet is fetched at once: its name and entries are there when the
    person looks, as in FreshRSS and Miniflux, not after the refresh loop's next turn. So is a
    disabled one (a 410 Gone for an earlier follower): the loop never tries it again, and the
    newcomer would follow it for ever without a word; a success enables it again, a failure is
    told by the feed's health, as for a new feed."""
    url = _normalized(raw_url)
    if not Feed.objects.filter(url=url).exists():
        found = _discover(url)
        if found.feed is not None:
            url = found.url
        elif len(found.candidates) == 1:
            url = found.candidates[0].url
        else:
            options = [(c.url, c.title) for c in found.candidates]
            if choose is None:
                listed = ", ".join(c.url for c in found.candidates)
                raise SubscribeError(
                    _("Several feeds were found for %(url)s; add one of: %(feeds)s")
                    % {"url": raw_url, "feeds": listed}
                )
            url = choose(options)
        # A page's link may spell a feed's address differently from how a person types it
        # (host in capitals, a #fragment): cleaned the same way, both lead to one shared Feed.
        url = _normalized(url)
    disabled = Feed.objects.filter(url=url).values_list("disabled", flat=True).first()
    subscription = follow(user, url, category=category, title=title)
    if disabled is None or disabled:
        subscription = _first_fetch(user, subscription)
    return subscription


def change_url(subscription: Subscription, raw_url: str) -> bool:
    """Give the feed a new address, as FreshRSS's feed settings do when a site moves: the
    feed keeps its entries and the person their reading states, stars and labels, and is due
    at once (the refresh loop fetches it within seconds, as "Refresh" has it; not here, where
    moving it back and forth would get round the once-a-minute limit of "Refresh now").
    Returns whether the address changed.

    Feeds are shared: only the feed's one follower may move it (the others would find their
    feed moved); otherwise SubscribeError says what to do instead: follow the new address,
    unfollow this. To an address another feed has, the feed becomes one with that feed, the
    person's states, stars and labels going over (feeds.merge), unless they follow it already.
    """
    url = _normalized(raw_url)
    feed = subscription.feed
    if url == feed.url:
        return False
    taken = SubscribeError(
        _("Another feed has the address %(url)s already: follow it, then unfollow this one.")
        % {"url": url}
    )
    try:
        _move(subscription, url, taken)
    except IntegrityError:  # made by someone else meanwhile
        raise taken from None
    except OperationalError:  # a deadlock with a merge (feeds.merge), a busy database
        raise SubscribeError(
            _("the feed could not be moved just now; try again in a moment")
        ) from None
    subscription.refresh_from_db(fields=["feed"])  # another feed's, after a merge
    subscription.feed = Feed.objects.get(pk=subscription.feed_id)
    return True


def _move(subscription: Subscription, url: str, taken: SubscribeError) -> None:
    """`change_url`'s checks and write, in one transaction."""
    feed = subscription.feed
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # As `follow` does: a newcomer to this feed waits for the move, or the move for them.
            list(Feed.objects.select_for_update().filter(pk=feed.pk).values_list("pk", flat=True))
        if Feed.objects.filter(pk=feed.pk, lease_until__gt=timezone.now()).exists():
            # A refresh under way would write the old address's validators, errors and next
            # fetch over the moved feed's (and never fetch the new address for hours).
            raise SubscribeError(_("this feed is being refreshed right now"))
        if Subscription.objects.filter(feed=feed).exclude(pk=subscription.pk).exists():
            raise SubscribeError(
                _(
                    "Others follow this feed at its address, which stays: follow %(url)s, then "
                    "unfollow this one."
                )
                % {"url": url}
            )
        there = feed_at(url, other_than=feed.pk)
        if there is not None:
            if Subscription.objects.filter(user_id=subscription.user_id, feed_id=there).exists():
                raise SubscribeError(
                    _("You follow %(url)s already: unfollow this one if it is the same feed.")
                    % {"url": url}
                )
            refreshing = SubscribeError(
                _("the feed at %(url)s is being refreshed right now") % {"url": url}
            )
            if Feed.objects.filter(pk=there, lease_until__gt=timezone.now()).exists():
                raise refreshing
            if not merge_feed(feed.pk, there):
                if Feed.objects.filter(pk=there, disabled=True).exists():
                    raise taken  # gone (410): no feed to become one with
                raise refreshing  # claimed since the look above
            return
        # What the old address's server said no longer holds: no validators, no errors, no
        # wait it asked for, no host it redirected to; due now.
        Feed.objects.filter(pk=feed.pk).update(
            url=url,
            host=feed_host(url),
            redirect_host="",
            etag="",
            last_modified="",
            last_error="",
            error_count=0,
            disabled=False,
            retry_after_until=None,
            next_fetch_at=timezone.now(),
        )


def _normalized(url: str) -> str:
    try:
        return normalize_feed_url(url)
    except FeedUrlError as exc:
        raise SubscribeError(_("%(url)s: %(reason)s") % {"url": repr(url), "reason": exc}) from None


def _first_fetch(user: User, subscription: Subscription) -> Subscription:
    """`subscription` after its feed's first fetch, which may have moved it to another feed
    (a permanent redirect to a feed already stored: feeds.merge)."""
    from liseuse.feeds.worker import RefreshRefused
    from liseuse.feeds.worker import refresh_feed_now

    try:
        # A failure is not the subscription's: the feed's health tells it, and the loop retries.
        refresh_feed_now(user, subscription.feed_id)
    except RefreshRefused:
        return subscription  # the refresh loop claimed it first
    found = (
        Subscription.objects.select_related("feed", "category").filter(pk=subscription.pk).first()
    )
    if found is None:  # merged into the person's subscription of the feed it moved to
        raise SubscribeError(
            _("%(url)s has moved for good to the address of a feed you follow already.")
            % {"url": subscription.feed.url}
        )
    return found


@transaction.atomic
def follow(user: User, url: str, *, category: str | None = None, title: str = "") -> Subscription:
    """Subscribe `user` to the feed at `url` (creating the shared Feed row if needed)."""
    feed, _created = Feed.objects.get_or_create(url=url)
    if connection.vendor == "postgresql":
        # Wait for a refresh writing this feed's new entries, or make it wait
        # (store._save_entries): then the newcomer gets a state for each of them either way.
        # SQLite writes one transaction at a time (and has no FOR UPDATE: the query would only
        # cost an OPML import one more per feed).
        list(Feed.objects.select_for_update().filter(pk=feed.pk).values_list("pk", flat=True))
    if Subscription.objects.filter(user=user, feed=feed).exists():
        raise SubscribeError(
            _("%(user)s already follows %(url)s") % {"user": user.username, "url": url}
        )
    folder = None
    name = (category or "").strip()[:255]
    if name:  # a name of spaces is no category, not one whose name is empty
        folder = Category.objects.filter(user=user, name=name).first()
        if folder is None:
            try:
                queries.check_category_name(user, name)
            except queries.NameTaken as exc:
                raise SubscribeError(str(exc)) from None
            folder, _created = Category.objects.get_or_create(user=user, name=name)
    subscription = Subscription.objects.create(user=user, feed=feed, category=folder, title=title)
    if feed.unfollowed_at is not None:
        # Followed again within retention's grace: its day starts afresh at the next unfollow.
        Feed.objects.filter(pk=feed.pk).update(unfollowed_at=None)
    # A feed others already follow has entries: the newcomer sees its recent ones, as they would
    # on a first fetch, rather than an empty feed until the next new entry.
    # Only what a fetch of its address brought (Entry.fetched): not what someone's backup
    # import or a merge from another feed put there.
    recent = Entry.objects.filter(feed=feed, fetched=True).order_by("-published")[
        :RECENT_ENTRIES_ON_FOLLOW
    ]
    EntryState.objects.bulk_create(
        [
            EntryState(user=user, entry_id=e.id, feed=feed, sort_date=e.published)
            for e in recent.only("id", "published")
        ],
        ignore_conflicts=True,
    )
    return subscription


@transaction.atomic
def unfollow(subscription: Subscription) -> None:
    """Stop following: the person's reading states of the feed go with the subscription. The
    shared Feed row stays for its other followers (retention cleans up what nobody follows)."""
    EntryState.objects.filter(user_id=subscription.user_id, feed_id=subscription.feed_id).delete()
    subscription.delete()
