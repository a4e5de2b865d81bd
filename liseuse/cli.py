"""The `liseuse` command: serve, worker, refresh, user, feed, opml.

Each sub-command parses its arguments, sets Django up and calls the same services the web pages
use. Success exits 0; a failure prints one line on standard error and exits non-zero.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import os
import signal
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from typing import NoReturn

if TYPE_CHECKING:
    from liseuse.feeds.models import Feed

EXIT_FAILURE = 1
# What a shell reports for a command a closed pipe stopped (128 + SIGPIPE), as `cat | head` does.
EXIT_BROKEN_PIPE = 141

# Ids are 64-bit in both databases; retention limits are PositiveIntegerFields, 32-bit on
# PostgreSQL. Larger numbers failed inside the database, with a traceback.
MAX_ID = 2**63 - 1
MAX_LIMIT = 2**31 - 1


class CliError(Exception):
    """A failure to report in one line."""


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liseuse.settings")
    import django

    django.setup()


def _migrate(verbosity: int = 0) -> None:
    """Bring the database up to date, as every command does first (a fresh data folder needs
    no setup step). `migrate` imports every migration file to build its plan even when there
    is nothing to do: a tenth of a second of each command's start, most of what an all-304
    refresh costs beyond its requests. So it runs only when a migration on disk is not
    recorded as applied."""
    from django.core.management import call_command

    if verbosity == 0 and _every_migration_applied():
        return
    with _migration_lock():
        # Processes started together (a web node and its workers, after an upgrade) each found
        # something to do: the others wait here, then find it done.
        if verbosity == 0 and _every_migration_applied():
            return
        call_command("migrate", interactive=False, verbosity=verbosity)


# PostgreSQL's advisory lock key for migrating (any number no other lock of liseuse uses).
_MIGRATION_LOCK_KEY = 0x6C69_7365_7573_65  # "liseuse"


@contextmanager
def _migration_lock() -> Iterator[None]:
    """One process migrates at a time. Run at once on a new PostgreSQL database, three of four
    processes stopped on a duplicate key of PostgreSQL's own catalogue, and a data migration
    could have run twice. PostgreSQL: an advisory lock, held by this connection; SQLite: a
    lock file beside the database (an in-memory one has nobody to wait for)."""
    import fcntl

    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [_MIGRATION_LOCK_KEY])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATION_LOCK_KEY])
        return
    from django.db import DEFAULT_DB_ALIAS
    from django.db import connections
    from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteDatabaseWrapper

    sqlite = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: `connection` is a proxy
    if not isinstance(sqlite, SQLiteDatabaseWrapper) or sqlite.is_in_memory_db():
        yield
        return
    database = Path(str(sqlite.settings_dict["NAME"]))
    with database.with_name(database.name + ".migrating").open("a") as lock:
        fcntl.lockf(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def _every_migration_applied() -> bool:
    """Whether `django_migrations` lists every migration module of every app, found by name
    without importing them. False whenever unsure: `migrate` then decides, as always."""
    import importlib.util
    import pkgutil

    from django.apps import apps
    from django.db import DatabaseError
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.recorder import MigrationRecorder

    try:
        applied = set(MigrationRecorder(connection).applied_migrations())
    except DatabaseError:
        return False  # no database or no table yet
    for app in apps.get_app_configs():
        module, _explicit = MigrationLoader.migrations_module(app.label)
        if module is None:
            continue
        try:
            spec = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            spec = None
        if spec is None or spec.submodule_search_locations is None:
            continue  # an app without migrations
        for found in pkgutil.iter_modules(spec.submodule_search_locations):
            # What MigrationLoader skips: private modules, packages.
            if found.ispkg or found.name.startswith(("_", "~")):
                continue
            if (app.label, found.name) not in applied:
                return False
    return True


def _read_password(prompt: str = "Password") -> str:
    """Asked twice on a terminal; one line from standard input otherwise (scripts, pipes)."""
    if sys.stdin.isatty():
        try:
            first = getpass.getpass(f"{prompt}: ")
            second = getpass.getpass(f"{prompt} (again): ")
        except EOFError:  # Ctrl-D
            raise CliError("no password") from None
        if first != second:
            raise CliError("the two passwords differ")
        return first
    line = sys.stdin.readline()
    if not line:
        raise CliError("no password on standard input")
    return line.rstrip("\r\n")


def _get_user(name: str):  # type: ignore[no-untyped-def]
    from liseuse.accounts.models import User

    try:
        return User.objects.get(username=name)
    except User.DoesNotExist:
        raise CliError(f"no user named {name!r}") from None


# --- serve / worker / refresh ----------------------------------------------------------------


def _changed(*user_ids: int) -> None:
    """The web pages of these people must not be served from their cache any more."""
    from liseuse.accounts.changes import count_change

    count_change(*user_ids)


def cmd_serve(args: argparse.Namespace) -> None:
    from liseuse import server

    server.serve(worker=not args.no_worker)


# Read as soon as the command starts, before Django's setup: a `liseuse serve` killed meanwhile
# would leave its loop a new parent to take for its own.
_PARENT_AT_START = os.getppid()


def cmd_worker(args: argparse.Namespace) -> None:
    from liseuse.feeds import worker

    worker.run_forever(parent=_PARENT_AT_START if args.leave_with_parent else None)


def cmd_refresh(args: argparse.Namespace) -> None:
    from liseuse.feeds import claim
    from liseuse.feeds import search
    from liseuse.feeds import worker

    user = _get_user(args.user) if args.user else None
    # A service manager's or `kill`'s stop, as Ctrl-C's: the refresh processes are asked to
    # stop, the leases given back, "interrupted" said. By default it ended this process at
    # once, and its children found out a second later, by themselves.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    held = claim.held_elsewhere(now=claim.database_now(), user=user, due_only=not args.all)
    summary = worker.refresh_once(all_feeds=args.all, user=user, progress=True)
    print(summary.describe(), flush=True)
    if held:
        print(
            f"{held} feed(s) left out: when this pass began, another process was refreshing "
            "them or their site",
            flush=True,
        )
    # Entries are readable now; making them searchable comes after (feeds/search.py).
    started = time.monotonic()
    indexed = search.index_pending()
    if indexed:
        print(f"indexed {indexed} new entries for search in {time.monotonic() - started:.1f} s")


def cmd_check(args: argparse.Namespace) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    try:
        call_command("check", deploy=True, fail_level="ERROR", databases=["default"])
    except SystemCheckError as exc:
        # Django puts every problem, with its hint, in the exception's text; its first line
        # alone ("identified some issues:") hid what they were.
        print(str(exc).strip(), file=sys.stderr)
        raise CliError("the checks above found errors") from None


# --- user -------------------------------------------------------------------------------------


def cmd_user_add(args: argparse.Namespace) -> None:
    from liseuse.accounts import services

    password = _read_password()
    services.create_user(
        args.name,
        password,
        admin=args.admin,
        language=args.language or "",
        timezone=args.timezone,
    )
    print(f"user {args.name} created{' (admin)' if args.admin else ''}")


def cmd_user_list(args: argparse.Namespace) -> None:
    from liseuse.accounts.models import User

    for user in User.objects.order_by("username"):
        flags = []
        if user.is_superuser:
            flags.append("admin")
        if not user.is_active:
            flags.append("disabled")
        if user.api_password:
            flags.append("api")
        print(f"{user.username}\t{','.join(flags)}")


def cmd_user_passwd(args: argparse.Namespace) -> None:
    from liseuse.accounts import services

    user = _get_user(args.name)
    services.change_password(user, _read_password("New password"))
    print(f"password of {args.name} changed")


def cmd_user_api_password(args: argparse.Namespace) -> None:
    from liseuse.accounts import services

    user = _get_user(args.name)
    services.set_api_password(user, _read_password("API password"))
    print(f"API password of {args.name} set")


def cmd_user_disable(args: argparse.Namespace) -> None:
    from liseuse.accounts import services

    try:
        services.set_active(_get_user(args.name), False)
    except services.LastAdministrator as exc:
        raise CliError(str(exc)) from None
    print(f"user {args.name} disabled (sessions ended, API passwords refused)")


def cmd_user_enable(args: argparse.Namespace) -> None:
    from liseuse.accounts import services

    services.set_active(_get_user(args.name), True)
    print(f"user {args.name} enabled")


def cmd_user_delete(args: argparse.Namespace) -> None:
    from liseuse.accounts import services

    user = _get_user(args.name)
    try:
        services.delete_user(user)
    except services.LastAdministrator as exc:
        raise CliError(str(exc)) from None
    print(f"user {args.name} deleted")


def cmd_user_admin(args: argparse.Namespace) -> None:
    from liseuse.accounts import services

    try:
        services.set_administrator(_get_user(args.name), not args.revoke)
    except services.LastAdministrator as exc:
        raise CliError(str(exc)) from None
    print(f"user {args.name} is {'no longer ' if args.revoke else ''}an administrator")


# --- feed -------------------------------------------------------------------------------------


def cmd_feed_add(args: argparse.Namespace) -> None:
    from liseuse.feeds import subscribe

    user = _get_user(args.user)
    choose = _choose_on_terminal if sys.stdin.isatty() else None
    sub = subscribe.subscribe_url(user, args.url, category=args.category, choose=choose)
    _changed(user.pk)
    print(f"following {sub.feed.url} (feed {sub.feed_id}): {sub.display_title}")


def _choose_on_terminal(candidates: Sequence[tuple[str, str]]) -> str:
    print("Several feeds were found:")
    for number, (url, title) in enumerate(candidates, start=1):
        print(f"  {number}. {title or url}  <{url}>")
    try:
        answer = input(f"Which one? [1-{len(candidates)}] ").strip()
    except EOFError:  # Ctrl-D
        raise CliError("no feed chosen") from None
    # isascii: isdigit() accepts "²", which int() refuses.
    if not (answer.isascii() and answer.isdigit()) or not 1 <= int(answer) <= len(candidates):
        raise CliError("no feed chosen")
    return candidates[int(answer) - 1][0]


def cmd_feed_list(args: argparse.Namespace) -> None:
    from liseuse.feeds.models import Feed

    feeds = Feed.objects.order_by("id")
    if args.user:
        feeds = feeds.filter(subscriptions__user=_get_user(args.user))
    for feed in feeds:
        print(f"{feed.id}\t{feed.title or '-'}\t{feed.url}\t{_feed_health(feed)}")


def _feed_health(feed: Feed) -> str:
    """A feed's state in one line. A failing feed still says when it last worked: that is what
    tells a passing hiccup from a feed that died months ago. Times in UTC."""
    if feed.last_success_at is not None:
        fine = f"ok {feed.last_success_at.astimezone(dt.UTC):%Y-%m-%d %H:%M}"
        last = f"last {fine}"
    else:
        fine = last = "never fetched" if feed.last_fetched_at is None else "never ok"
    if feed.disabled:
        return f"disabled ({last}): {feed.last_error or 'by hand'}"
    if feed.last_error:
        return f"error ({feed.error_count}×, {last}): {feed.last_error}"
    return fine


def cmd_feed_remove(args: argparse.Namespace) -> None:
    from liseuse.feeds.models import Feed
    from liseuse.feeds.models import Subscription

    if args.user:
        from liseuse.feeds.subscribe import unfollow

        sub = Subscription.objects.filter(user=_get_user(args.user), feed_id=args.id).first()
        if sub is None:
            raise CliError(f"{args.user} does not follow feed {args.id}")
        unfollow(sub)
        _changed(sub.user_id)
        print(f"{args.user} no longer follows feed {args.id}")
        return
    followers = list(Subscription.objects.filter(feed_id=args.id).values_list("user_id", flat=True))
    deleted, _ = Feed.objects.filter(id=args.id).delete()
    _changed(*followers)
    if not deleted:
        raise CliError(f"no feed {args.id}")
    print(f"feed {args.id} removed for everyone")


# --- opml -------------------------------------------------------------------------------------


def cmd_opml_import(args: argparse.Namespace) -> None:
    from liseuse.feeds import opml

    user = _get_user(args.user)
    limit = opml.MAX_OPML_BYTES
    try:
        if args.file == "-":
            # One byte more than allowed is enough to know it is too much.
            data = sys.stdin.buffer.read(limit + 1)
            size = len(data) if len(data) <= limit else None
        else:
            path = Path(args.file)
            size = path.stat().st_size
            data = path.read_bytes() if size <= limit else b""
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    if size is None:
        raise CliError(
            f"The OPML file is over {opml.megabytes(limit)} MB, the most liseuse accepts."
        )
    if size > limit:
        raise CliError(
            f"The OPML file is {opml.megabytes(size)} MB; liseuse accepts at most "
            f"{opml.megabytes(limit)} MB."
        )
    report = opml.import_opml(user, data)
    _changed(user.pk)
    print(
        f"imported {report.added} feed(s), skipped {report.skipped} already followed, "
        f"created {report.categories_created} categor{'y' if report.categories_created == 1 else 'ies'}"
    )


def cmd_opml_export(args: argparse.Namespace) -> None:
    from liseuse.feeds import opml

    user = _get_user(args.user)
    sys.stdout.write(opml.export_opml(user))


# --- backups and retention --------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> None:
    import json

    from liseuse.feeds import backup

    user = _get_user(args.user)
    json.dump(backup.export_user(user), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


def cmd_import(args: argparse.Namespace) -> None:
    import json

    from liseuse.feeds import backup

    user = _get_user(args.user)
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise CliError(f"{args.file} is not JSON: {exc}") from None
    try:
        counts = backup.import_user(user, document)
    except backup.BackupError as exc:
        raise CliError(str(exc)) from None
    _changed(user.pk)
    print(
        f"imported into {user.username}: "
        f"{counts['subscriptions']} subscription(s) ({counts['new_subscriptions']} new), "
        f"{counts['labels']} label(s) ({counts['new_labels']} new), "
        f"{counts['entries']} entry state(s) ({counts['changed_states']} changed)"
    )


def cmd_retention(args: argparse.Namespace) -> None:
    from liseuse.feeds import retention

    # Not only old ones: a feed nobody has followed for a day goes with its entries.
    deleted = retention.run_all()
    print(
        f"retention: {deleted} entries and reading states deleted "
        "(past the retention rules, or of feeds nobody follows)"
    )


def cmd_retention_rule(args: argparse.Namespace) -> None:
    """Change the limits given, keep the others (`--reset`: back to the defaults), then show
    the rule. Without a limit it only shows it. Every limit left out went back to the default
    before: changing one limit undid the others without a word."""
    from liseuse.feeds.models import Category
    from liseuse.feeds.models import Feed
    from liseuse.feeds.models import RetentionRule

    names = ("keep_max", "keep_min", "keep_days")
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if any(v < 0 for v in given.values()):
        raise CliError("limits are whole numbers, 0 or more")
    if args.reset and given:
        raise CliError("--reset puts every limit back to its default: give no limit with it")
    if given.get("keep_max") and given.get("keep_min", 0) > given["keep_max"]:
        raise CliError(
            f"--keep-min {given['keep_min']} is more than --keep-max {given['keep_max']}: "
            f"the newest {given['keep_min']} would stay all the same"
        )
    changes: dict[str, int | None] = dict.fromkeys(names) if args.reset else dict(given)

    def shown(values: dict[str, int | None]) -> str:
        return ", ".join(f"{k}={'default' if values[k] is None else values[k]}" for k in names)

    if args.feed is not None:
        if args.user or args.category:
            raise CliError("--feed applies to everyone: no --user or --category with it")
        feeds = Feed.objects.filter(id=args.feed)
        if changes:
            feeds.update(**changes)
        current = feeds.values(*names).first()
        if current is None:
            raise CliError(f"no feed {args.feed}")
        print(f"feed {args.feed}: {shown(current)}")
        return
    if not args.user:
        raise CliError("say whose rule it is (--user NAME), or which feed's (--feed ID)")
    user = _get_user(args.user)
    category = None
    if args.category:
        category = Category.objects.filter(user=user, name=args.category).first()
        if category is None:
            raise CliError(f"{args.user} has no category named {args.category!r}")
    rules = RetentionRule.objects.filter(user=user, category=category)
    if args.reset:
        rules.delete()
    elif changes:
        RetentionRule.objects.update_or_create(user=user, category=category, defaults=changes)
    current = rules.values(*names).first() or dict.fromkeys(names)
    where = f"category {args.category!r}" if category else "all feeds"
    print(f"{args.user}, {where}: {shown(current)}")


# --- parsing ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liseuse",
        description="A self-hosted feed reader. Configuration comes from LISEUSE_* environment "
        "variables (see docs/configuration.md).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        group: argparse._SubParsersAction,  # type: ignore[type-arg]
        name: str,
        handler: Callable[[argparse.Namespace], None],
        help_text: str,
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    serve = add(commands, "serve", cmd_serve, "Run the web server and the refresh loop.")
    serve.add_argument("--no-worker", action="store_true", help="serve only, no refresh loop")
    worker_command = add(commands, "worker", cmd_worker, "Run only the refresh loop.")
    worker_command.add_argument(
        "--leave-with-parent",
        action="store_true",
        help="stop when the process that started it ends (what `liseuse serve` asks)",
    )
    refresh = add(commands, "refresh", cmd_refresh, "One pass over the due feeds, then exit.")
    refresh.add_argument(
        "--all",
        action="store_true",
        help="every feed, due or not (except those whose server asked to wait: Retry-After)",
    )
    refresh.add_argument("--user", metavar="NAME", help="only the feeds this person follows")

    add(commands, "check", cmd_check, "Check the configuration for production.")

    user = commands.add_parser("user", help="Manage accounts.", description="Manage accounts.")
    users = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    user_add = add(users, "add", cmd_user_add, "Create an account (password asked or on stdin).")
    user_add.add_argument("name")
    user_add.add_argument("--admin", action="store_true", help="make it an administrator")
    user_add.add_argument("--language", choices=["fr", "en"], help="default: the browser's")
    user_add.add_argument("--timezone", default="UTC", help="such as Europe/Paris")
    add(users, "list", cmd_user_list, "List accounts.")
    passwd = add(users, "passwd", cmd_user_passwd, "Change an account's login password.")
    passwd.add_argument("name")
    api = add(users, "api-password", cmd_user_api_password, "Set the password apps use (APIs).")
    api.add_argument("name")
    disable = add(users, "disable", cmd_user_disable, "Stop an account from logging in.")
    disable.add_argument("name")
    enable = add(users, "enable", cmd_user_enable, "Let a disabled account log in again.")
    enable.add_argument("name")
    delete = add(users, "delete", cmd_user_delete, "Delete an account and all its data.")
    delete.add_argument("name")
    admin = add(users, "admin", cmd_user_admin, "Make an account an administrator (or not).")
    admin.add_argument("name")
    admin.add_argument("--revoke", action="store_true", help="make it an ordinary account")

    feed = commands.add_parser("feed", help="Manage feeds.", description="Manage feeds.")
    feeds = feed.add_subparsers(dest="feed_command", required=True, metavar="ACTION")
    feed_add = add(feeds, "add", cmd_feed_add, "Follow a feed, or find the feeds of a site.")
    feed_add.add_argument("url")
    feed_add.add_argument("--user", required=True, metavar="NAME")
    feed_add.add_argument("--category", metavar="C")
    feed_list = add(feeds, "list", cmd_feed_list, "List feeds with their health.")
    feed_list.add_argument("--user", metavar="NAME")
    feed_remove = add(feeds, "remove", cmd_feed_remove, "Unfollow (with --user) or delete a feed.")
    feed_remove.add_argument("id", type=_bounded(1, MAX_ID))
    feed_remove.add_argument("--user", metavar="NAME")

    opml_parser = commands.add_parser(
        "opml", help="Import or export subscriptions.", description="OPML import and export."
    )
    opmls = opml_parser.add_subparsers(dest="opml_command", required=True, metavar="ACTION")
    opml_import = add(opmls, "import", cmd_opml_import, "Follow every feed of an OPML file.")
    opml_import.add_argument("file", help="a path, or - for standard input")
    opml_import.add_argument("--user", required=True, metavar="NAME")
    opml_export = add(opmls, "export", cmd_opml_export, "Write a person's subscriptions as OPML.")
    opml_export.add_argument("--user", required=True, metavar="NAME")

    export = add(
        commands, "export", cmd_export, "Write a person's whole data as JSON (a backup, a move)."
    )
    export.add_argument("--user", required=True, metavar="NAME")
    import_ = add(commands, "import", cmd_import, "Merge a JSON export into a person's data.")
    import_.add_argument("file", help="a path, or - for standard input")
    import_.add_argument("--user", required=True, metavar="NAME")
    add(commands, "retention", cmd_retention, "Delete old entries now (the worker does it too).")
    rule = add(
        commands,
        "retention-rule",
        cmd_retention_rule,
        "Show or change a feed's retention limits, or a person's own (all feeds, or one "
        "category); the limits not given stay as they are.",
    )
    rule.add_argument(
        "--feed", type=_bounded(1, MAX_ID), metavar="ID", help="for everyone, on this feed"
    )
    rule.add_argument("--user", metavar="NAME", help="this person's own limits")
    rule.add_argument("--category", metavar="C", help="with --user: only this category")
    rule.add_argument(
        "--keep-max", type=_bounded(0, MAX_LIMIT), metavar="N", help="at most N entries"
    )
    rule.add_argument(
        "--keep-min", type=_bounded(0, MAX_LIMIT), metavar="N", help="never fewer than N"
    )
    rule.add_argument(
        "--keep-days", type=_bounded(0, MAX_LIMIT), metavar="N", help="older than N days may go"
    )
    rule.add_argument(
        "--reset", action="store_true", help="every limit back to its default (none given)"
    )
    return parser


def _bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`, or argparse's one-line usage
    error saying so."""

    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not between {low} and {high}")
        return value

    return whole_number


