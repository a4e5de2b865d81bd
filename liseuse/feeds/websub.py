"""WebSub (W3C Recommendation, 2018) subscriber: a feed's hub pushes new content, polling slows.

    worker loop ── maintain() ──→ POST hub: hub.mode=subscribe, topic, callback, secret, lease
    hub ── GET  /websub/<token>?hub.mode=subscribe&hub.challenge=… ──→ callback: echo, activate
    hub ── POST /websub/<token> (the feed document, X-Hub-Signature) ──→ callback: checked with
           the secret, then processed exactly as a refresh of that feed (the same pipeline)

The hub comes from the feed itself (`<atom:link rel="hub">`, JSON Feed `hubs`: the parsers fill
`ParsedFeed.hub_url`, the store keeps it on `Feed.hub_url`); the topic is the feed's URL. A feed
with an active subscription is still polled, as a safety net, but at most every
`LISEUSE_WEBSUB_POLL_MINUTES` (`claim` raises its floor). Subscriptions are renewed a day before
the hub's lease ends (half-way through a short lease).

WebSub needs liseuse to be reachable by the hubs: it is on only when `LISEUSE_WEBSUB_CALLBACK_URL`
(the public address of this instance, e.g. https://reader.example.org) is set. Only hubs reached
over HTTPS are asked: the request carries `hub.secret`, the key that authenticates every push
(the spec: a subscriber should send it only over HTTPS); a feed whose hub is plain http is polled
as usual.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Exists
from django.db.models import F
from django.db.models import OuterRef
from django.db.models import Q
from django.http import HttpRequest
from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.models import WebSubSubscription
from liseuse.pipeline import reasons
from liseuse.pipeline.fetch import Fetcher
from liseuse.pipeline.refresh import FeedReport
from liseuse.pipeline.refresh import FeedToRefresh
from liseuse.pipeline.types import FetchError
from liseuse.pipeline.types import FetchRequest
from liseuse.pipeline.types import FetchResult

log = logging.getLogger("liseuse.websub")

RENEW_BEFORE = timedelta(days=1)
# A hub that never came back to check: ask again after this long.
RETRY_REQUESTED = timedelta(hours=6)
MAX_PUSH_BYTES = 5 * 1024 * 1024
# A hub may grant any lease; past this one, liseuse asks again anyway (and a lease of 10**15
# seconds would overflow the date).
MAX_LEASE = timedelta(days=365)
# A signed push that found its feed being refreshed: the hub is asked to send it again after
# this long (seconds), about the time a refresh takes.
PUSH_RETRY_AFTER = 60
_SIGNATURES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384}
_SIGNATURES["sha512"] = hashlib.sha512


def enabled() -> bool:
    return bool(settings.LISEUSE_WEBSUB_CALLBACK_URL)


def callback_url(subscription: WebSubSubscription) -> str:
    base = settings.LISEUSE_WEBSUB_CALLBACK_URL.rstrip("/")
    return f"{base}/websub/{subscription.token}"


# --- subscribing ------------------------------------------------------------------------------


# A hub the subscription request may go to: its form carries the secret.
_SECURE_HUB = Q(feed__hub_url__istartswith="https://")


def pending(now: Any = None, limit: int = 50) -> list[WebSubSubscription]:
    """Feeds with a hub and no live subscription (new, expiring, or never checked by the hub)."""
    now = now or timezone.now()
    # A subscription made through a plain-http hub (before liseuse asked only HTTPS ones) sent
    # its secret in clear: anyone on the way could sign pushes with it. Forgotten, it is never
    # renewed, its pushes find no subscription (404), and its feed is polled as usual at once;
    # the feed subscribes again, with a new secret, if it moves to an HTTPS hub.
    WebSubSubscription.objects.filter(~Q(hub__istartswith="https://")).delete()
    for feed in Feed.objects.filter(
        hub_url__istartswith="https://",
        disabled=False,
        websub__isnull=True,
        subscriptions__isnull=False,
    ).distinct()[:limit]:
        WebSubSubscription.objects.get_or_create(
            feed=feed,
            defaults={
                "hub": feed.hub_url,
                "topic": feed.url,
                "token": secrets.token_urlsafe(24),
                "secret": secrets.token_hex(32),
                "requested_at": now - RETRY_REQUESTED,  # due at once
            },
        )
    # A feed that moved to another hub subscribes there (an HTTPS one: a feed that moved to a
    # plain-http hub lets its subscription run out, as one that names no hub any more).
    for subscription in (
        WebSubSubscription.objects.filter(_SECURE_HUB)
        .exclude(hub=F("feed__hub_url"))
        .select_related("feed")[:limit]
    ):
        subscription.hub = subscription.feed.hub_url
        subscription.state = WebSubSubscription.State.REQUESTED
        subscription.requested_at = now - RETRY_REQUESTED
        subscription.save(update_fields=["hub", "state", "requested_at"])
    asked_long_ago = Q(requested_at__lte=now - RETRY_REQUESTED)
    # An active subscription is renewed once its renewal time has come: asked once, then, if
    # the hub neither checks it nor answers (gone, refusing), again after RETRY_REQUESTED like
    # a new one, not on every upkeep pass (each minute).
    renewal_not_asked = Q(requested_at__lt=F("renew_at")) | asked_long_ago
    due = (Q(state=WebSubSubscription.State.REQUESTED) & asked_long_ago) | (
        Q(state=WebSubSubscription.State.ACTIVE, renew_at__lte=now) & renewal_not_asked
    )
    followed = Exists(Subscription.objects.filter(feed_id=OuterRef("feed_id")))
    # A feed that no longer names a hub, or that nobody follows any more, lets its
    # subscription run out.
    return list(
        WebSubSubscription.objects.filter(
            due, followed, _SECURE_HUB, feed__disabled=False
        ).select_related("feed")[:limit]
    )


async def _post_to_hubs(requests: Sequence[tuple[str, dict[str, str]]]) -> list[str | None]:
    """POST each form to its hub; None when the hub accepted it (2xx), else why not.

    Through the one outbound client (pipeline.fetch), so with the same guard as every fetch:
    the hub may not be on a private network unless the instance allows it.
    """
    # Imported here: the worker module imports this one.
    from liseuse.feeds.worker import fetch_config

    async with Fetcher(fetch_config()) as fetcher:

        async def post(hub: str, form: dict[str, str]) -> str | None:
            try:
                status = await fetcher.post_form(hub, form)
            except FetchError as exc:
                return str(exc)
            return None if 200 <= status < 300 else f"the hub answered {status}"

        return list(await asyncio.gather(*(post(hub, form) for hub, form in requests)))


def maintain(limit: int = 50) -> int:
    """Ask the hubs of new, moved or expiring subscriptions; returns the requests sent."""
    if not enabled():
        return 0
    subscriptions = pending(limit=limit)
    if not subscriptions:
        return 0
    forms = [
        (
            s.hub,
            {
                "hub.mode": "subscribe",
                "hub.topic": s.topic,
                "hub.callback": callback_url(s),
                "hub.secret": s.secret,
                "hub.lease_seconds": str(settings.LISEUSE_WEBSUB_LEASE_SECONDS),
            },
        )
        for s in subscriptions
    ]
    outcomes = asyncio.run(_post_to_hubs(forms))
    now = timezone.now()
    # Only the time of asking: the hub may have checked (activated) the subscription already,
    # between its answer and this line.
    WebSubSubscription.objects.filter(id__in=[s.id for s in subscriptions]).update(requested_at=now)
    for subscription, refusal in zip(subscriptions, outcomes, strict=True):
        if refusal:
            log.info(
                "websub: subscription refused: %s",
                refusal,
                extra={"feed_id": subscription.feed_id, "feed_url": subscription.topic},
            )
    return len(subscriptions)


def poll_floor_minutes(feed_ids: Sequence[int]) -> dict[int, int]:
    """The polling floor of feeds the hub pushes (claim uses it): slower, never stopped."""
    active = WebSubSubscription.objects.filter(
        feed_id__in=feed_ids, state=WebSubSubscription.State.ACTIVE, expires_at__gt=timezone.now()
    ).values_list("feed_id", flat=True)
    return {feed_id: settings.LISEUSE_WEBSUB_POLL_MINUTES for feed_id in active}


# --- the callback -----------------------------------------------------------------------------


@csrf_exempt
def callback(request: HttpRequest, token: str) -> HttpResponse:
    # One made through a plain-http hub sent its secret in clear: unknown here, whether or not
    # the upkeep (`pending`, which runs only while WebSub is on) has deleted it yet.
    subscription = (
        WebSubSubscription.objects.filter(token=token, hub__istartswith="https://")
        .select_related("feed")
        .first()
        if len(token) <= 64
        else None
    )
    if subscription is None:
        return HttpResponse("unknown subscription\n", status=404, content_type="text/plain")
    if request.method == "GET":
        return _verify(request, subscription)
    if request.method == "POST":
        return _receive(request, subscription)
    return HttpResponse("GET or POST\n", status=405, content_type="text/plain")


def _verify(request: HttpRequest, subscription: WebSubSubscription) -> HttpResponse:
    mode = request.GET.get("hub.mode", "")
    topic = request.GET.get("hub.topic", "")
    if topic != subscription.topic:
        return HttpResponse("not this topic\n", status=404, content_type="text/plain")
    if mode == "denied":
        subscription.state = WebSubSubscription.State.DENIED
        subscription.save(update_fields=["state"])
        log.info(
            "websub: the hub denied the subscription (%s)",
            request.GET.get("hub.reason", "no reason given")[:200],
            extra={"feed_id": subscription.feed_id, "feed_url": subscription.topic},
        )
        return HttpResponse("noted\n", content_type="text/plain")
    challenge = request.GET.get("hub.challenge", "")
    if mode != "subscribe" or not challenge:
        # Unsubscribing is never asked by liseuse: refuse, so that nobody else can.
        return HttpResponse("not asked\n", status=404, content_type="text/plain")
    try:
        lease = int(request.GET.get("hub.lease_seconds", ""))
    except ValueError:
        lease = settings.LISEUSE_WEBSUB_LEASE_SECONDS
    granted = timedelta(seconds=min(max(60, lease), MAX_LEASE.total_seconds()))
    subscription.state = WebSubSubscription.State.ACTIVE
    subscription.expires_at = timezone.now() + granted
    # A day before the end, or half-way through a short lease.
    subscription.renew_at = subscription.expires_at - min(RENEW_BEFORE, granted / 2)
    subscription.save(update_fields=["state", "expires_at", "renew_at"])
    return HttpResponse(challenge, content_type="text/plain")


def _signature_matches(request: HttpRequest, secret: str, body: bytes) -> bool:
    header = request.headers.get("X-Hub-Signature", "")
    method, _, given = header.partition("=")
    digest = _SIGNATURES.get(method.strip().lower())
    if digest is None or not given:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


class _Pushed:
    """A fetcher that answers with the pushed document: the push goes down the refresh path."""

    def __init__(self, url: str, body: bytes, content_type: str | None) -> None:
        self.url, self.body, self.content_type = url, body, content_type

    async def fetch_feed(self, request: FetchRequest) -> FetchResult:
        # The feed's validators are kept: the site's copy they name is no newer than the push,
        # so the next poll's 304 stays right.
        return FetchResult(
            url=self.url,
            status=200,
            body=self.body,
            content_type=self.content_type,
            etag=request.etag,
            last_modified=request.last_modified,
        )

    async def fetch(
        self, url: str, *, max_bytes: int | None = None, accept: str = "*/*", partial: bool = False
    ) -> FetchResult:
        raise FetchError(reasons.NOT_DURING_PUSH)


def _push_body(request: HttpRequest) -> bytes:
    """The pushed document: at most MAX_PUSH_BYTES + 1 bytes of it (one more: too big).

    Read here, not as `request.body`, which reads up to DATA_UPLOAD_MAX_MEMORY_SIZE (an OPML
    upload's 20 MB) and nothing at all without a Content-Length: Django's request stream is
    cut at Content-Length, and a hub that sends its content in chunks gives none. gunicorn
    (`liseuse serve`) takes the chunks apart and ends `wsgi.input` where the body ends, which
    it says with `wsgi.input_terminated`: that stream is read to its end, up to the cap. A
    server that says nothing of the kind may leave the stream open past the body; its chunked
    pushes read as empty and are dropped (unsigned), as before.
    """
    limit = MAX_PUSH_BYTES + 1
    read: Callable[[int], bytes] = request.read
    if not request.META.get("CONTENT_LENGTH") and request.META.get("wsgi.input_terminated"):
        read = request.META["wsgi.input"].read
    parts: list[bytes] = []
    size = 0
    while size < limit:
        part = read(limit - size)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def _receive(request: HttpRequest, subscription: WebSubSubscription) -> HttpResponse:
    body = _push_body(request)
    # The spec: answer 2xx even to a bad signature, and drop the content.
    if len(body) > MAX_PUSH_BYTES or not _signature_matches(request, subscription.secret, body):
        log.warning(
            "websub: push ignored (bad or missing signature, or too big)",
            extra={"feed_id": subscription.feed_id, "feed_url": subscription.topic},
        )
        return HttpResponse(status=202)
    if reasons.is_process_crash(subscription.feed.last_error):
        # Read here, in a web process, the document would end it with the requests it serves,
        # and the hub, answered by no one, would send it again to the next. As for "Refresh
        # now" (`worker.refresh_feed_now`), only the refresh loop's children read such a feed,
        # with back-off; acknowledged, as a retry would be read no better.
        log.warning(
            "websub: push ignored: reading this feed crashed the refresh process",
            extra={"feed_id": subscription.feed_id, "feed_url": subscription.topic},
        )
        return HttpResponse(status=202)
    report = process_push(subscription.feed_id, body, request.content_type or None)
    if report is None and _being_refreshed(subscription.feed_id):
        # A worker holds the feed: it may have fetched the site before this content was
        # published, and the feed's next poll may be hours away (the safety net's floor). The
        # spec has hubs send a notification again until the subscriber answers 2xx ("Hubs
        # SHOULD retry notifications repeatedly until successful"): the hub keeps the body,
        # liseuse keeps nothing, and the next delivery finds the feed free. A hub that does
        # not retry loses nothing the next poll does not bring.
        log.info(
            "websub: push deferred, the feed is being refreshed: the hub is asked to retry",
            extra={"feed_id": subscription.feed_id, "feed_url": subscription.topic},
        )
        answer = HttpResponse(
            "the feed is being refreshed; send it again\n", status=503, content_type="text/plain"
        )
        answer["Retry-After"] = str(PUSH_RETRY_AFTER)
        return answer
    subscription.last_push_at = timezone.now()
    subscription.save(update_fields=["last_push_at"])
    if report is not None:
        log.info(
            "websub: push %s",
            report.outcome,
            extra={
                "feed_id": report.feed_id,
                "feed_url": report.url,
                "duration_ms": report.duration_ms,
                "new_entries": report.new_entries,
            },
        )
    return HttpResponse(status=202)


def _being_refreshed(feed_id: int) -> bool:
    """Whether a lease on the feed runs (a worker fetching it, or another push being stored),
    which ends soon: a retry finds the feed free. A feed not claimed for another reason (it is
    disabled, or nobody follows it) would turn every retry away: its push is acknowledged."""
    from liseuse.feeds import claim  # imported here: claim imports this module

    now = claim.database_now()
    return Feed.objects.filter(id=feed_id, disabled=False, lease_until__gte=now).exists()


def process_push(feed_id: int, body: bytes, content_type: str | None) -> FeedReport | None:
    """Store a pushed document as a refresh of the feed; None if the feed cannot be claimed
    now (a worker or another push holds it, or nobody follows it any more, or it is disabled)."""
    # Imported here: claim imports this module (for the polling floor).
    from liseuse.feeds import claim
    from liseuse.feeds import worker  # the wiring of the pipeline lives there

    owner = f"websub:{worker.worker_id()}"[:64]
    claimed: list[FeedToRefresh] = claim.claim_feeds(
        owner=owner,
        now=claim.database_now(),
        lease=timedelta(seconds=settings.LISEUSE_LEASE_SECONDS),
        limit=1,
        due_only=False,
        feed_ids=[feed_id],
    )
    if not claimed:
        return None
    feed = claimed[0]
    pushed = _Pushed(feed.url, body, content_type)
    return worker.refresh_batch([feed], owner=owner, fetcher=pushed).reports[0]
