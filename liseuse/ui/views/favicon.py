"""Site icons, served by liseuse itself so that reading never reveals the reader to the site."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.http import HttpRequest
from django.http import HttpResponse

from liseuse.feeds import icons as icon_keys
from liseuse.feeds import queries


def favicon(request: HttpRequest, feed_id: int) -> HttpResponse:
    follower_id: int | None = None
    if request.user.is_authenticated:
        follower_id = request.user.pk
    elif not icon_keys.opens(feed_id, request.GET.get("key", "")):
        # An app's iconUrl (feeds.icons); anyone else logs in first.
        return redirect_to_login(request.get_full_path())
    icon = queries.feed_icon(feed_id, follower_id=follower_id)
    # Someone else's feed and a feed without icon look the same: 404.
    if icon is None:
        raise Http404("no icon")
    response = HttpResponse(bytes(icon.data), content_type=icon.content_type)
    # An SVG opened on its own must not run scripts in liseuse's origin.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response["Cache-Control"] = "private, max-age=86400"
    return response
