"""The reading pages in a real browser (Chromium through Playwright, against the live server).

Set LISEUSE_SCREENSHOTS=1 to also write the screenshots of docs/screenshots/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from django.test import override_settings
from django.utils import timezone
from playwright.sync_api import expect

from liseuse.accounts.models import User
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from liseuse.feeds.subscribe import follow
from liseuse.feeds.worker import refresh_once
from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.ui.conftest import logged_in_context
from tests.ui.conftest import serious_axe_violations
from tests.ui.reading_data import add_entry
from tests.ui.reading_data import followed_feed

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)

UNREAD = re.compile(r"\bunread\b")
STARRED = re.compile(r"\bstarred\b")

FRAMABLOG = Path(__file__).parents[1] / "data" / "feeds" / "framablog.rss"
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
TITLES = [
    "Des ateliers solarpunk pour imaginer un avenir low-tech",
    "Que veut dire « libre » (ou « open source ») pour un grand modèle de langage ?",
    "Les conseils de Ray Bradbury à qui veut écrire – Open Culture (4)",
]


def screenshot(page: Page, name: str) -> None:
    if os.environ.get("LISEUSE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def assert_in_order(text: str, pieces: list[str]) -> None:
    at = 0
    for piece in pieces:
        found = text.find(piece, at)
        assert found >= 0, f"{piece!r} missing after position {at}"
        at = found + len(piece)


@pytest.fixture
def reader(transactional_db: None) -> Iterator[User]:
    """A person in Europe/Paris following the Framablog fixture, fetched for real over HTTP
    from a loopback server; the pages think today is 2024-01-20."""
    user = User.objects.create_user("claire", password="correct horse battery")
    user.timezone = "Europe/Paris"
    user.save()
    with LocalServer({"/framablog.rss": Reply(body=FRAMABLOG.read_bytes())}) as server:
        follow(user, server.url("/framablog.rss"), category="Libre")
        # In a thread of its own: Playwright keeps an event loop running in this one.
        with override_settings(LISEUSE_ALLOW_PRIVATE_NETWORKS=True), ThreadPoolExecutor(1) as pool:
            pool.submit(refresh_once, all_feeds=True).result()
    assert EntryState.objects.filter(user=user).count() == 3
    with override_settings(LISEUSE_UI_TODAY="2024-01-20"):
        yield user


def new_entry_arrives(user: User) -> None:
    feed = Feed.objects.get()
    add_entry(feed, "Un nouvel article", timezone.now() - timedelta(hours=1), readers=[user])


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "fr",
            [
                "Vue normale",
                "Il y a de nouveaux articles disponibles, cliquez pour rafraîchir la page.",
                "À partir d’avant-hier",
                "Flux principal",
                TITLES[0],
                "Par : Framasoft",
                "15 janvier 2024 à 03:09",
                "Cette semaine, à l’Université de Technologie de Compiègne",
                TITLES[1],
                "31 juillet 2023 à 05:42",
                "Le flou entretenu entre open source et libre",
                TITLES[2],
                "Par : Goofy",
                "18 août 2022 à 01:42",
                "Dans le 4e épisode de notre mini-série de l’été",
            ],
        ),
        (
            "en",
            [
                "Normal view",
                "There are new articles available, click to refresh the page.",
                "Before yesterday",
                "Main stream",
                TITLES[0],
                "By: Framasoft",
                "January 15, 2024 at 03:09",
                "Cette semaine, à l’Université de Technologie de Compiègne",
                TITLES[1],
                "July 31, 2023 at 05:42",
                TITLES[2],
                "By: Goofy",
                "August 18, 2022 at 01:42",
            ],
        ),
    ],
)
def test_the_reference_screen_reads_as_freshrss_in_both_languages(
    browser: Browser, live_server: LiveServer, reader: User, language: str, expected: list[str]
) -> None:
    reader.language = language
    reader.save()
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    # The page polls for new entries every second (as in the scrolling test): the other tests
    # keep the default two minutes, so that no poll is still being answered when a test's
    # database goes away.
    with override_settings(LISEUSE_UI_POLL_SECONDS=1):
        page.goto("/")
    assert page.title() == (
        "(3) Flux principal · liseuse" if language == "fr" else "(3) Main stream · liseuse"
    )
    assert page.locator("#new-articles").is_hidden()
    for line in page.locator("summary.entry-line").all():
        line.click()
    page.locator(".entry.unread").first.wait_for(state="detached")  # opening marked them read
    new_entry_arrives(reader)
    page.locator("#new-articles").wait_for(state="visible", timeout=10_000)
    text = page.inner_text("body")
    assert_in_order(text, expected)
    second = text[text.index(TITLES[1]) : text.index(TITLES[2])]
    assert "Par :" not in second and "By:" not in second  # the second entry has no author
    expect(page).to_have_title(re.compile(r"^\(1\) "))  # the new one, counted by the poll
    page.route("**/unread.json*", lambda route: route.abort())  # no more polls: done with them
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, f"normal-view-{language}")
    assert serious_axe_violations(page) == []
    context.close()


def test_a_keyboard_only_session(browser: Browser, live_server: LiveServer, reader: User) -> None:
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    page.goto("/")
    entries = page.locator("article.entry")
    page.keyboard.press("j")
    assert entries.nth(0).evaluate("e => e.querySelector('details').open")
    expect(entries.nth(0)).not_to_have_class(UNREAD)  # opened, hence read
    page.keyboard.press("j")
    assert entries.nth(1).evaluate("e => e.querySelector('details').open")
    # The class changes when the server has answered: the read is stored before we go on.
    expect(entries.nth(1)).not_to_have_class(UNREAD)
    assert not entries.nth(0).evaluate("e => e.querySelector('details').open")
    page.keyboard.press("k")
    assert "current" in (entries.nth(0).get_attribute("class") or "")
    page.keyboard.press("f")
    expect(entries.nth(0)).to_have_class(STARRED)
    page.keyboard.press("r")
    expect(entries.nth(0)).to_have_class(UNREAD)
    first_id = int(entries.nth(0).get_attribute("data-entry") or 0)
    state = EntryState.objects.get(user=reader, entry_id=first_id)
    assert state.is_starred and not state.is_read
    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible()
    screenshot(page, "shortcuts-en")
    page.keyboard.press("Escape")
    assert page.locator("#shortcuts").is_hidden()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "search"
    page.keyboard.press("Escape")
    page.locator("body").focus()
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("3")
    page.wait_for_url("**view=reader**")
    assert page.locator(".entry-open").count() == 2  # the second was read when j opened it
    screenshot(page, "reader-view-en")
    page.keyboard.press("Shift+A")
    expect(page.locator("article.entry")).to_have_count(0)
    assert not EntryState.objects.filter(user=reader, is_read=False).exists()
    context.close()


def test_without_javascript_reading_and_marking_still_work(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    context = logged_in_context(browser, live_server.url, reader, javascript=False)
    page = context.new_page()
    page.goto("/")
    page.locator("summary.entry-line").first.click()
    assert page.locator(".entry-body .content").first.is_visible()
    with page.expect_navigation():  # a plain POST, then the 303 back to the page
        page.locator("button.star-toggle").first.click()
    assert EntryState.objects.filter(user=reader, is_starred=True).count() == 1
    with page.expect_navigation():
        page.locator("button.read-toggle").first.click()
    assert EntryState.objects.filter(user=reader, is_read=True).count() == 1
    assert page.locator("article.entry").count() == 2  # the unread view no longer lists it
    with page.expect_navigation():
        page.get_by_role("button", name="Mark all as read").click()
    assert not EntryState.objects.filter(user=reader, is_read=False).exists()
    context.close()


def test_a_phone_sized_session(browser: Browser, live_server: LiveServer, reader: User) -> None:
    reader.language = "fr"
    reader.save()
    context = logged_in_context(browser, live_server.url, reader, width=360, height=740)
    page = context.new_page()
    page.goto("/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert not page.locator(".side-fold").evaluate("d => d.open")  # the sidebar starts folded
    screenshot(page, "normal-view-fr-phone")
    page.locator("summary.entry-line").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.locator(".entry-body .title").first.scroll_into_view_if_needed()
    screenshot(page, "entry-open-fr-phone")
    page.locator(".side-fold > summary").click()
    assert page.get_by_role("link", name="Framablog").is_visible()
    screenshot(page, "sidebar-fr-phone")
    assert serious_axe_violations(page) == []
    context.close()


def test_the_global_view_opens_a_feed_in_place(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    broken = followed_feed(
        reader, "https://broken.example/feed", title="Un flux en panne", category="Libre"
    )
    broken.last_error = "HTTP 500"
    broken.save()
    for language in ("en", "fr"):
        reader.language = language
        reader.save()
        context = logged_in_context(browser, live_server.url, reader)
        page = context.new_page()
        page.goto("/?view=global")
        assert page.locator("section.box").count() == 1
        screenshot(page, f"global-view-{language}")
        assert serious_axe_violations(page) == []
        page.locator("a.open-in-panel", has_text="Framablog").click()
        page.locator("#panel").wait_for(state="visible")
        assert page.locator("#panel article.entry").count() == 3
        screenshot(page, f"global-view-panel-{language}")
        assert page.url.endswith("?view=global")  # still the global view
        context.close()


def test_reader_view_and_dark_theme_on_a_desktop(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    reader.language = "fr"
    reader.theme = "dark"
    reader.save()
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    page.goto("/?view=reader")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(23, 24, 26)"
    screenshot(page, "reader-view-fr-dark")
    assert serious_axe_violations(page) == []
    context.close()


def test_entries_scrolled_past_are_marked_read_when_the_person_asked_for_it(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    reader.mark_read_on_scroll = True
    reader.save()
    context = logged_in_context(browser, live_server.url, reader, height=600)
    page = context.new_page()
    # Two entries marked at once: the answer of the later mark may count before the earlier
    # one is stored; the next poll (every second here) sets the title right.
    with override_settings(LISEUSE_UI_POLL_SECONDS=1):
        page.goto("/?view=reader")
    entries = page.locator("article.entry")
    expect(entries.nth(0)).to_have_class(UNREAD)
    page.locator("article.entry").nth(2).scroll_into_view_if_needed()
    page.mouse.wheel(0, 400)
    expect(entries.nth(0)).not_to_have_class(UNREAD)
    expect(entries.nth(1)).not_to_have_class(UNREAD)
    unread = EntryState.objects.filter(user=reader, is_read=False)
    assert list(unread.values_list("entry__title", flat=True)) == [TITLES[2]]
    expect(page).to_have_title(re.compile(r"^\(1\) "))
    page.route("**/unread.json*", lambda route: route.abort())  # done with the polls
    context.close()


def test_reading_an_entry_changes_its_feeds_and_categorys_counts_at_once(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    framablog = Feed.objects.get()
    elsewhere = followed_feed(
        reader, "https://else.example/feed", title="Ailleurs", category="Autre"
    )
    add_entry(
        elsewhere, "Un article d’ailleurs", datetime(2020, 1, 1, tzinfo=UTC), readers=[reader]
    )
    # Filed under Libre but hidden from it: never in the category's count.
    hidden = followed_feed(reader, "https://hidden.example/feed", title="Caché", category="Libre")
    Subscription.objects.filter(feed=hidden).update(visibility=Subscription.Visibility.HIDDEN)
    add_entry(hidden, "Un article caché", datetime(2020, 1, 1, tzinfo=UTC), readers=[reader])
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    page.goto("/")  # polls every two minutes: the counts below change without one
    sidebar = page.locator("#sidebar")
    total = sidebar.locator("#count-total")
    feed = sidebar.locator(f'[data-count-feed="{framablog.id}"]')
    libre = sidebar.locator("section.cat", has_text="Libre").locator("[data-count-cat]")
    autre = sidebar.locator("section.cat", has_text="Autre").locator("[data-count-cat]")

    def counts(expected: tuple[str, str, str, str]) -> None:
        for cell, text in zip((total, feed, libre, autre), expected, strict=True):
            expect(cell).to_have_text(text)

    counts(("4", "3", "3", "1"))
    page.locator("summary.entry-line").first.click()  # opened, hence read
    counts(("3", "2", "2", "1"))
    page.locator("article.entry").first.locator("button.read-toggle").click()  # unread again
    counts(("4", "3", "3", "1"))
    page.keyboard.press("r")  # and read again, from the keyboard
    counts(("3", "2", "2", "1"))
    entries = page.locator("article.entry")
    for index in range(1, 3):
        entries.nth(index).locator("button.read-toggle").click()
    counts(("1", "", "", "1"))  # a count of none is not shown
    expect(page).to_have_title(re.compile(r"^\(1\) "))
    context.close()


def test_starring_an_entry_changes_the_favourites_count_at_once(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    # It changed only with the next full page (the read counts already changed at once).
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    page.goto("/")
    favourites = page.locator("#sidebar [data-count-starred]")
    expect(favourites).to_have_text("")
    stars = page.locator("article.entry button.star-toggle")
    stars.nth(0).click()
    expect(favourites).to_have_text("1")
    stars.nth(1).click()
    expect(favourites).to_have_text("2")
    stars.nth(0).click()
    stars.nth(1).click()
    expect(favourites).to_have_text("")  # a count of none is not shown
    context.close()


def test_a_label_typed_in_the_menu_is_ticked_there_and_stays_at_the_next_save(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    # The menu got no box for it: saved again (another label ticked), it came off the entry.
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    page.goto("/")
    entry = page.locator("article.entry").first
    entry.locator("summary.entry-line").click()
    menu = entry.locator("details.labels-menu")
    menu.locator("summary").click()
    menu.locator('input[name="new_label"]').fill("À relire <b>")
    menu.locator('button[type="submit"]').click()
    expect(menu).not_to_have_attribute("open", "")
    menu.locator("summary").click()
    box = menu.get_by_label("À relire <b>")
    expect(box).to_be_checked()
    expect(menu.locator('input[name="new_label"]')).to_have_value("")
    menu.locator('button[type="submit"]').click()
    expect(menu).not_to_have_attribute("open", "")
    state = EntryState.objects.filter(user=reader, labels__name="À relire <b>")
    assert state.count() == 1
    context.close()


def test_space_and_enter_press_the_control_that_has_the_focus(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    # Once an entry was current, Space opened its website in a new tab whatever had the focus,
    # and the focused button did nothing (WCAG 2.1.1).
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    page.goto("/")
    entries = page.locator("article.entry")
    page.keyboard.press("j")  # the first entry is current, and open
    star = entries.nth(1).locator("button.star-toggle")
    star.focus()
    page.keyboard.press("Space")
    expect(entries.nth(1)).to_have_class(STARRED)
    assert len(context.pages) == 1  # no tab opened on the entry's website
    page.keyboard.press("Enter")  # the same button, pressed again: unstarred
    expect(entries.nth(1)).not_to_have_class(STARRED)
    assert len(context.pages) == 1
    context.close()


def test_home_and_end_leave_one_current_entry(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    page.goto("/?state=all")
    current = page.locator("article.entry.current")
    for key in ("n", "n", "End", "Home"):
        page.keyboard.press(key)
    expect(current).to_have_count(1)
    first = page.locator("article.entry").first.get_attribute("id")
    assert current.get_attribute("id") == first
    page.keyboard.press("End")
    expect(current).to_have_count(1)
    assert current.get_attribute("id") == page.locator("article.entry").last.get_attribute("id")
    context.close()


def test_the_global_views_panel_closes_with_escape_and_gives_the_focus_back(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    page.goto("/?view=global")
    opener = page.locator("a.open-in-panel", has_text="Framablog")
    opener.click()
    panel = page.locator("#panel")
    panel.wait_for(state="visible")
    page.keyboard.press("j")  # an entry of the panel becomes current, opened and read
    expect(panel.locator("article.entry.current")).to_have_count(1)
    expect(panel.locator("article.entry.current")).not_to_have_class(UNREAD)
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    assert page.evaluate("document.activeElement.textContent").strip().startswith("Framablog")
    page.keyboard.press("j")  # nothing to go to: the panel's entries are hidden
    expect(page.locator("article.entry.current")).to_have_count(0)
    context.close()


def test_load_more_in_the_global_views_panel_leads_to_that_feeds_next_page(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    # The link was relative: in the panel, shown on "/", it led to the main stream's second
    # page, a bare page without stylesheet (the panel's own HTML).
    User.objects.filter(pk=reader.pk).update(page_size=1)
    framablog = Feed.objects.get()
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    page.goto("/?view=global")
    page.locator("a.open-in-panel", has_text="Framablog").click()
    page.locator("#panel").wait_for(state="visible")
    with page.expect_navigation():
        page.locator("#panel #load-more").click()
    assert re.search(rf"/f/{framablog.id}/\?view=normal&after=", page.url), page.url
    assert "panel=1" not in page.url
    expect(page.locator("#sidebar")).to_be_visible()  # a whole page, not the panel's piece
    context.close()


def test_without_javascript_an_action_comes_back_to_the_readers_place(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    context = logged_in_context(browser, live_server.url, reader, javascript=False)
    page = context.new_page()
    page.goto("/")  # unread
    entries = page.locator("article.entry")
    second, third = entries.nth(1).get_attribute("id"), entries.nth(2).get_attribute("id")
    page.locator("summary.entry-line").nth(1).click()
    with page.expect_navigation():  # marked read: it leaves the list, the next one is the place
        entries.nth(1).locator("button.read-toggle").click()
    assert page.url.endswith(f"#{third}"), page.url
    page.goto("/?state=all")
    page.locator(f"#{second} summary.entry-line").click()
    with page.expect_navigation():  # starred: still listed, and still open
        page.locator(f"#{second} button.star-toggle").click()
    assert page.locator(f"#{second} details.entry-fold").evaluate("d => d.open")
    context.close()


def test_a_folded_category_stays_folded_when_its_count_changes(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    # The fold was remembered by the heading's whole text, its count included.
    followed_feed(reader, "https://else.example/feed", title="Ailleurs", category="Autre")
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    page.goto("/")
    libre = page.locator("#sidebar section.cat", has_text="Libre")
    libre.locator("button.fold").click()
    expect(libre.locator("ul.feeds")).to_be_hidden()
    page.locator("summary.entry-line").first.click()  # read: Libre's count changes
    expect(libre.locator("[data-count-cat]")).to_have_text("2")
    page.reload()
    expect(libre.locator("ul.feeds")).to_be_hidden()
    context.close()


@pytest.mark.parametrize("width", [1280, 400])
def test_names_and_titles_without_spaces_never_widen_a_page(
    browser: Browser, live_server: LiveServer, reader: User, width: int
) -> None:
    # A feed names itself and its entries: 500 letters without a space made the global view
    # 4,774 px wide and pushed the health table's columns out of sight; an entry's title,
    # author or tag of that kind made the reading views scroll sideways.
    sub = Subscription.objects.get(user=reader)
    Subscription.objects.filter(pk=sub.pk).update(title="Many" + "L" * 500)
    context = logged_in_context(browser, live_server.url, reader, width=width, height=800)
    page = context.new_page()
    for path in (
        "/?view=global",
        "/manage/health/",
        "/manage/subscriptions/",
        f"/manage/subscriptions/{sub.pk}/",
    ):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
    # Nor do an entry's title, author and tags, in either view, the entry open.
    entry = add_entry(sub.feed, "long", timezone.now(), readers=[reader])
    Entry.objects.filter(pk=entry.pk).update(
        title="https://example.org/" + "very-long-path-segment-" * 20,
        author="A" * 300,
        categories=["T" * 200],
    )
    page.goto("/")
    page.locator("summary.entry-line").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "normal view"
    page.goto("/?view=reader")
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "reader view"
    context.close()


def test_pages_without_a_sidebar_use_the_pages_width(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    # The log-in page, the 404 page…: squeezed into the sidebar's 16rem column.
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.goto(live_server.url + "/login/")
    assert page.locator("main").evaluate("m => m.getBoundingClientRect().width") > 600
    field = page.locator("input[name=password]")
    assert field.get_attribute("autocomplete") == "current-password"
    context.close()


def _contrast(first: str, second: str) -> float:
    """WCAG's contrast ratio of two CSS `rgb(…)` colours."""

    def luminance(colour: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", colour)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_fields_and_buttons_stand_out_from_the_page(
    browser: Browser, live_server: LiveServer, reader: User, theme: str
) -> None:
    # WCAG 1.4.11: a control's edge at 3:1 at least; the search field's was 1.38:1.
    User.objects.filter(pk=reader.pk).update(theme=theme)
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    page.goto("/")
    page_colour = page.evaluate("getComputedStyle(document.body).backgroundColor")
    for selector in ("#search", "form.mark-all > button"):
        edge = page.locator(selector).evaluate("e => getComputedStyle(e).borderTopColor")
        assert _contrast(edge, page_colour) >= 3, (theme, selector, edge, page_colour)
    live = page.locator("#new-articles").evaluate("b => b.parentElement.getAttribute('role')")
    assert live == "status"  # the banner is announced when it shows (WCAG 4.1.3)
    context.close()


