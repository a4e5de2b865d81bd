"""A person and their settings.

A custom user model from the first migration, so that settings live on the row read on every
request and later changes need no swap of `AUTH_USER_MODEL`.
"""

from __future__ import annotations

from django.contrib.auth.hashers import check_password
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractUser
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models


class User(AbstractUser):
    class View(models.TextChoices):
        NORMAL = "normal", "normal"
        READER = "reader", "reader"
        GLOBAL = "global", "global"

    class State(models.TextChoices):
        UNREAD = "unread", "unread"
        ALL = "all", "all"
        STARRED = "starred", "starred"

    class Theme(models.TextChoices):
        AUTO = "auto", "auto"
        LIGHT = "light", "light"
        DARK = "dark", "dark"

    # Empty language: follow the browser's Accept-Language.
    language = models.CharField(max_length=8, blank=True, default="")
    timezone = models.CharField(max_length=64, default="UTC")
    theme = models.CharField(max_length=8, choices=Theme.choices, default=Theme.AUTO)
    page_size = models.PositiveSmallIntegerField(default=50)
    default_view = models.CharField(max_length=8, choices=View.choices, default=View.NORMAL)
    default_state = models.CharField(max_length=8, choices=State.choices, default=State.UNREAD)
    oldest_first = models.BooleanField(default=False)
    mark_read_on_open = models.BooleanField(default=True)
    mark_read_on_scroll = models.BooleanField(default=False)
    # An entry whose content changed at the source comes back unread (FreshRSS's option).
    mark_updated_unread = models.BooleanField(default=False)
    # The one-key shortcuts of the reading pages. A person who speaks to the computer, or whose
    # hand slips, can turn them off (WCAG 2.1.4).
    keyboard_shortcuts = models.BooleanField(default=True, db_default=True)
    # The fields above, which a person sets on the settings page and an export carries.
    SETTINGS = (
        "language",
        "timezone",
        "theme",
        "page_size",
        "default_view",
        "default_state",
        "oldest_first",
        "mark_read_on_open",
        "mark_read_on_scroll",
        "mark_updated_unread",
        "keyboard_shortcuts",
    )
    # Goes up after each change the person makes (accounts/changes.py): the reading pages'
    # cache keys on it, so that what they did shows at once, on every web node.
    generation = models.PositiveBigIntegerField(default=0, db_default=0)
    # The password apps use (Google Reader, Fever), hashed; never the login password.
    api_password = models.CharField(max_length=255, blank=True, default="")
    # Fever authenticates with md5("name:api password"); kept so the API can look it up. Empty
    # when no API password is set. It is as secret as the API password itself.
    fever_api_key = models.CharField(max_length=32, blank=True, default="", db_index=True)

    def set_api_password(self, raw: str) -> None:
        import hashlib

        self.api_password = make_password(raw)
        self.fever_api_key = hashlib.md5(f"{self.username}:{raw}".encode()).hexdigest()

    def check_api_password(self, raw: str) -> bool:
        return bool(self.api_password) and check_password(raw, self.api_password)


class LoginFailure(models.Model):
    """One failed login, kept a short while to slow down guessing.

    In the database rather than in process memory so that every web process (and every
    machine behind the same database) counts the same failures. `key` is "user:<name>" or
    "addr:<address>": a person's account and an address are throttled independently.
    """

    key = models.CharField(max_length=200)
    at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["key", "at"])]

    def __str__(self) -> str:
        return f"{self.key} at {self.at:%Y-%m-%d %H:%M:%S}"


class Session(AbstractBaseSession):
    """Django's database session, plus whose it is and from where, so that a person can list
    their sessions and end the others (`liseuse.accounts.sessions` is its store)."""

    user = models.ForeignKey(User, null=True, on_delete=models.CASCADE, related_name="sessions")
    user_agent = models.CharField(max_length=300, blank=True, default="")
    address = models.CharField(max_length=64, blank=True, default="")
    created = models.DateTimeField(null=True)

    @classmethod
    def get_session_store_class(cls) -> type[SessionBase]:
        from liseuse.accounts.sessions import SessionStore

        return SessionStore
