"""Web nodes keep no state of their own: two `liseuse serve --no-worker` sharing one PostgreSQL
and one LISEUSE_SECRET_KEY (and nothing else: each has its own data folder) serve one session.
"""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.process import free_port
from tests.process import liseuse_env
from tests.scale.conftest import PgDatabase


@contextmanager
def _node(pg: PgDatabase, data_dir: Path) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "liseuse.cli", "serve", "--no-worker"],
        env=liseuse_env(
            data_dir, **pg.env(LISEUSE_LISTEN=f"127.0.0.1:{port}", LISEUSE_WEB_WORKERS="1")
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _request(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert process.poll() is None, "the web node stopped"
            assert time.monotonic() < deadline, "the web node did not answer within 60 s"
            time.sleep(0.2)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _request(
    port: int,
    method: str,
    path: str,
    *,
    cookies: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], str, dict[str, str]]:
    """One request; returns status, headers, body and the cookies it set."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Origin": f"http://127.0.0.1:{port}"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    set_cookies = {}
    for name, value in response.getheaders():
        if name.lower() == "set-cookie":
            key, _, rest = value.partition("=")
            set_cookies[key] = rest.split(";", 1)[0]
    result = (response.status, dict(response.getheaders()), response.read().decode(), set_cookies)
    connection.close()
    return result


def test_log_in_on_one_web_node_and_carry_on_with_the_other(pg: PgDatabase, tmp_path: Path) -> None:
    with _node(pg, tmp_path / "a") as a, _node(pg, tmp_path / "b") as b:
        status, _, page, cookies = _request(a, "GET", "/login/")
        assert status == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token is not None
        status, headers, _, new = _request(
            a,
            "POST",
            "/login/",
            cookies=cookies,
            form={
                "username": "alice",
                "password": "a long enough password",
                "csrfmiddlewaretoken": token.group(1),
            },
        )
        assert (status, headers["Location"]) == (302, "/"), "logged in on node A"
        cookies.update(new)
        assert "sessionid" in cookies

        # Node B knows the session A opened.
        status, _, page, _ = _request(b, "GET", "/", cookies=cookies)
        assert status == 200 and 'action="/logout/"' in page, "the reading page, logged in"
        # B keeps that page in its memory (ui/pagecache.py); a change made through A shows on B
        # all the same: the pages key on the person's change counter, in the database.
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token is not None and "To read later" not in page
        status, _, _, _ = _request(
            a,
            "POST",
            "/manage/labels/add",
            cookies=cookies,
            form={"name": "To read later", "csrfmiddlewaretoken": token.group(1)},
        )
        assert status in (302, 303), "label made on node A"
        status, _, page, _ = _request(b, "GET", "/", cookies=cookies)
        assert status == 200 and "To read later" in page, "node B shows it at once"
        # …and accepts a form A rendered (the login rotated the CSRF token: take the new one).
        _, _, page, _ = _request(a, "GET", "/", cookies=cookies)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token is not None
        status, headers, _, new = _request(
            b, "POST", "/logout/", cookies=cookies, form={"csrfmiddlewaretoken": token.group(1)}
        )
        assert (status, headers["Location"]) == (302, "/login/")
        cookies.update(new)
        # The session is over on A too.
        status, headers, _, _ = _request(a, "GET", "/", cookies=cookies)
        assert status == 302 and headers["Location"].startswith("/login/")
