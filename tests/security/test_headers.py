"""Every page answers with the strict CSP: no inline script, no eval, whatever the route."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from liseuse.accounts.models import Session
from liseuse.accounts.models import User
from liseuse.ui.views.sessions import reference
from tests.security.conftest import Alices
from tests.security.conftest import logged_in
from tests.security.test_isolation import all_routes

pytestmark = pytest.mark.django_db


def script_sources(csp: str) -> list[str]:
    for directive in csp.split(";"):
        name, _, value = directive.strip().partition(" ")
        if name == "script-src":
            return value.split()
    # Without script-src, default-src governs scripts.
    for directive in csp.split(";"):
        name, _, value = directive.strip().partition(" ")
        if name == "default-src":
            return value.split()
    return ["*"]


def test_every_route_answers_get_with_a_csp_that_forbids_inline_script(
    world: Alices, admin: User
) -> None:
    ids: dict[str, int | str] = {
        "feed_id": world.sub.feed_id,
        "category_id": world.category.pk,
        "label_id": world.label.pk,
        "entry_id": world.entry.pk,
        "sub_id": world.sub.pk,
        "saved_id": world.saved.pk,
        "user_id": world.user.pk,
    }
    client = logged_in(world.user)
    other = logged_in(world.user)
    session = Session.objects.filter(user=world.user).last()
    assert session is not None
    ids["ref"] = reference(session.session_key)
    admin_client = logged_in(admin)
    anonymous = Client()
    checked = 0
    for name, pattern in all_routes():
        kwargs = {
            key: value
            for key, value in ids.items()
            if f"<{key}>" in pattern or f":{key}>" in pattern
        }
        try:
            path = reverse(name, kwargs=kwargs)
        except Exception:
            continue
        for who in (client, admin_client, anonymous, other):
            response = who.get(path)
            sources = script_sources(response.get("Content-Security-Policy", ""))
            assert sources in (["'self'"], ["'none'"]), (name, response.status_code, sources)
            if sources == ["'none'"]:  # third-party bytes (icons): sandboxed as well
                assert "sandbox" in response["Content-Security-Policy"], name
            assert response["X-Content-Type-Options"] == "nosniff", name
        checked += 1
    assert checked >= 40
    for path in (
        "/api/greader.php",
        "/api/greader.php/reader/api/0/subscription/list",
        "/reader/api/0/stream/contents/x",
        "/api/fever.php?api",
        "/static/ui/liseuse.css",
        "/no/such/page",
    ):
        response = anonymous.get(path)
        assert script_sources(response["Content-Security-Policy"]) == ["'self'"], path