def test_a_phone_without_javascript_shows_the_articles_before_the_sidebar(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    # The sidebar cannot fold without a script: open above the articles, it came first, a
    # screen or more of feeds before the first article.
    context = logged_in_context(
        browser, live_server.url, reader, width=360, height=740, javascript=False
    )
    page = context.new_page()
    page.goto("/")
    article = page.locator("article.entry").first.bounding_box()
    sidebar = page.locator("#sidebar").bounding_box()
    assert article is not None and sidebar is not None
    assert article["y"] < sidebar["y"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()


def test_the_one_key_shortcuts_can_be_turned_off(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    # WCAG 2.1.4: a person who speaks to the computer, or whose hand slips, turns them off.
    User.objects.filter(pk=reader.pk).update(keyboard_shortcuts=False)
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    page.goto("/")
    for key in ("j", "f", "?"):
        page.keyboard.press(key)
    expect(page.locator("article.entry.current")).to_have_count(0)
    expect(page.locator("article.entry.starred")).to_have_count(0)
    assert page.locator("#shortcuts").is_hidden()
    assert page.locator("#help-button").is_hidden()
    assert not EntryState.objects.filter(user=reader, is_read=True).exists()
    context.close()


def test_escape_closes_the_mark_all_menu(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    page.goto("/")
    menu = page.locator("details.menu")
    menu.locator("summary").click()
    assert menu.evaluate("d => d.open")
    page.keyboard.press("Escape")
    assert not menu.evaluate("d => d.open")
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
    assert not EntryState.objects.filter(user=reader, is_read=True).exists()
    context.close()


def test_refresh_has_the_feeds_fetched_soon_and_says_so_with_or_without_javascript(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    def waiting() -> None:
        later = timezone.now() + timedelta(hours=3)
        Feed.objects.update(next_fetch_at=later, last_fetched_at=None)

    def all_due() -> bool:
        return not Feed.objects.filter(next_fetch_at__gt=timezone.now()).exists()

    waiting()
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    page.goto("/")
    expect(page.locator("#refreshing")).to_be_hidden()
    page.keyboard.press("q")  # the shortcut sends the page’s Refresh form
    expect(page.locator("#refreshing")).to_be_visible()
    assert urlsplit(page.url).path == "/" and "#" not in page.url  # it stayed on the page
    assert all_due()
    screenshot(page, "refreshing-en")
    # The page looks for new articles 5 s later, not at its next 2-minute poll; once the banner
    # says they came, the note has done its work.
    arrived = '{"unread_total": 3, "feeds": {}, "arrived": 1}'
    page.route("**/unread.json*", lambda route: route.fulfill(status=200, body=arrived))
    expect(page.locator("#new-articles")).to_be_visible(timeout=9000)
    expect(page.locator("#refreshing")).to_be_hidden()
    page.keyboard.press("q")  # again: nothing left to make due, and it says so
    expect(page.locator("#refreshed")).to_be_visible()
    expect(page.locator("#refreshing")).to_be_hidden()
    context.close()

    waiting()
    context = logged_in_context(browser, live_server.url, reader, javascript=False)
    page = context.new_page()
    page.goto("/?state=all")
    with page.expect_navigation():
        page.get_by_role("button", name="Refresh", exact=True).click()
    assert page.url.endswith("/?state=all#refreshing")
    expect(page.locator("#refreshing")).to_be_visible()
    expect(page.locator("#refreshed")).to_be_hidden()
    assert all_due()
    context.close()


def test_a_page_the_browser_kept_is_asked_for_again_when_shown_from_history(
    browser: Browser, live_server: LiveServer, reader: User
) -> None:
    # Back to a page from the back-forward cache showed its read marks and counts as they were
    # when it was left. The browser says so with a `pageshow` whose `persisted` is true.
    context = logged_in_context(browser, live_server.url, reader)
    page = context.new_page()
    page.goto("/")
    page.evaluate("document.body.dataset.marker = 'left'")
    with page.expect_navigation():
        page.evaluate(
            "window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))"
        )
    assert page.evaluate("document.body.dataset.marker") is None  # a new page
    # A page shown the first time is left as it is.
    page.evaluate("document.body.dataset.marker = 'kept'")
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: false}))")
    page.wait_for_timeout(300)
    assert page.evaluate("document.body.dataset.marker") == "kept"
    context.close()
