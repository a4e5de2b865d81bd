"""Django settings, all from `LISEUSE_…` environment variables (see docs/configuration.md).

SQLite in the data folder unless `LISEUSE_DATABASE_URL` names PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from pathlib import Path

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from liseuse.lib.env import ConfigError
from liseuse.lib.env import database_from_url
from liseuse.lib.env import env_bool
from liseuse.lib.env import env_int
from liseuse.lib.env import env_list
from liseuse.lib.env import env_networks
from liseuse.lib.env import env_str

# Lets typed code write `ModelForm[Subscription]`, `QuerySet[Entry]` at run time as mypy sees them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent

DATA_DIR = Path(env_str("DATA_DIR", "data")).resolve()


def _make_folders(*folders: Path) -> None:
    """The data folder and those liseuse keeps in it, made now: failing later, inside Django's
    setup or its checks, it was a traceback or an error number that named neither."""
    for folder in folders:
        try:
            # The data folder for its owner alone: it holds the database, and with it everyone's
            # sessions (a session key is the browser's cookie) and reading.
            folder.mkdir(parents=True, exist_ok=True, mode=0o700 if folder == DATA_DIR else 0o777)
        except OSError as exc:
            raise ConfigError(
                f"LISEUSE_DATA_DIR={str(DATA_DIR)!r}: cannot make the folder {folder} "
                f"({exc.strerror or exc}); give liseuse a folder it can write"
            ) from None


# The shared pages (the "shared-pages" cache below) and `collectstatic`'s output.
_make_folders(DATA_DIR, DATA_DIR / "cache" / "pages", DATA_DIR / "static")


def _kept_secret_key() -> str:
    """`LISEUSE_SECRET_KEY`, else one generated once and kept in the data folder.

    Keeping it means sessions survive restarts and every web process sharing the folder agrees.
    """
    given = env_str("SECRET_KEY")
    if given:
        return given
    path = DATA_DIR / "secret_key"
    try:
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"LISEUSE_DATA_DIR={str(DATA_DIR)!r}: cannot keep the secret key in {path} "
            f"({getattr(exc, 'strerror', None) or exc}); give liseuse a folder it can write, or "
            "set LISEUSE_SECRET_KEY"
        ) from None


SECRET_KEY = _kept_secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "liseuse.accounts",
    "liseuse.feeds",
    "liseuse.ui",
    "liseuse.greader",
    "liseuse.fever",
    "liseuse.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "liseuse.middleware.SecurityHeadersMiddleware",
    "liseuse.middleware.RequestSizeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "liseuse.ops.logs.RequestContextMiddleware",  # user_id on the request's log lines
    "liseuse.accounts.changes.ChangeCounterMiddleware",  # what the pages' cache keys on
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "liseuse.urls"
WSGI_APPLICATION = "liseuse.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_database_url = env_str("DATABASE_URL")
if _database_url:
    DATABASES = {"default": database_from_url(_database_url)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "liseuse.sqlite3",
            "OPTIONS": {
                # WAL lets the web process read while the refresh loop writes; IMMEDIATE takes
                # the write lock at BEGIN so two writers queue instead of failing mid-transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                # The WAL is copied into the database once it holds 8,192 pages (32 MB), not
                # SQLite's 1,000: each copy syncs the disk twice, and a refresh's were taken
                # inside the write lock its processes take turns at (249 syncs for a first
                # refresh of 35,000 entries, 76 now; docs/benchmarks.md). Every connection
                # alike, so that a page's small write during a refresh does not do the copy the
                # refresh's own writes left; a refresh copies what it left at its end
                # (feeds.worker).
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                    "PRAGMA wal_autocheckpoint=8192;"
                ),
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's model backend, given the person the session query read (liseuse/accounts/backends.py).
AUTHENTICATION_BACKENDS = ["liseuse.accounts.backends.PersonBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "ui:login"
LOGIN_REDIRECT_URL = "ui:home"
LOGOUT_REDIRECT_URL = "ui:login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"  # only for `collectstatic` behind another web server
# Served by WhiteNoise straight from the apps' folders: no collectstatic step on a Pi.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Database sessions that know their person (the "your sessions" page lists and ends them).
SESSION_ENGINE = "liseuse.accounts.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# A session ends this many days after the login.
SESSION_COOKIE_AGE = env_int("SESSION_DAYS", 30, minimum=1) * 24 * 3600
SECURE_CONTENT_TYPE_NOSNIFF = True
# Not "no-referrer": under it a browser posts forms with "Origin: null" (the Fetch standard says
# so), which Django's CSRF check rightly refuses. "same-origin" still sends nothing to other
# sites, and links in entries carry rel="noreferrer" besides.
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
_https = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
if _https:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# `liseuse check` says what matters of these in its own words (liseuse.W004: HTTPS not set up),
# and a properly set up instance must be able to come out clean. HSTS and the redirect to HTTPS
# are the job of the reverse proxy that serves HTTPS (docs/configuration.md): it knows whether
# the whole host is HTTPS, and a redirect here would break a load balancer's plain /healthz.
# The Secure cookies follow LISEUSE_HTTPS, which liseuse.W004 already asks for.
SILENCED_SYSTEM_CHECKS = ["security.W004", "security.W008", "security.W012", "security.W016"]

DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024  # OPML uploads of big FreshRSS exports
# Any request body over this is refused with 413 before it is read (file uploads included).
LISEUSE_MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 20 * 1024 * 1024, minimum=1024 * 1024)

# --- liseuse's own settings -------------------------------------------------------------------

LISEUSE_LISTEN = env_str("LISTEN", "127.0.0.1:8000")
# Anyone may create an account on the login page (off: the admin creates accounts).
LISEUSE_OPEN_REGISTRATION = env_bool("OPEN_REGISTRATION", False)
# Anonymous reading (read-only) of this person's streams at /public/; empty: off.
LISEUSE_PUBLIC_READER = env_str("PUBLIC_READER", "")
# Login throttling: failures allowed per account and per address within the window.
LISEUSE_LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=1)
LISEUSE_LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 20, minimum=1)
LISEUSE_LOGIN_WINDOW_SECONDS = env_int("LOGIN_WINDOW_SECONDS", 15 * 60, minimum=1)
# Behind a reverse proxy, the caller's address is the last X-Forwarded-For hop.
LISEUSE_BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
LISEUSE_ALLOW_PRIVATE_NETWORKS = env_bool("ALLOW_PRIVATE_NETWORKS", False)
# Private networks (or single addresses) liseuse may fetch from although the guard is on.
LISEUSE_ALLOWED_NETWORKS = env_networks("ALLOWED_NETWORKS", [])
# Entries' images, audio and video through liseuse (feeds/media.py), so that reading does not
# reveal the reader's address to every site. Off by default: it costs this machine bandwidth.
LISEUSE_MEDIA_PROXY = env_bool("MEDIA_PROXY", False)
LISEUSE_MEDIA_PROXY_MAX_BYTES = env_int("MEDIA_PROXY_MAX_BYTES", 20 * 1024 * 1024, minimum=1024)
LISEUSE_WEB_WORKERS = env_int("WEB_WORKERS", 2, minimum=1)
LISEUSE_FETCH_CONCURRENCY = env_int("FETCH_CONCURRENCY", 100, minimum=1)
LISEUSE_FETCH_PER_HOST = env_int("FETCH_PER_HOST", 2, minimum=1)
LISEUSE_FETCH_TIMEOUT = env_int("FETCH_TIMEOUT", 30, minimum=1)
LISEUSE_FETCH_MAX_BYTES = env_int("FETCH_MAX_BYTES", 15 * 1024 * 1024, minimum=1024)
LISEUSE_REFRESH_MIN_MINUTES = env_int("REFRESH_MIN_MINUTES", 15, minimum=1)
LISEUSE_REFRESH_MAX_MINUTES = env_int("REFRESH_MAX_MINUTES", 24 * 60, minimum=1)
if LISEUSE_REFRESH_MIN_MINUTES > LISEUSE_REFRESH_MAX_MINUTES:
    raise ConfigError(
        f"LISEUSE_REFRESH_MIN_MINUTES={LISEUSE_REFRESH_MIN_MINUTES} is above "
        f"LISEUSE_REFRESH_MAX_MINUTES={LISEUSE_REFRESH_MAX_MINUTES}"
    )
# Feeds a worker claims at once. Each batch starts its own processes and waits for the slowest:
# on SQLite (one machine, one writer) a pass goes faster in fewer, bigger batches; on
# PostgreSQL several workers share the due feeds, and smaller batches keep them all busy to
# the end of a pass (docs/benchmarks.md, docs/benchmarks-scale.md).
LISEUSE_REFRESH_BATCH = env_int(
    "REFRESH_BATCH",
    1000 if str(DATABASES["default"]["ENGINE"]).endswith("sqlite3") else 500,
    minimum=1,
)
LISEUSE_LEASE_SECONDS = env_int("LEASE_SECONDS", 600, minimum=1)
# Pins "today" for the day separators (an ISO date); for tests and screenshots only.
LISEUSE_UI_TODAY = env_str("UI_TODAY").strip() or None
if LISEUSE_UI_TODAY:
    try:
        dt.date.fromisoformat(LISEUSE_UI_TODAY)
    except ValueError:
        raise ConfigError(
            f"LISEUSE_UI_TODAY={LISEUSE_UI_TODAY!r} is not a date (such as 2024-05-31)"
        ) from None
# How often an open page asks whether new entries arrived (the "new articles" banner).
LISEUSE_UI_POLL_SECONDS = env_int("UI_POLL_SECONDS", 120, minimum=10)
# A reading page is served again from memory while nothing it shows changed for the person, for
# at most this long (liseuse/ui/pagecache.py says what it notices at once); 0 turns it off.
LISEUSE_PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 120, minimum=0)
# Each web process keeps at most this many pages (gzipped: about 10 to 40 KB each), and so
# does the folder the web processes of this machine share them through.
LISEUSE_PAGE_CACHE_PAGES = env_int("PAGE_CACHE_PAGES", 500, minimum=1)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "liseuse-pages",
        "OPTIONS": {"MAX_ENTRIES": LISEUSE_PAGE_CACHE_PAGES},
    },
    # A page one web process made, for the others of this machine (ui/pagecache.py).
    "shared-pages": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": DATA_DIR / "cache" / "pages",
        "OPTIONS": {"MAX_ENTRIES": LISEUSE_PAGE_CACHE_PAGES},
    },
}
LISEUSE_USER_AGENT = env_str(
    "USER_AGENT", "liseuse/0.1 (+https://liseuse.org; self-hosted feed reader)"
)

# /metrics answers these addresses (IPs or CIDRs), or anyone with LISEUSE_METRICS_TOKEN as a
# Bearer token (empty: no token accepted).
LISEUSE_METRICS_ALLOW = env_networks("METRICS_ALLOW", ["127.0.0.0/8", "::1"])
LISEUSE_METRICS_TOKEN = env_str("METRICS_TOKEN")
# Retention (feeds.retention); a feed may override each. 0: no such limit.
LISEUSE_RETENTION_KEEP_MAX = env_int("RETENTION_KEEP_MAX", 0, minimum=0)
LISEUSE_RETENTION_KEEP_MIN = env_int("RETENTION_KEEP_MIN", 50, minimum=0)
LISEUSE_RETENTION_KEEP_DAYS = env_int("RETENTION_KEEP_DAYS", 0, minimum=0)
LISEUSE_RETENTION_KEEP_UNREAD = env_bool("RETENTION_KEEP_UNREAD", True)
LISEUSE_RETENTION_BATCH = env_int("RETENTION_BATCH", 500, minimum=1)
# How long a purged entry's tombstone keeps it from coming back (0: for ever).
LISEUSE_RETENTION_TOMBSTONE_DAYS = env_int("RETENTION_TOMBSTONE_DAYS", 180, minimum=0)

# WebSub (feeds.websub): this instance's public address, for hubs to call back; empty: off.
LISEUSE_WEBSUB_CALLBACK_URL = env_str("WEBSUB_CALLBACK_URL")
LISEUSE_WEBSUB_LEASE_SECONDS = env_int("WEBSUB_LEASE_SECONDS", 10 * 24 * 3600, minimum=3600)
# A feed its hub pushes is still polled, at most this often, as a safety net.
LISEUSE_WEBSUB_POLL_MINUTES = env_int("WEBSUB_POLL_MINUTES", 6 * 60, minimum=1)

# "text" (default) or "json": one JSON object per line, with the same keys (feed_id, feed_url,
# user_id, duration_ms) as the text lines' key=value pairs.
LISEUSE_LOG_FORMAT = env_str("LOG_FORMAT", "text")
if LISEUSE_LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LISEUSE_LOG_FORMAT is {LISEUSE_LOG_FORMAT!r}: text or json")
_log_level = env_str("LOG_LEVEL", "INFO").strip().upper()
if _log_level not in logging.getLevelNamesMapping():
    raise ConfigError(
        f"LISEUSE_LOG_LEVEL={_log_level!r} is not a log level (DEBUG, INFO, WARNING, ERROR, "
        "CRITICAL)"
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "liseuse.ops.logs.RequestContextFilter"}},
    "formatters": {
        "text": {"()": "liseuse.ops.logs.TextFormatter"},
        "json": {"()": "liseuse.ops.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LISEUSE_LOG_FORMAT == "json" else "text",
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": _log_level},
}
AUTH_USER_MODEL = "accounts.User"
