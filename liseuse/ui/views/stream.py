"""The reading pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.http import HttpResponse
from django.shortcuts import redirect
from django.shortcuts import render

from liseuse.accounts.models import User
from liseuse.feeds import queries


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("ui:login" if User.objects.exists() else "ui:setup")
    return main_stream(request)


@login_required
def main_stream(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    page = queries.stream(request.user, queries.StreamFilter(), limit=request.user.page_size)
    return render(
        request,
        "ui/stream.html",
        {"entries": page.entries, "unread": queries.unread_total(request.user)},
    )
