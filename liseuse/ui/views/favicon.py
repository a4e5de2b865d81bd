"""Site icons, served by liseuse itself so that reading never reveals the reader to the site."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.http import HttpRequest
from django.http import HttpResponse

from liseuse.feeds.models import Subscription


@login_required
def favicon(request: HttpRequest, feed_id: int) -> HttpResponse:
    subscription = (
        Subscription.objects.filter(user=request.user.pk, feed_id=feed_id)
        .select_related("feed__favicon")
        .first()
    )
    # Someone else's feed and a feed without icon look the same: 404.
    if subscription is None or subscription.feed.favicon is None:
        raise Http404("no icon")
    icon = subscription.feed.favicon
    response = HttpResponse(bytes(icon.data), content_type=icon.content_type)
    # An SVG opened on its own must not run scripts in liseuse's origin.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response["Cache-Control"] = "private, max-age=86400"
    return response
