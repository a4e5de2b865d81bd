"""What every page a person reads through shares: their language and time zone, "today", and
where to go back after a form.

`personal` is the decorator of the reading (and management) pages: it asks for a login, then
speaks the person's language (`User.language`, else the browser's, which `LocaleMiddleware`
already chose) and shows times in their time zone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Concatenate
from typing import ParamSpec
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from liseuse.accounts.models import User

P = ParamSpec("P")


def personal(
    view: Callable[Concatenate[HttpRequest, User, P], HttpResponse],
) -> Callable[Concatenate[HttpRequest, P], HttpResponse]:
    """Log-in required; the view gets the person as its second argument."""

    def wrapped(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        user = request.user
        if not isinstance(user, User) or not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if user.language and user.language in dict(settings.LANGUAGES):
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        timezone.activate(zone_of(user))
        try:
            return view(request, user, *args, **kwargs)
        finally:
            timezone.deactivate()

    # functools.wraps types the result as the wrapped signature; copy the names by hand.
    wrapped.__name__ = view.__name__
    wrapped.__qualname__ = view.__qualname__
    wrapped.__doc__ = view.__doc__
    wrapped.__module__ = view.__module__
    return wrapped


def zone_of(user: User) -> ZoneInfo:
    """The person's time zone, UTC if theirs is unknown to this machine."""
    try:
        return ZoneInfo(user.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def today() -> date:
    """The current date in the active time zone.

    `LISEUSE_UI_TODAY` (an ISO date) pins it, so that a test can show the page as a reader saw
    it on a given day; the day separators ("Today", "Yesterday") are computed from it.
    """
    pinned = getattr(settings, "LISEUSE_UI_TODAY", None)
    if pinned:
        return date.fromisoformat(str(pinned))
    return timezone.localdate()


def back_to(request: HttpRequest, default: str) -> str:
    """The `next` field of a form if it points into this site, else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def bad_request(request: HttpRequest, reason: str) -> HttpResponse:
    """A 400 for a person's browser: the reason in the site's layout, with a way back (the
    form's `next`, else the stream without the damaged parameters). A bare line of text left
    them on a page with no link; the page's script, which asks for JSON, gets the reason as
    text, as before."""
    if wants_json(request):
        return HttpResponse(reason, status=400, content_type="text/plain; charset=utf-8")
    if request.method == "POST":  # a form: back where it came from, else home
        title, default = _("This cannot be done"), reverse("ui:home")
    else:
        title, default = _("This page cannot be shown"), request.path
    context = {"title": title, "reason": reason, "back": back_to(request, default)}
    return render(request, "ui/refused.html", context, status=400)


def wants_json(request: HttpRequest) -> bool:
    """The page's script asks for JSON; a plain form gets a redirect instead."""
    return "application/json" in request.headers.get("Accept", "")
