"""Stored XSS: hostile feeds and a hostile OPML file, loaded through the web pages in Chromium
and through both APIs.

The browser walk runs twice: with liseuse's CSP (what a reader gets), then with the CSP
bypassed, so that escaping and the sanitizer are proven on their own and the CSP is only a
second wall. It fails on any dialog, any call of `xss()`, any request to the canary host, and
any element left with an event attribute or a javascript:/vbscript:/data:text/html URL.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.test import override_settings
from lxml import etree
from lxml import html as lxml_html

from liseuse.accounts.models import User
from liseuse.feeds.models import Category
from liseuse.feeds.models import Entry
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.worker import refresh_once
from tests.fever.conftest import fever_key
from tests.greader.conftest import GReader
from tests.greader.conftest import with_api_password
from tests.httpserver import LocalServer
from tests.security import hostile
from tests.security.xss_vectors import BAD_SCHEMES
from tests.security.xss_vectors import CANARY
from tests.security.xss_vectors import VECTORS
from tests.ui.conftest import browser  # noqa: F401  (the shared Chromium fixture)

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from playwright.sync_api import BrowserContext
    from playwright.sync_api import Dialog
    from playwright.sync_api import FilePayload
    from playwright.sync_api import Page
    from playwright.sync_api import Route
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Attributes that hold a URL the browser may load or navigate to.
URL_ATTRIBUTES = (
    "href",
    "src",
    "action",
    "formaction",
    "data",
    "poster",
    "background",
    "xlink:href",
    "srcset",
    "cite",
    "longdesc",
    "ping",
    "data-url",
    "lowsrc",
    "dynsrc",
)


def bad_url(value: str) -> bool:
    """A URL a browser would run as script (the way browsers read it: entities decoded,
    control characters and white space dropped, any case)."""
    for candidate in value.split(","):  # srcset holds several
        squeezed = re.sub(r"[\x00-\x20\u200b\u2028\u2029]", "", html.unescape(candidate))
        if squeezed.lower().startswith(BAD_SCHEMES):
            return True
    return False


# Run in the page: what no page may hold after the sanitizer and the templates.
DOM_SCAN = """(attrs) => {
  const bad = /^((javascript|vbscript|livescript|mocha):|data:text\\/html)/i;
  const squeeze = (s) => s.replace(/[\\x00-\\x20\\u200b\\u2028\\u2029]/g, '');
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith('on')) found.push(el.tagName + ' ' + name);
      if ((attrs.includes(name) || name === 'srcdoc')
          && attr.value.split(',').some((part) => bad.test(squeeze(part))))
        found.push(el.tagName + ' ' + name + '=' + attr.value.slice(0, 60));
    }
    const tag = el.tagName.toLowerCase();
    if (tag === 'script' && !(el.getAttribute('src') || '').startsWith('/static/'))
      found.push('script ' + el.outerHTML.slice(0, 60));
    if (['object', 'embed', 'base', 'applet', 'frame', 'frameset'].includes(tag))
      found.push(tag);
    if (tag === 'meta' && el.getAttribute('http-equiv')) found.push('meta http-equiv');
    if (tag === 'iframe' && el.hasAttribute('srcdoc')) found.push('iframe srcdoc');
    // Reverse tab-nabbing (FreshRSS#1459): a new tab must not get window.opener.
    if (tag === 'a' && el.target === '_blank' && !/noopener|noreferrer/.test(el.rel))
      found.push('a target=_blank without rel=noopener: ' + el.href.slice(0, 60));
  }
  return found;
}"""

WATCH = """
window.__xss = [];
window.xss = (n) => window.__xss.push(String(n));
"""


class Watch:
    """What the pages of one browser context did that they should not have."""

    def __init__(self) -> None:
        self.dialogs: list[str] = []
        self.canary: list[str] = []
        self.ran: list[str] = []
        self.dom: list[str] = []

    def route(self, route: Route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if CANARY in host or "canary" in url:
            self.canary.append(url)
            route.abort()
        elif host in LOOPBACK or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            route.abort()

    def dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def popup(self, popup: Page) -> None:
        self.ran.append(f"popup {popup.url}")

    def problems(self) -> dict[str, list[str]]:
        found = {
            "dialogs": self.dialogs,
            "canary requests": self.canary,
            "scripts that ran": self.ran,
            "dangerous DOM": self.dom,
        }
        return {name: items[:20] for name, items in found.items() if items}


def open_context(
    chromium: Browser, base_url: str, user: User, watch: Watch, *, bypass_csp: bool
) -> BrowserContext:
    client = Client()
    client.force_login(user)
    context = chromium.new_context(base_url=base_url, bypass_csp=bypass_csp, locale="en-GB")
    context.add_init_script(WATCH)
    context.route("**/*", watch.route)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}]
    )
    return context


def visit(page: Page, path: str, watch: Watch, *, scan: bool = True) -> None:
    response = page.goto(path)
    assert response is not None and response.status < 400, (path, response and response.status)
    page.wait_for_load_state("load")
    # Open every folded entry and hover, focus and click nothing else: handlers that would
    # need a gesture are caught by the DOM scan instead.
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    page.wait_for_timeout(150)
    watch.ran += [f"{path}: {mark}" for mark in page.evaluate("window.__xss || []")]
    if scan:
        watch.dom += [f"{path}: {item}" for item in page.evaluate(DOM_SCAN, list(URL_ATTRIBUTES))]


def refresh_all() -> None:
    # In a thread of its own: Playwright keeps an event loop running in the test's thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(refresh_once, all_feeds=True).result()


@pytest.fixture
def reader(transactional_db: None) -> User:
    user = User.objects.create_user("alice", password="correct horse battery")
    user.page_size = 500
    # Opening every entry at once must not fire hundreds of "mark read" requests.
    user.mark_read_on_open = False
    user.mark_read_on_scroll = False
    user.save()
    return user


@pytest.fixture
def site() -> Iterator[LocalServer]:
    # alice's streams are public too, so that the anonymous pages are walked with the rest.
    with (
        hostile.hostile_site() as server,
        override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True, LISEUSE_PUBLIC_READER="alice"),
    ):
        yield server


def test_the_vectors_are_many_and_every_field_carries_them(site: LocalServer) -> None:
    assert len(VECTORS) >= 150
    rss = hostile.rss(site.url("").rstrip("/")).decode()
    for tag in (
        "title",
        "link",
        "guid",
        "description",
        "content:encoded",
        "dc:creator",
        "category",
    ):
        assert len(re.findall(f"<{tag}[ >]", rss)) >= 150, tag
    assert rss.count("<enclosure ") >= 150


def test_hostile_feeds_and_opml_run_nothing_in_chromium(
    browser: Browser,  # noqa: F811
    live_server: LiveServer,
    reader: User,
    site: LocalServer,
) -> None:
    watch = Watch()
    context = open_context(browser, live_server.url, reader, watch, bypass_csp=False)
    page = context.new_page()
    page.on("dialog", watch.dialog)
    page.on("popup", watch.popup)

    # Loaded through the pages, as a person would: the add form, then the OPML upload.
    for path in ("/rss", "/atom"):
        page.goto("/manage/subscriptions/")
        form = page.locator("form[action$='/manage/subscriptions/add']")
        form.locator("input[name=url]").fill(site.url(path))
        form.locator("button[type=submit]").click()
        page.wait_for_load_state("load")
        assert "/manage/subscriptions/" in page.url and page.locator(".error").count() == 0
    refresh_all()
    assert Entry.objects.count() == 2 * len(VECTORS)
    page.goto("/manage/subscriptions/")
    upload = page.locator("form[action$='/manage/opml/import']")
    payload: FilePayload = {
        "name": "hostile.opml",
        "mimeType": "text/x-opml",
        "buffer": hostile.opml(site.url("").rstrip("/")),
    }
    upload.locator("input[type=file]").set_input_files(files=[payload])
    upload.locator("button[type=submit]").click()
    page.wait_for_load_state("load")
    assert Subscription.objects.filter(user=reader).count() == 2 + 60

    rss_feed = Feed.objects.get(url=site.url("/rss"))
    assert rss_feed.favicon is not None  # the SVG with script, stored
    sub = Subscription.objects.get(user=reader, feed=rss_feed)
    hostile_category = Category.objects.filter(user=reader).first()
    assert hostile_category is not None
    pages = [
        "/?view=normal&state=all",
        "/?view=reader&state=all",
        "/?view=global&state=all",
        f"/f/{rss_feed.pk}/?view=reader&state=all",
        f"/f/{rss_feed.pk}/?view=normal&state=all&order=oldest",
        f"/c/{hostile_category.pk}/?state=all",
        "/manage/subscriptions/",
        f"/manage/subscriptions/{sub.pk}/",
        f"/manage/categories/{hostile_category.pk}/",
        "/manage/health/",
        "/manage/labels/",
        "/search/?q=xss&state=all",
        "/?search=xss&state=all&view=reader",
        "/manage/settings/",
        "/manage/sessions/",
        "/public/",
        f"/public/f/{rss_feed.pk}/",
    ]
    for path in pages:
        visit(page, path, watch)
    # The stored SVG icon opened as a page of its own (Miniflux CVE-2025-31483): the
    # sandboxing CSP of the favicon view keeps its script from running.
    visit(page, f"/favicons/{rss_feed.pk}", watch, scan=False)
    context.close()
    assert not watch.problems(), watch.problems()

    # The same walk with the CSP switched off: escaping and the sanitizer alone hold.
    bare = Watch()
    context = open_context(browser, live_server.url, reader, bare, bypass_csp=True)
    page = context.new_page()
    page.on("dialog", bare.dialog)
    page.on("popup", bare.popup)
    # First, the watchers themselves: a page that does run a vector is caught.
    page.goto("/manage/settings/")
    page.set_content(
        "<img src=x onerror=xss('self-test')><a href='java&#9;script:x'>x</a>"
        "<img src=x onerror=alert('self-test')><script src=//canary.invalid/t.js></script>"
    )
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") == ["self-test"]
    assert len(page.evaluate(DOM_SCAN, list(URL_ATTRIBUTES))) >= 3
    page.set_content("<a target=_blank href='https://example.org/'>x</a>")
    assert len(page.evaluate(DOM_SCAN, list(URL_ATTRIBUTES))) == 1
    assert bare.dialogs == ["self-test"] and bare.canary == ["http://canary.invalid/t.js"]
    bare.dialogs.clear()
    bare.canary.clear()
    for path in pages:
        visit(page, path, bare)
    context.close()
    assert not bare.problems(), bare.problems()
    # Every page was walked with the vectors on it (a page that silently lost its entries
    # would prove nothing).
    assert site.paths().count("/rss") >= 1 and site.paths().count("/atom") >= 1


def _strings(value: Any) -> Iterator[tuple[str, str]]:
    """(key, string) of every string in a JSON answer, nested."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, str):
                yield str(key), inner
            else:
                yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            if isinstance(inner, str):
                yield "", inner
            else:
                yield from _strings(inner)


