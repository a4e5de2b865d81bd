"""The refresh's limits come from the environment, as docs/configuration.md says: the per-host
politeness limit and the bounds of a feed's refresh interval. Each is checked by running the real
`liseuse refresh` with the variable set, against what its default would have given.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from tests.httpserver import LocalServer
from tests.httpserver import Reply
from tests.process import liseuse

PASSWORD = "Refresh-settings-2024-liseuse"


def _rss(title: str, dates: list[datetime]) -> bytes:
    items = "".join(
        f"<item><guid>{title}-{i}</guid><title>E{i}</title>"
        f"<pubDate>{format_datetime(date, usegmt=True)}</pubDate></item>"
        for i, date in enumerate(dates)
    )
    # No site link: the icon is looked for on the feed's host (ICON_PATHS).
    return f'<rss version="2.0"><channel><title>{title}</title>{items}</channel></rss>'.encode()


# Where a feed naming no site has its icon looked for: its host's home page and /favicon.ico.
ICON_PATHS = ("/", "/favicon.ico")


def _subscribe_and_refresh(data: Path, server: LocalServer, paths: list[str], **env: str) -> str:
    """alice follows the feeds at `paths`, then one `liseuse refresh --all`; its output."""
    assert liseuse(data, "user", "add", "alice", stdin=PASSWORD + "\n").returncode == 0
    outlines = "".join(f'<outline text="{p}" xmlUrl="{server.url(p)}"/>' for p in paths)
    opml = data / "feeds.opml"
    opml.write_text(f"<opml><body>{outlines}</body></opml>")
    env = {"LISEUSE_ALLOW_PRIVATE_NETWORKS": "1", **env}
    imported = liseuse(data, "opml", "import", str(opml), "--user", "alice", **env)
    assert imported.returncode == 0, imported.stderr
    done = liseuse(data, "refresh", "--all", **env)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("per_host", [1, 3])
def test_the_per_host_limit_comes_from_the_environment(tmp_path: Path, per_host: int) -> None:
    now = datetime.now(UTC)
    paths = [f"/f{n}" for n in range(6)]
    # Each answer takes a while, so that the requests the limit allows do overlap.
    routes = {
        path: Reply(
            headers={"Content-Type": "application/rss+xml"},
            body=_rss(path, [now - timedelta(hours=1)]),
            delay=0.2,
        )
        for path in paths
    }
    with LocalServer(routes, host="127.0.0.2") as server:
        out = _subscribe_and_refresh(tmp_path, server, paths, LISEUSE_FETCH_PER_HOST=str(per_host))
    assert "6 fetched" in out
    # (each feed's host was also asked for its icon, at "/" and "/favicon.ico")
    assert sorted(p for p in server.paths() if p not in ICON_PATHS) == sorted(paths)
    # Neither more than allowed, nor the default of 2 whatever was asked.
    assert server.max_active == per_host


def _interval(db: Path, url: str) -> timedelta:
    with sqlite3.connect(db) as connection:
        fetched, due = connection.execute(
            "SELECT last_fetched_at, next_fetch_at FROM feeds_feed WHERE url = ?", [url]
        ).fetchone()
    return datetime.fromisoformat(due) - datetime.fromisoformat(fetched)


def test_the_refresh_interval_bounds_come_from_the_environment(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    # A feed publishing every minute wants fetching more often than any minimum; one publishing
    # once a week, less often than any maximum.
    busy = [now - timedelta(minutes=m) for m in range(1, 11)]
    slow = [now - timedelta(hours=1) - timedelta(weeks=w) for w in range(5)]
    routes = {
        "/busy": Reply(headers={"Content-Type": "application/rss+xml"}, body=_rss("busy", busy)),
        "/slow": Reply(headers={"Content-Type": "application/rss+xml"}, body=_rss("slow", slow)),
    }
    with LocalServer(routes, host="127.0.0.2") as server:
        _subscribe_and_refresh(
            tmp_path,
            server,
            ["/busy", "/slow"],
            LISEUSE_REFRESH_MIN_MINUTES="45",
            LISEUSE_REFRESH_MAX_MINUTES="90",
        )
        busy_url, slow_url = server.url("/busy"), server.url("/slow")
    db = tmp_path / "liseuse.sqlite3"
    # Exactly the bounds: the feed's rhythm and its jitter are both outside them (the defaults,
    # 15 minutes and 24 hours, would have given those instead).
    assert _interval(db, busy_url) == timedelta(minutes=45)
    assert _interval(db, slow_url) == timedelta(minutes=90)


def test_allowed_networks_open_the_guard_to_them_alone(tmp_path: Path) -> None:
    feed = _rss("lan", [datetime.now(UTC) - timedelta(hours=1)])
    with LocalServer({"/lan": Reply(body=feed)}) as server:
        guard_on = {"LISEUSE_ALLOW_PRIVATE_NETWORKS": "0"}
        output = _subscribe_and_refresh(
            tmp_path, server, ["/lan"], **guard_on, LISEUSE_ALLOWED_NETWORKS="127.0.0.1/32"
        )
        assert "1 fetched" in output and "0 in error" in output
        assert server.paths().count("/lan") == 1
        elsewhere = liseuse(
            tmp_path, "refresh", "--all", **guard_on, LISEUSE_ALLOWED_NETWORKS="10.0.0.0/8"
        )
        assert "1 in error" in elsewhere.stdout
        assert server.paths().count("/lan") == 1, "the guard kept 127.0.0.1 out"
