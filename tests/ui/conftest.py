"""Browser fixtures: Playwright driving Debian's Chromium against pytest-django's live server.

Only loopback is reachable from the browser: any other request (an image of a feed's article,
say) is aborted, so that the tests never touch the network.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from django.test import Client

from liseuse.accounts.models import User

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from playwright.sync_api import BrowserContext
    from playwright.sync_api import Route

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright's own download is not used
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).parent / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
    # between two browser steps are still plain synchronous calls.
    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=ARGS
            )
            yield launched
            launched.close()
    finally:
        if saved is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


def _only_loopback(route: Route) -> None:
    parts = urlsplit(route.request.url)
    host = parts.hostname or ""
    if parts.path == "/favicon.ico":
        # Asked by the browser on its own after a page has loaded, so possibly still being
        # answered by the live server when the test ends and its database is emptied: that
        # request once found a table locked and failed the teardown (and the next test).
        route.fulfill(status=404)
    elif host in LOOPBACK or route.request.url.startswith(("data:", "blob:")):
        route.continue_()
    else:
        route.abort()


def logged_in_context(
    browser: Browser,
    base_url: str,
    user: User,
    *,
    width: int = 1100,
    height: int = 800,
    locale: str = "en-GB",
    javascript: bool = True,
) -> BrowserContext:
    """A fresh browser context with `user`'s session cookie, talking to loopback only."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(
        viewport={"width": width, "height": height},
        locale=locale,
        base_url=base_url,
        timezone_id="Europe/Paris",
        java_script_enabled=javascript,
    )
    context.route("**/*", _only_loopback)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}]
    )
    return context


def serious_axe_violations(page: object) -> list[str]:
    """axe-core's serious and critical violations on the page (axe-core installed by npm
    under tests/ui/.axe; see the report for the command)."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    if not AXE.exists():
        pytest.fail(f"axe-core is missing: npm install --prefix {AXE.parents[2]} axe-core@4")
    # Evaluated through the DevTools protocol: the page's CSP (no inline script) stays on.
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ['violations']});
            return result.violations
              .filter(v => v.impact === 'serious' || v.impact === 'critical')
              .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '));
        }"""
    )
    assert isinstance(found, list)
    return [str(item) for item in found]
