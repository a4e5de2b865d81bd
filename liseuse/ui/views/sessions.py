"""A person's sessions: where they are logged in, and ending the ones they do not recognise.

A session is named in the page and in URLs by a digest of its key, never by the key itself:
the key is the cookie, and a page or a log line must not be enough to take a session over.
"""

from __future__ import annotations

import hashlib

from django.contrib import messages
from django.http import Http404
from django.http import HttpRequest
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django.views.decorators.http import require_POST

from liseuse.accounts import services
from liseuse.accounts.models import Session
from liseuse.accounts.models import User
from liseuse.ui.views.common import personal
from liseuse.ui.views.subscriptions import see_other


def reference(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()[:24]


def _own_live_sessions(user: User) -> list[Session]:
    return list(
        Session.objects.filter(user=user, expire_date__gt=timezone.now()).order_by(
            "-created", "-expire_date"
        )
    )


@personal
@require_GET
def index(request: HttpRequest, user: User) -> HttpResponse:
    current = request.session.session_key or ""
    rows = [
        {
            "ref": reference(session.session_key),
            "current": session.session_key == current,
            "agent": session.user_agent,
            "address": session.address,
            "created": session.created,
            "expires": session.expire_date,
        }
        for session in _own_live_sessions(user)
    ]
    return render(request, "ui/account/sessions.html", {"sessions": rows})


@personal
@require_POST
def end(request: HttpRequest, user: User, ref: str) -> HttpResponse:
    # Only the person's own sessions are searched: someone else's reference is a 404.
    for session in _own_live_sessions(user):
        if reference(session.session_key) == ref:
            if session.session_key == request.session.session_key:
                raise Http404("this is the current session: log out instead")
            session.delete()
            messages.success(request, _("The session was ended."))
            return see_other("ui:sessions")
    raise Http404("no such session")


@personal
@require_POST
def end_others(request: HttpRequest, user: User) -> HttpResponse:
    count = services.end_sessions(user, keep=request.session.session_key)
    messages.success(request, _("Other sessions ended: %(count)d.") % {"count": count})
    return see_other("ui:sessions")
