from __future__ import annotations

import pytest
from django.test import Client

from liseuse.accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/setup/", "/login/", "/", "/static/ui/liseuse.css"])
def test_every_page_carries_a_strict_csp_and_the_other_headers(
    client: Client, alice: User, path: str
) -> None:
    client.force_login(alice)
    response = client.get(path)
    csp = response["Content-Security-Policy"]
    assert (
        "script-src 'self'" in csp
        and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    frames = csp.split("frame-src ")[1].split(";")[0].split()
    assert "https://www.youtube-nocookie.com" in frames and "https://player.vimeo.com" in frames
    assert response["X-Content-Type-Options"] == "nosniff"
    # Never a referrer to another site; same-origin because "no-referrer" makes browsers post
    # forms with "Origin: null", which the CSRF check refuses (settings.py).
    assert response["Referrer-Policy"] == "same-origin"