def _refuse_a_broken_setup(*, everything: bool) -> None:
    """Stop on the checks' errors (docs/configuration.md, Checks): every command on those of
    the data folder (E001, E002: cheap); `serve` and `worker`, which run for long, on all of
    them, Django's included (a CSRF_TRUSTED_ORIGINS without a scheme refused every form). All
    of them cost a quarter of a second, most of a short command's start: `liseuse check` runs
    them for the others. A read-only data folder failed with a traceback instead."""
    from django.conf import settings
    from django.core import checks

    from liseuse.feeds.checks import sqlite_problems

    found = checks.run_checks() if everything else sqlite_problems(settings.DATABASES["default"])
    errors = [problem for problem in found if problem.is_serious()]
    if errors:
        _fail("; ".join(f"{e.id}: {e.msg}" + (f" {e.hint}" if e.hint else "") for e in errors))


def _fail(message: str) -> NoReturn:
    print(f"liseuse: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_FAILURE)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        _setup_django()
    except Exception as exc:  # configuration errors: one readable line, not a traceback
        _fail(str(exc))
    from django.core.exceptions import ValidationError
    from django.db import OperationalError

    from liseuse.feeds.opml import OpmlError
    from liseuse.feeds.subscribe import SubscribeError
    from liseuse.lib.env import ConfigError

    try:
        if args.handler is not cmd_check:
            _refuse_a_broken_setup(everything=args.handler in (cmd_serve, cmd_worker))
            # Every other command reads or writes the database: a fresh data folder, or one
            # an upgrade left behind, is brought up to date first (a no-op when it is).
            try:
                _migrate()
            except OSError as exc:  # its lock file beside the database, refused
                _fail(f"the data folder: {exc}")
        args.handler(args)
        sys.stdout.flush()  # a closed pipe said now, while it can be told quietly
    except BrokenPipeError:
        # The reader went away (`liseuse feed list | head -1`): stop quietly, as Unix tools
        # do. Standard output goes to /dev/null, or Python's own flush at exit fails again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(EXIT_BROKEN_PIPE) from None
    except (CliError, OpmlError, SubscribeError, ConfigError) as exc:
        _fail(str(exc))
    except OperationalError as exc:  # the server down, the file unwritable or locked
        reason = next(iter(str(exc).strip().splitlines()), type(exc).__name__)
        _fail(f"the database: {reason}")
    except ValidationError as exc:
        _fail(" ".join(exc.messages))
    except KeyboardInterrupt:
        _fail("interrupted")


if __name__ == "__main__":
    main()