def _urls_in(key: str, value: str) -> list[str]:
    """The URLs a client would follow or load: URL-named fields, and the URL attributes of
    HTML fields. (Plain-text fields such as titles, categories and types may hold markup as
    text: a client escapes them, and liseuse's answers say they are text.)"""
    if key.lower() in {
        "href",
        "url",
        "htmlurl",
        "xmlurl",
        "canonical",
        "link",
        "iconurl",
        "site_url",
    }:
        return [value]
    if key.lower() in {"content", "html", "description", "summary"} and "<" in value:
        try:
            tree = lxml_html.fragment_fromstring(value, create_parent="div")
        except Exception:
            return []
        return [
            str(attr_value)
            for element in tree.iter()
            for name, attr_value in element.attrib.items()
            if name.lower() in URL_ATTRIBUTES or name.lower().startswith("on")
        ]
    return []


def test_the_apis_never_hand_a_client_a_script_url(reader: User, site: LocalServer) -> None:
    with_api_password(reader)
    gr = GReader(Client())
    assert gr.login("alice").status_code == 200
    # Loaded through the Google Reader API, as an app subscribes.
    for path in ("/rss", "/atom"):
        # In a thread of its own: the module's browser (if started) holds an event loop here.
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(
                gr.post, "reader/api/0/subscription/quickadd", {"quickadd": site.url(path)}
            ).result()
        assert answer.status_code == 200 and answer.json()["numResults"] == 1
    refresh_all()
    assert Entry.objects.count() == 2 * len(VECTORS)
    answers: list[tuple[str, Any]] = []
    for call in (
        "reader/api/0/stream/contents/user/-/state/com.google/reading-list",
        "reader/api/0/subscription/list",
        "reader/api/0/tag/list",
    ):
        response = gr.get(call, output="json", n="1000")
        assert response.status_code == 200, call
        answers.append((call, response.json()))
    ids = [str(e.pk) for e in Entry.objects.all()[:200]]
    contents = gr.post("reader/api/0/stream/items/contents", {"i": ids})
    answers.append(("items/contents", contents.json()))
    atom_stream = gr.get("reader/atom/user/-/state/com.google/reading-list", n="1000")
    assert atom_stream.status_code == 200

    fever = Client()
    from tests.fever.conftest import with_api_password as fever_password

    fever_password(reader)
    key = fever_key("alice")
    for query in ("feeds&groups&favicons&links", "items&since_id=0", "items&max_id=999999"):
        response = fever.post(f"/api/fever.php?api&{query}", {"api_key": key})
        assert response.status_code == 200 and response.json()["auth"] == 1
        answers.append((f"fever {query}", response.json()))

    found = []
    for call, answer in answers:
        for key_name, value in _strings(answer):
            found += [
                f"{call} {key_name}: {url[:60]}"
                for url in _urls_in(key_name, value)
                if bad_url(url)
            ]
            if key_name.lower() in {"href", "url", "canonical"} and bad_url(value):
                found.append(f"{call} {key_name}: {value[:60]}")
    assert not found, found[:20]
    # The Atom stream of the Google Reader API (read by some clients) holds no such link either.
    tree = etree.fromstring(atom_stream.content, etree.XMLParser(resolve_entities=False))
    links = [str(el.get("href")) for el in tree.iter() if el.get("href") is not None]
    inner = [
        url
        for el in tree.iter()
        if etree.QName(el).localname in ("content", "summary") and el.text
        for url in _urls_in("content", el.text)
    ]
    assert len(links) > 150 and len(inner) > 20
    assert not [url for url in links + inner if bad_url(url)]
    # And the raw bytes carry no executable scheme in any attribute of a tag. (Titles and
    # authors are plain text, kept with their words in brackets, which the APIs give as
    # full-width look-alikes: "＜a href=javascript:…＞" is text, not a tag, there.)
    assert not re.search(
        rb"""(?i)<[^<>]*\shref=\\?["']?\s*javascript:""",
        json.dumps([a for _, a in answers]).encode(),
    )
