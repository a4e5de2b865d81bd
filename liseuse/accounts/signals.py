"""At login, note in the session which browser and address opened it (the sessions page shows
them, so that a person can tell their own devices from someone else's), and sweep ended ones."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from liseuse.accounts import sessions
from liseuse.accounts.throttle import client_address


def remember_where(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    request.session[sessions.AGENT] = request.headers.get("User-Agent", "")[:300]
    request.session[sessions.ADDRESS] = client_address(request)
    request.session[sessions.CREATED] = timezone.now().isoformat()
    # Ended sessions are of no use: each login sweeps them (an indexed delete), so the table
    # stays small without a cron job.
    from liseuse.accounts.models import Session

    Session.objects.filter(expire_date__lt=timezone.now()).delete()
