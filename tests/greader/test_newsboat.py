"""newsboat 2.21 (Debian), a real Google Reader client, against a live liseuse.

newsboat 2.21 reaches a Google Reader server through its `feedhq` source: ClientLogin, the
subscription list, then one Atom stream per feed (`/reader/atom/feed%2F…`), and `edit-tag` /
`mark-all-as-read` for what the person does. Its state lands in its own sqlite cache, which the
tests read; what the person does is typed into it through tmux.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_django.live_server_helper import LiveServer

from liseuse.accounts.models import User
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Subscription
from liseuse.greader import ids
from tests.greader.conftest import API_PASSWORD
from tests.greader.conftest import add_entry
from tests.greader.conftest import subscribe
from tests.greader.conftest import with_api_password

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("newsboat") is None, reason="newsboat is not installed"),
]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Newsboat:
    """newsboat with its own config, url list, cache and HOME in a throw-away folder."""

    def __init__(self, folder: Path, server_url: str) -> None:
        self.folder = folder
        (folder / "config").write_text(
            "\n".join(
                [
                    'urls-source "feedhq"',
                    f'feedhq-url "{server_url.rstrip("/")}"',
                    'feedhq-login "alice"',
                    f'feedhq-password "{API_PASSWORD}"',
                    "feedhq-show-special-feeds no",
                    'feedhq-flag-star "s"',
                    "",
                ]
            )
        )
        (folder / "urls").write_text("")
        self.env = {**os.environ, "HOME": str(folder), "TERM": "xterm", "LANG": "C.UTF-8"}

    def args(self, *extra: str) -> list[str]:
        f = self.folder
        return [
            "newsboat",
            "-C",
            str(f / "config"),
            "-u",
            str(f / "urls"),
            "-c",
            str(f / "cache.db"),
            *extra,
        ]

    def reload(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.args("-x", "reload"),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def items(self) -> dict[str, tuple[str, int, str]]:
        """guid → (title, unread, flags), as newsboat keeps them."""
        with sqlite3.connect(self.folder / "cache.db") as db:
            rows = db.execute("SELECT guid, title, unread, flags FROM rss_item").fetchall()
        return {guid: (title, unread, flags or "") for guid, title, unread, flags in rows}


@pytest.fixture
def reading(transactional_db: None) -> tuple[User, Subscription, Subscription]:
    alice = with_api_password(User.objects.create_user("alice", password="login password"))
    news = subscribe(alice, "https://news.example/feed", title="News")
    blog = subscribe(alice, "https://blog.example/feed", title="Blog")
    for n in range(1, 4):
        add_entry(news.feed, f"news {n}", minutes=n)
    add_entry(blog.feed, "blog 1", minutes=10)
    add_entry(blog.feed, "blog 2", minutes=11)
    EntryState.objects.filter(user=alice, entry__title="blog 1").update(is_read=True)
    return alice, news, blog


def test_newsboat_reload_stores_every_entry_with_its_unread_flag(
    live_server: LiveServer, tmp_path: Path, reading: tuple[User, Subscription, Subscription]
) -> None:
    alice, _, _ = reading
    boat = Newsboat(tmp_path, live_server.url)
    done = boat.reload()
    assert done.returncode == 0, done.stdout + done.stderr
    expected = {
        ids.long_id(row.entry_id): (row.entry.title, 0 if row.is_read else 1)
        for row in EntryState.objects.filter(user=alice).select_related("entry")
    }
    stored = {guid: (title, unread) for guid, (title, unread, _) in boat.items().items()}
    assert stored == expected


class Tmux:
    """A detached tmux session on its own server socket, read through capture-pane."""

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.base = ["tmux", "-L", name]
        subprocess.run(
            [*self.base, "new-session", "-d", "-s", name, "-x", "120", "-y", "30", *command],
            env=env,
            check=True,
            timeout=30,
        )

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.base, "send-keys", *keys], check=True, timeout=30)

    def screen(self) -> str:
        done = subprocess.run(
            [*self.base, "capture-pane", "-p"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return done.stdout

    def wait_for_text(self, text: str, timeout: float = 30.0) -> None:
        wait_for(lambda: text in self.screen(), f"{text!r} on screen:\n{self.screen()}", timeout)

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], check=False, timeout=30, capture_output=True)


@pytest.fixture
def tmux_name(tmp_path: Path) -> Iterator[str]:
    name = f"liseuse-test-{os.getpid()}-{tmp_path.name}"
    yield name
    subprocess.run(
        ["tmux", "-L", name, "kill-server"], check=False, timeout=30, capture_output=True
    )


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_newsboat_opening_starring_and_marking_a_feed_read_reach_liseuse(
    live_server: LiveServer,
    tmp_path: Path,
    tmux_name: str,
    reading: tuple[User, Subscription, Subscription],
) -> None:
    alice, news, _ = reading
    boat = Newsboat(tmp_path, live_server.url)
    assert boat.reload().returncode == 0
    news_states = EntryState.objects.filter(user=alice, feed=news.feed)

    def read_titles() -> set[str]:
        return set(news_states.filter(is_read=True).values_list("entry__title", flat=True))

    session = Tmux(tmux_name, boat.args(), boat.env)
    # The feed list: feeds come in subscription-list order (by title), Blog then News.
    session.wait_for_text("News")
    session.keys("Down", "Enter")
    session.wait_for_text("news 3")
    session.keys("Enter")  # open the first (newest) article
    session.wait_for_text("Link: https://example.org/")
    session.keys("q")  # leaving it is when newsboat tells the server it was read
    wait_for(lambda: read_titles() == {"news 3"}, "news 3 read in liseuse")
    session.keys("C-e")
    session.wait_for_text("Flags:")
    session.keys("s", "Enter")  # flag `s`, which feedhq-flag-star maps to starred
    wait_for(
        lambda: (
            list(news_states.filter(is_starred=True).values_list("entry__title", flat=True))
            == ["news 3"]
        ),
        "news 3 starred in liseuse",
    )
    session.keys("A")  # mark the whole feed read
    wait_for(lambda: read_titles() == {"news 1", "news 2", "news 3"}, "the feed read in liseuse")
    assert EntryState.objects.get(user=alice, entry__title="blog 2").is_read is False
    session.keys("Q")
