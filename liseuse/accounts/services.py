"""Creating and changing accounts: the one place the CLI and the web pages both go through."""

from __future__ import annotations

import re
import zoneinfo

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from liseuse.accounts.models import User

# Names appear in Fever's api_key ("name:password") and Google Reader's auth token: keep them to
# characters that survive every client's encoding.
_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,150}$")


def validate_username(name: str) -> None:
    if not _USERNAME.match(name):
        raise ValidationError(
            _("A username is 1 to 150 unaccented letters (a to z), digits, '.', '-' or '_'."),
            code="invalid",
        )
    if User.objects.filter(username__iexact=name).exists():
        raise ValidationError(
            _("The username %(name)s is taken.") % {"name": repr(name)}, code="taken"
        )


def validate_timezone(name: object) -> None:
    """A time zone of the IANA database ("Europe/Paris", "UTC"), as the settings page offers;
    one stored as given ("Mars/Olympus") broke every date shown to the person."""
    try:
        if not isinstance(name, str) or not name:
            raise ValueError
        zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ValidationError(
            _("%(name)s is not a time zone (such as Europe/Paris, or UTC).") % {"name": repr(name)},
            code="invalid",
        ) from None


@transaction.atomic
def create_user(
    name: str,
    password: str,
    *,
    admin: bool = False,
    language: str = "",
    timezone: str = "UTC",
) -> User:
    validate_username(name)
    validate_timezone(timezone)
    password_validation.validate_password(password)
    user = User(username=name, is_staff=admin, is_superuser=admin, language=language)
    user.timezone = timezone
    user.set_password(password)
    user.save()
    return user


def change_password(user: User, password: str) -> None:
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])


def set_api_password(user: User, password: str) -> None:
    if len(password) < 8:
        raise ValidationError(_("An API password needs at least 8 characters."), code="too_short")
    user.set_api_password(password)
    user.save(update_fields=["api_password", "fever_api_key"])


class LastAdministrator(Exception):
    """The account is the instance's last active administrator: without one, nobody could
    manage accounts from the pages, and the CLI could not make one of an existing account."""


def _refuse_last_administrator(user: User) -> None:
    if user.is_superuser and user.is_active:
        others = User.objects.filter(is_superuser=True, is_active=True).exclude(pk=user.pk)
        if not others.exists():
            raise LastAdministrator(
                _("%(name)s is the last administrator; make another one first.")
                % {"name": user.username}
            )


def set_active(user: User, active: bool) -> None:
    """Disable or enable an account. Disabling ends its sessions at once; its API passwords
    stop working too, since both APIs refuse an inactive person. The last administrator is
    not disabled (LastAdministrator)."""
    if not active:
        _refuse_last_administrator(user)
    user.is_active = active
    user.save(update_fields=["is_active"])
    if not active:
        end_sessions(user)


def end_sessions(user: User, *, keep: str | None = None) -> int:
    """End the person's sessions (all, or all but the one whose key is `keep`)."""
    from liseuse.accounts.models import Session

    sessions = Session.objects.filter(user=user)
    if keep:
        sessions = sessions.exclude(session_key=keep)
    deleted, _ = sessions.delete()
    return deleted


def delete_user(user: User) -> None:
    """Delete an account and everything that is only theirs (sessions, subscriptions, states,
    labels…: all cascade from the user row). Not the last administrator (LastAdministrator)."""
    _refuse_last_administrator(user)
    user.delete()


def set_administrator(user: User, admin: bool) -> None:
    """Make the account an administrator, or an ordinary one (not the last administrator)."""
    if not admin:
        _refuse_last_administrator(user)
    user.is_superuser = user.is_staff = admin
    user.save(update_fields=["is_superuser", "is_staff"])
