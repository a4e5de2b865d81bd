"""The media proxy's one view (see `liseuse.feeds.media`)."""

from __future__ import annotations

import logging

from django.http import Http404
from django.http import HttpRequest
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from liseuse.feeds import media
from liseuse.pipeline.types import ByteRange
from liseuse.pipeline.types import FetchError
from liseuse.pipeline.types import FetchResult
from liseuse.pipeline.types import PipelineError
from liseuse.pipeline.types import RangeNotSatisfiable

log = logging.getLogger("liseuse.media")


@require_GET
def media_proxy(request: HttpRequest, token: str) -> HttpResponse:
    # No login: apps load these URLs without a session. The signature is the permission: only
    # URLs liseuse wrote into the entries it served can be fetched through it.
    if not media.enabled():
        raise Http404("the media proxy is off")
    url = media.unsign(token)
    if url is None:
        raise Http404("not a media URL of this instance")
    asked = media.requested_range(request.headers.get("Range"))
    try:
        result = _fetch(url, asked)
    except PipelineError as exc:
        if isinstance(exc, FetchError) and exc.status == 416:
            refused = HttpResponse(
                "the range asked for starts after the end of the file",
                status=416,
                content_type="text/plain",
            )
            if isinstance(exc, RangeNotSatisfiable) and exc.size is not None:
                # What a player needs to know where the file ends (RFC 9110, 15.5.17).
                refused["Content-Range"] = f"bytes */{exc.size}"
            return refused
        reason = str(exc)
        if reason.startswith("refused"):
            # The guard's reasons name addresses and settings: for the log, not for whoever
            # holds the URL (anonymous visitors of /public/ too).
            log.info("media proxy: refused", extra={"url": url, "error": reason})
            return HttpResponse("could not fetch the media", status=502, content_type="text/plain")
        return HttpResponse(
            f"could not fetch the media: {reason}", status=502, content_type="text/plain"
        )
    kind = media.media_type(result)
    if kind is None:
        return HttpResponse("not an image, audio or video", status=415, content_type="text/plain")
    part = result.content_range
    if part is None or (asked is None and _whole(part)):
        response = HttpResponse(result.body, content_type=kind)
    else:
        # The part the site sent (the first one without a Range: see `_fetch`); the browser
        # asks for the next itself. The total is the site's, "*" when it did not say.
        response = HttpResponse(result.body, status=206, content_type=kind)
        total = "*" if part.total is None else str(part.total)
        response["Content-Range"] = f"bytes {part.first}-{part.last}/{total}"
    response["Accept-Ranges"] = "bytes"
    # Whatever the bytes are, they run nothing in liseuse's origin. (SecurityHeadersMiddleware
    # adds nosniff.)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=86400"
    return response


def _fetch(url: str, asked: tuple[int, int | None] | None) -> FetchResult:
    """What answers a request with the Range `asked` (None: none, or one ignored): the site
    is asked for one chunk from where the Range starts, never for more.

    Without a Range (an image, an app or a download: browsers' players always send one), the
    whole file is fetched as it always was, capped, when the first chunk is not all of it:
    a 206 answers only a Range (RFC 9110, 15.3.7), and what asked none may not read one. An
    audio or video file too large for that is answered with its first chunk all the same, as
    to "bytes=0-": a player reads it, and the Content-Range says what it is.

    A site that ignores Range sends the whole file every time; the fetcher cuts the part out
    as it passes, holding only the part, and reads at most LISEUSE_MEDIA_PROXY_MAX_BYTES of
    it: what the proxy always passed on of a file. So such a file plays and seeks as before
    within that much, and a part beyond is refused (502, "larger than…") rather than read
    through the whole file for each request of a player. Podcast hosts serve ranges (players
    need them); these sites are few.
    """
    first = 0 if asked is None else asked[0]
    last = first + media.chunk_bytes() - 1
    if asked is not None and asked[1] is not None:
        last = min(last, asked[1])
    try:
        result = media.fetch_media(url, (first, last))
    except FetchError as exc:
        if asked is None and exc.status == 416:
            return media.fetch_media(url)  # an empty file has no first byte to ask for
        raise
    part = result.content_range
    if asked is not None or part is None or _whole(part):
        return result
    kind = media.media_type(result)
    if kind is None:
        return result  # refused anyway
    if kind.startswith(media.PLAYED_TYPES) and (
        part.total is None or part.total > media.max_bytes()
    ):
        return result
    return media.fetch_media(url)


def _whole(part: ByteRange) -> bool:
    return part.first == 0 and part.total is not None and part.last + 1 == part.total
