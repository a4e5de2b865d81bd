"""The media proxy's one view (see `liseuse.feeds.media`)."""

from __future__ import annotations

from django.http import Http404
from django.http import HttpRequest
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from liseuse.feeds import media
from liseuse.pipeline.types import PipelineError


@require_GET
def media_proxy(request: HttpRequest, token: str) -> HttpResponse:
    # No login: apps load these URLs without a session. The signature is the permission: only
    # URLs liseuse wrote into the entries it served can be fetched through it.
    if not media.enabled():
        raise Http404("the media proxy is off")
    url = media.unsign(token)
    if url is None:
        raise Http404("not a media URL of this instance")
    try:
        result = media.fetch_media(url)
    except PipelineError as exc:
        return HttpResponse(
            f"could not fetch the media: {exc}", status=502, content_type="text/plain"
        )
    kind = (result.content_type or "").split(";")[0].strip().lower()
    if not kind.startswith(media.SERVED_TYPES) or kind == "image/svg+xml":
        return HttpResponse("not an image, audio or video", status=415, content_type="text/plain")
    response = HttpResponse(result.body, content_type=kind)
    # Whatever the bytes are, they run nothing in liseuse's origin.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=86400"
    return response
