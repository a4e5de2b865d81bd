"""Log lines as text or JSON (LISEUSE_LOG_FORMAT), with the same context keys everywhere.

Code passes context with `extra=` under these names only, so that a log search for one feed or
one person finds every line about it, whichever part of liseuse wrote it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC
from datetime import datetime
from typing import Any

# The keys a log line may carry, in the order text lines show them.
CONTEXT_KEYS = ("feed_id", "feed_url", "user_id", "duration_ms", "new_entries", "error")


# The person a web request is for, set by `RequestContextMiddleware` for the request's duration.
current_user_id: ContextVar[int | None] = ContextVar("liseuse_user_id", default=None)
# The same, in the request's WSGI environment: the access log line is written after the
# request's context has ended (`liseuse.server.AccessLogger`).
ENVIRON_USER_ID = "liseuse.user_id"


class RequestContextFilter(logging.Filter):
    """Adds `user_id` to every line logged while serving a logged-in person's request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "user_id"):
            user_id = current_user_id.get()
            if user_id is not None:
                record.user_id = user_id
        return True


class RequestContextMiddleware:
    """After authentication: whose request this is, for the logs (never in the message)."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        token = current_user_id.set(user_id)
        if user_id is not None:
            request.META[ENVIRON_USER_ID] = user_id
        try:
            return self.get_response(request)
        finally:
            current_user_id.reset(token)


def _context(record: logging.LogRecord) -> dict[str, object]:
    return {key: getattr(record, key) for key in CONTEXT_KEYS if hasattr(record, key)}


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message key=value …`: readable, and still grep-able by key."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _context(record)
        if context:
            line += " " + " ".join(f"{key}={json.dumps(value)}" for key, value in context.items())
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context keys, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_context(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
