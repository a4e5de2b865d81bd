"""Security headers on every response: a strict Content-Security-Policy.

No script runs unless it is one of liseuse's own files (no inline script, no eval), so that an
entry's content that slipped past the sanitizer still could not run anything. Images and media
come from anywhere (feeds embed them); frames only from the players the sanitizer keeps.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest
from django.http import HttpResponse

from liseuse.feeds.media import REQUEST_ORIGIN
from liseuse.pipeline.sanitize import IFRAME_HOSTS


def content_security_policy() -> str:
    frames = " ".join(f"https://{host}" for host in sorted(IFRAME_HOSTS))
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            # Inline style attributes are harmless next to script-src 'self' (entry content has
            # none: the sanitizer drops them) and keep templates simple.
            "style-src 'self' 'unsafe-inline'",
            "img-src * data:",
            "media-src *",
            f"frame-src {frames}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = content_security_policy()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        origin = REQUEST_ORIGIN.set(f"{request.scheme}://{request.get_host()}")
        try:
            response = self.get_response(request)
        finally:
            REQUEST_ORIGIN.reset(origin)
        # A view may set a stricter one (the favicon view sandboxes SVG): keep it.
        response.headers.setdefault("Content-Security-Policy", self.policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


class RequestSizeMiddleware:
    """Refuse a request body over `LISEUSE_MAX_REQUEST_BYTES` (413) before anything reads it.

    Django caps form fields in memory but lets file uploads spill to disk without a limit; the
    biggest thing liseuse takes is an OPML file (5 MB), so a larger body is refused whole.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = int(getattr(settings, "LISEUSE_MAX_REQUEST_BYTES", 20 * 1024 * 1024))
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return HttpResponse("Bad Content-Length.", status=400, content_type="text/plain")
        if length > limit:
            return HttpResponse(
                f"The request is too large ({length} bytes; at most {limit}).",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)
