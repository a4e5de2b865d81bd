"""The `liseuse` command, called in-process (`main([...])`) as a person or a script would."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import uuid
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from liseuse.accounts.models import User
from liseuse.cli import main
from liseuse.feeds.models import Entry
from liseuse.feeds.models import EntryState
from liseuse.feeds.models import Feed
from liseuse.feeds.models import Subscription
from tests.process import free_port
from tests.process import liseuse
from tests.process import liseuse_env

DATA = Path(__file__).parent / "data" / "opml"


def run(
    args: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


pytestmark = pytest.mark.django_db


def test_user_add_reads_the_password_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(
        ["user", "add", "alice", "--admin", "--language", "fr", "--timezone", "Europe/Paris"],
        capsys,
        monkeypatch,
        "a long enough password\n",
    )
    assert code == 0, out
    user = User.objects.get(username="alice")
    assert user.is_superuser and user.language == "fr" and user.timezone == "Europe/Paris"
    assert user.check_password("a long enough password")


def test_user_add_refuses_a_weak_password_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(["user", "add", "alice"], capsys, monkeypatch, "123\n")
    assert code == 1
    assert err.startswith("liseuse: error: ") and err.count("\n") == 1
    assert not User.objects.exists()


def test_user_add_refuses_a_taken_name(
    alice: User, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(["user", "add", "Alice"], capsys, monkeypatch, "a long enough password\n")
    assert code == 1 and "taken" in err


def test_user_list_passwd_api_password_and_delete(
    alice: User, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(["user", "list"], capsys, monkeypatch)[1] == "alice\t\n"
    assert run(["user", "passwd", "alice"], capsys, monkeypatch, "another fine password\n")[0] == 0
    alice.refresh_from_db()
    assert alice.check_password("another fine password")
    assert run(["user", "api-password", "alice"], capsys, monkeypatch, "api-secret-1\n")[0] == 0
    alice.refresh_from_db()
    assert alice.check_api_password("api-secret-1") and not alice.check_api_password(
        "another fine password"
    )
    assert "api" in run(["user", "list"], capsys, monkeypatch)[1]
    assert run(["user", "delete", "alice"], capsys, monkeypatch)[0] == 0
    assert not User.objects.exists()


def test_commands_name_an_unknown_user(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(["opml", "export", "--user", "nobody"], capsys, monkeypatch)
    assert (code, err) == (1, "liseuse: error: no user named 'nobody'\n")


def test_a_backup_imported_twice_says_the_second_time_brought_nothing_new(
    alice: User,
    bob: User,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opml = str(DATA / "freshrss-export.opml")
    assert run(["opml", "import", opml, "--user", "alice"], capsys, monkeypatch)[0] == 0
    code, exported, _ = run(["export", "--user", "alice"], capsys, monkeypatch)
    assert code == 0
    (tmp_path / "alice.json").write_text(exported)
    into_bob = ["import", str(tmp_path / "alice.json"), "--user", "bob"]
    first = run(into_bob, capsys, monkeypatch)
    assert first[:2] == (
        0,
        "imported into bob: 5 subscription(s) (5 new), 0 label(s) (0 new), "
        "0 entry state(s) (0 changed)\n",
    )
    # It counted everything as imported again, as if bob had had none of it.
    again = run(into_bob, capsys, monkeypatch)
    assert again[1] == (
        "imported into bob: 5 subscription(s) (0 new), 0 label(s) (0 new), "
        "0 entry state(s) (0 changed)\n"
    )


def test_opml_import_then_export_gives_back_the_same_feeds_and_categories(
    alice: User,
    bob: User,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, _ = run(
        ["opml", "import", str(DATA / "freshrss-export.opml"), "--user", "alice"],
        capsys,
        monkeypatch,
    )
    assert code == 0
    assert out == "imported 5 feed(s), skipped 0 already followed, created 3 categories\n"
    code, exported, _ = run(["opml", "export", "--user", "alice"], capsys, monkeypatch)
    assert code == 0
    (tmp_path / "out.opml").write_text(exported)
    assert (
        run(["opml", "import", str(tmp_path / "out.opml"), "--user", "bob"], capsys, monkeypatch)[0]
        == 0
    )

    def followed(user: User) -> set[tuple[str, str, str]]:
        return {
            (s.feed.url, s.display_title, s.category.name if s.category else "")
            for s in Subscription.objects.filter(user=user)
        }

    assert followed(bob) == followed(alice) and len(followed(alice)) == 5
    # Their reading pages are not served from the pages' cache any more (ui/pagecache.py).
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert alice.generation == 1 and bob.generation == 1


def test_opml_import_of_a_missing_file_says_so(
    alice: User, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(
        ["opml", "import", "/nonexistent/x.opml", "--user", "alice"], capsys, monkeypatch
    )
    assert code == 1 and "cannot read /nonexistent/x.opml" in err


def test_feed_list_and_remove(
    alice: User, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = Feed.objects.create(
        url="https://a.example/feed", title="A", last_error="HTTP 404 Not Found", error_count=2
    )
    Subscription.objects.create(user=alice, feed=feed)
    out = run(["feed", "list", "--user", "alice"], capsys, monkeypatch)[1]
    assert (
        out
        == f"{feed.id}\tA\thttps://a.example/feed\terror (2×, never fetched): HTTP 404 Not Found\n"
    )
    entry = Entry.objects.create(
        feed=feed, identity="i", content_hash="h", published=timezone.now()
    )
    EntryState.objects.create(user=alice, entry=entry, feed=feed, sort_date=entry.published)
    assert run(["feed", "remove", str(feed.id), "--user", "alice"], capsys, monkeypatch)[0] == 0
    assert not Subscription.objects.exists() and Feed.objects.exists()
    assert not EntryState.objects.exists()  # the person's states go with the subscription
    assert run(["feed", "remove", str(feed.id)], capsys, monkeypatch)[0] == 0
    assert not Feed.objects.exists()
    assert run(["feed", "remove", "999"], capsys, monkeypatch)[0] == 1


def test_feed_list_says_when_a_failing_feed_last_worked(
    alice: User, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ok_at = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    rows = {
        "fine": Feed.objects.create(url="https://a.example/1", last_success_at=ok_at),
        "new": Feed.objects.create(url="https://a.example/2"),
        "hiccup": Feed.objects.create(
            url="https://a.example/3",
            last_success_at=ok_at,
            last_fetched_at=ok_at + timedelta(hours=1),
            last_error="HTTP 503 Service Unavailable",
            error_count=1,
        ),
        "dead": Feed.objects.create(
            url="https://a.example/4",
            last_fetched_at=ok_at,
            last_error="not a feed (an HTML page)",
            error_count=7,
        ),
        "gone": Feed.objects.create(
            url="https://a.example/5",
            last_success_at=ok_at,
            last_error="HTTP 410 Gone",
            disabled=True,
        ),
        "paused": Feed.objects.create(url="https://a.example/6", disabled=True),
    }
    for feed in rows.values():
        Subscription.objects.create(user=alice, feed=feed)
    out = run(["feed", "list"], capsys, monkeypatch)[1]
    health = {line.split("\t")[2]: line.split("\t")[3] for line in out.splitlines()}
    assert [health[feed.url] for feed in rows.values()] == [
        "ok 2026-11-20 08:30",
        "never fetched",
        "error (1×, last ok 2026-11-20 08:30): HTTP 503 Service Unavailable",
        "error (7×, never ok): not a feed (an HTML page)",
        "disabled (last ok 2026-11-20 08:30): HTTP 410 Gone",
        "disabled (never fetched): by hand",
    ]


def test_every_command_has_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["user", "add", "--help"],
        ["feed", "add", "--help"],
        ["opml", "import", "--help"],
        ["refresh", "--help"],
    ):
        code, out, _ = run(args, capsys, monkeypatch)
        assert code == 0 and "usage: liseuse" in out


def test_commands_run_migrate_only_when_a_migration_is_not_applied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Building migrate's plan imports every migration file: each command's start skips it when
    # the database lists them all (a fresh folder is covered by test_serve's first start).
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    from liseuse import cli

    ran: list[tuple[object, ...]] = []
    monkeypatch.setattr("django.core.management.call_command", lambda *a, **k: ran.append(a))
    cli._migrate()
    assert ran == []
    recorded = MigrationRecorder(connection).migration_qs
    last = recorded.filter(app="feeds").order_by("-name").first()
    assert last is not None
    last.delete()  # as if a new version brought this one
    cli._migrate()
    assert ran == [("migrate",)]
    # And a database without the table at all (a fresh data folder) is never taken as current.
    monkeypatch.setattr(MigrationRecorder, "has_table", lambda self: False)
    assert not cli._every_migration_applied()


@pytest.mark.parametrize(
    "args",
    [
        ["user", "list"],
        ["feed", "list"],
        ["export", "--user", "alice"],
        ["opml", "export", "--user", "alice"],
        ["user", "delete", "alice"],
    ],
)
def test_any_command_works_on_a_fresh_data_folder(args: list[str], tmp_path: Path) -> None:
    # The first command a person types need not be `serve`: each brings the database up to
    # date first. `feed list` on an empty folder used to end in "no such table: feeds_feed".
    done = liseuse(tmp_path, *args)
    assert "Traceback" not in done.stderr, done.stderr
    if args[0] in ("user", "feed") and args[1] == "list":
        assert done.returncode == 0 and done.stdout == ""
    else:
        assert done.returncode == 1 and done.stderr == "liseuse: error: no user named 'alice'\n"


def test_an_unreachable_database_is_one_readable_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    done = liseuse(
        tmp_path, "user", "list", LISEUSE_DATABASE_URL=f"postgresql://liseuse@127.0.0.1:{port}/x"
    )
    assert done.returncode == 1
    assert done.stderr.startswith("liseuse: error: the database: ") and done.stderr.count("\n") == 1
    assert "refused" in done.stderr


def test_a_database_url_asking_for_tls_is_refused_by_a_server_without_it(tmp_path: Path) -> None:
    # ?sslmode=require was dropped: liseuse connected in clear to a server without TLS.
    psycopg = pytest.importorskip("psycopg")
    server = "postgresql://postgres@127.0.0.1:5432"
    try:
        with psycopg.connect(f"{server}/postgres", connect_timeout=3) as admin:
            has_tls = admin.execute("SHOW ssl").fetchone() == ("on",)
    except psycopg.OperationalError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL answers at {server}")
    if has_tls:
        pytest.skip("this PostgreSQL server has TLS: the refusal cannot be shown")

    done = liseuse(
        tmp_path, "user", "list", LISEUSE_DATABASE_URL=f"{server}/postgres?sslmode=require"
    )

    assert done.returncode == 1
    assert done.stderr.startswith("liseuse: error: the database: "), done.stderr
    assert "SSL" in done.stderr


def _binary_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_opml_import_reads_standard_input_given_as_a_dash(
    alice: User, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _binary_stdin(monkeypatch, (DATA / "freshrss-export.opml").read_bytes())
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    main(["opml", "import", "-", "--user", "alice"])
    assert capsys.readouterr().out.startswith("imported 5 feed(s)")
    assert Subscription.objects.filter(user=alice).count() == 5


@pytest.mark.parametrize("from_stdin", [False, True])
def test_an_opml_file_over_the_limit_says_by_how_much(
    alice: User,
    tmp_path: Path,
    from_stdin: bool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = b" " * int(5.07 * 1024 * 1024)
    (tmp_path / "big.opml").write_bytes(data)
    _binary_stdin(monkeypatch, data)
    with pytest.raises(SystemExit):
        main(
            ["opml", "import", "-" if from_stdin else str(tmp_path / "big.opml"), "--user", "alice"]
        )
    said = capsys.readouterr().err
    if from_stdin:  # read up to the limit only: how much more there was is not known
        assert said == "liseuse: error: The OPML file is over 5 MB, the most liseuse accepts.\n"
    else:
        assert said == "liseuse: error: The OPML file is 5.07 MB; liseuse accepts at most 5 MB.\n"


def test_check_prints_the_errors_it_found_with_their_hints(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from liseuse.feeds import checks

    # The data folder's check is SQLite's: on PostgreSQL too, it is made to look at one.
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": tmp_path / "liseuse.sqlite3"}
    real = checks.sqlite_problems
    monkeypatch.setattr(checks, "sqlite_problems", lambda database: real(sqlite))
    monkeypatch.setattr("liseuse.feeds.checks.os.access", lambda path, mode: False)
    code, _, err = run(["check"], capsys, monkeypatch)
    assert code == 1
    assert "(liseuse.E002) The data folder" in err and "is not writable" in err
    assert "HINT: Give the user running liseuse write access to LISEUSE_DATA_DIR" in err
    assert err.endswith("liseuse: error: the checks above found errors\n")


@pytest.mark.parametrize("command", [["user", "add", "carol"], ["user", "passwd", "alice"]])
def test_ctrl_d_at_a_password_prompt_is_one_line(
    alice: User,
    command: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def end_of_input(prompt: str) -> str:
        raise EOFError

    monkeypatch.setattr("getpass.getpass", end_of_input)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    with pytest.raises(SystemExit):
        main(command)
    assert capsys.readouterr().err == "liseuse: error: no password\n"


@pytest.mark.parametrize("answer", [EOFError, "²", "0", "3", "one"])
def test_no_feed_is_chosen_at_the_prompt_without_a_number_among_those_offered(
    answer: type[EOFError] | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from liseuse.cli import CliError
    from liseuse.cli import _choose_on_terminal

    def reply(prompt: str) -> str:
        if isinstance(answer, str):
            return answer
        raise answer

    monkeypatch.setattr("builtins.input", reply)
    with pytest.raises(CliError, match="no feed chosen"):
        _choose_on_terminal([("https://a.example/rss", "A"), ("https://a.example/atom", "B")])
    monkeypatch.setattr("builtins.input", lambda prompt: "2")
    assert _choose_on_terminal([("https://a.example/rss", "A"), ("https://a.example/atom", "B")])


@pytest.mark.parametrize(
    "args",
    [
        ["feed", "remove", "99999999999999999999"],
        ["retention-rule", "--feed", "99999999999999999999", "--keep-max", "1"],
        ["retention-rule", "--feed", "1", "--keep-max", "99999999999999999999"],
        ["retention-rule", "--user", "alice", "--keep-days", "99999999999"],
    ],
)
def test_numbers_too_big_for_the_database_are_refused_by_the_parser(
    alice: User,
    args: list[str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = run(args, capsys, monkeypatch)
    assert code == 2 and "is not between" in err and "Traceback" not in err


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """`liseuse user list | head -0`: the pipe is closed before liseuse writes to it."""
    import subprocess
    import sys

    from tests.process import liseuse_env

    assert (
        liseuse(tmp_path, "user", "add", "alice", stdin="a long enough password\n").returncode == 0
    )
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "liseuse.cli", "user", "list"],
            stdout=write,
            stderr=subprocess.PIPE,
            env=liseuse_env(tmp_path),
            timeout=120,
            check=False,
        )
    finally:
        os.close(write)
    assert done.stderr == b"" and done.returncode == 141


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "Europe/" + "x" * 100])
def test_user_add_refuses_a_time_zone_that_is_none(
    zone: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(
        ["user", "add", "alice", "--timezone", zone],
        capsys,
        monkeypatch,
        "a long enough password\n",
    )
    assert (
        code == 1
        and err == f"liseuse: error: {zone!r} is not a time zone (such as Europe/Paris, or UTC).\n"
    )
    assert not User.objects.exists()


def test_user_add_says_that_letters_with_accents_are_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(["user", "add", "Zoë"], capsys, monkeypatch, "a long enough password\n")
    assert code == 1 and "unaccented letters (a to z)" in err


def test_check_of_a_properly_set_up_instance_says_only_what_fever_leaves(tmp_path: Path) -> None:
    done = liseuse(
        tmp_path,
        "check",
        LISEUSE_HTTPS="1",
        LISEUSE_BEHIND_PROXY="1",
        LISEUSE_ALLOWED_HOSTS="news.example.org",
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    # (urls.W002 comes from liseuse/fever/urls.py, to be fixed there.)
    assert [line for line in said.splitlines() if line.startswith("?:")] == [
        line for line in said.splitlines() if line.startswith("?: (urls.W002)")
    ], said


def test_check_says_https_is_missing_once(tmp_path: Path) -> None:
    said = liseuse(tmp_path, "check", LISEUSE_ALLOWED_HOSTS="news.example.org").stderr
    assert "(liseuse.W004)" in said and "(security." not in said


def _at_once(data_dir: Path, count: int, **env: str) -> list[subprocess.CompletedProcess[str]]:
    """`count` processes started together on one new database, as a web node and its workers
    are after an upgrade: each finds migrations to run."""
    command = [sys.executable, "-m", "liseuse.cli", "user", "list"]
    started = [
        subprocess.Popen(
            command,
            env=liseuse_env(data_dir, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    done = []
    for process in started:
        out, err = process.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(command, process.returncode, out, err))
    return done


def test_processes_started_together_on_a_new_database_migrate_it_once(tmp_path: Path) -> None:
    for done in _at_once(tmp_path, 4):
        assert done.returncode == 0, done.stderr[-2000:]


def test_processes_started_together_on_a_new_postgresql_database_migrate_it_once(
    tmp_path: Path,
) -> None:
    # Three of four stopped on a duplicate key of PostgreSQL's catalogue (pg_type).
    psycopg = pytest.importorskip("psycopg")
    server = "postgresql://postgres@127.0.0.1:5432"
    try:
        admin = psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL answers at {server}")
    name = f"liseuse_migrate_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            for done in _at_once(tmp_path, 4, LISEUSE_DATABASE_URL=f"{server}/{name}"):
                assert done.returncode == 0, done.stderr[-2000:]
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_new_data_folder_is_its_owners_alone(tmp_path: Path) -> None:
    # The database holds every session (a session key is the browser's cookie): it was
    # readable by every user of the machine (0755 folder, 0644 file).
    data = tmp_path / "new"
    done = liseuse(data, "user", "list")
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700


def test_check_warns_of_a_database_others_can_read(tmp_path: Path) -> None:
    from liseuse.accounts.checks import data_folder_problems

    database = tmp_path / "liseuse.sqlite3"
    database.write_bytes(b"")
    database.chmod(0o644)
    tmp_path.chmod(0o755)
    (problem,) = data_folder_problems(tmp_path, database)
    assert problem.id == "liseuse.W015" and problem.hint == f"chmod 700 {tmp_path}"
    tmp_path.chmod(0o700)
    assert data_folder_problems(tmp_path, database) == []
    assert data_folder_problems(tmp_path, None) == []  # PostgreSQL: not a file of liseuse's


def test_check_fails_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    # Every other command said so in one line; `check` passed.
    port = free_port()  # nothing listens there
    done = liseuse(
        tmp_path, "check", LISEUSE_DATABASE_URL=f"postgresql://liseuse@127.0.0.1:{port}/x"
    )
    assert done.returncode == 1
    assert "(liseuse.E003) The database cannot be reached:" in done.stderr
    assert "refused" in done.stderr


@pytest.mark.django_db
def test_the_last_administrator_stays_and_another_can_be_made(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI disabled or deleted the only administrator (nobody left to manage accounts from
    # the pages) and had no way to make an existing account one.
    User.objects.create_superuser("root1", password="a long enough password")
    User.objects.create_user("u2", password="a long enough password")
    refused = "liseuse: error: root1 is the last administrator; make another one first.\n"
    for command in (["user", "disable", "root1"], ["user", "delete", "root1"]):
        code, _, err = run(command, capsys, monkeypatch)
        assert (code, err) == (1, refused)
    assert User.objects.get(username="root1").is_active

    code, out, _ = run(["user", "admin", "u2"], capsys, monkeypatch)
    assert (code, out) == (0, "user u2 is an administrator\n")
    assert run(["user", "disable", "root1"], capsys, monkeypatch)[0] == 0
    code, _, err = run(["user", "admin", "u2", "--revoke"], capsys, monkeypatch)
    assert (code, err) == (1, refused.replace("root1", "u2"))
    assert User.objects.get(username="u2").is_superuser


@pytest.mark.django_db
def test_refresh_says_which_feeds_another_process_holds(
    alice: User, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # It counted fewer feeds than were followed, without a word.
    held = Feed.objects.create(
        url="http://127.0.0.1:9/held.xml",
        lease_owner="another-worker",
        lease_until=timezone.now() + timedelta(minutes=5),
    )
    Subscription.objects.create(user=alice, feed=held)

    code, out, _ = run(["refresh", "--all"], capsys, monkeypatch)

    assert code == 0
    assert "refreshed 0 feed(s)" in out
    assert "1 feed(s) left out: when this pass began, another process was refreshing" in out


def test_a_retention_rule_keeping_more_than_its_most_is_refused(
    alice: User, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["retention-rule", "--user", "alice", "--keep-max", "10", "--keep-min", "20"]
    code, _, err = run(args, capsys, monkeypatch)
    assert code != 0 and "--keep-min 20 is more than --keep-max 10" in err
    code, out, _ = run([*args[:3], "--keep-max", "20", "--keep-min", "10"], capsys, monkeypatch)
    assert code == 0 and "keep_max=20" in out and "keep_min=10" in out


def test_every_command_stops_on_a_data_folder_it_cannot_write(
    alice: User, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A read-only folder (a mount): migrating first, the command failed with a traceback.
    # On PostgreSQL the database is elsewhere: the folder's checks are SQLite's (E001, E002).
    monkeypatch.setattr("liseuse.feeds.checks.os.access", lambda path, mode: False)
    code, _, err = run(["user", "list"], capsys, monkeypatch)
    if connection.vendor == "sqlite":
        assert code == 1 and "liseuse.E002" in err and "not writable" in err
    else:
        assert code == 0 and err == ""
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_serve_and_worker_stop_on_any_check_error(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Django's own: a trusted origin without its scheme refused every form of the pages.
    started: list[str] = []
    monkeypatch.setattr(f"liseuse.cli.cmd_{command}", lambda args: started.append(command))
    with override_settings(CSRF_TRUSTED_ORIGINS=["news.example.org"]):
        code, _, err = run([command], capsys, monkeypatch)
    assert code == 1 and "4_0.E001" in err and not started
    code, _, _ = run([command], capsys, monkeypatch)
    assert code == 0 and started == [command]
