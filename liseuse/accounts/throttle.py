"""Login throttling: a few failures per account and per address, then a pause.

Failures are rows of `LoginFailure`, so several web processes (and a restart) agree on the
count. Names are counted whether or not the account exists: a throttled answer must not tell
that an account exists, so it is the same for every name.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from liseuse.accounts.models import LoginFailure


def window() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "LISEUSE_LOGIN_WINDOW_SECONDS", 15 * 60)))


def _limits() -> tuple[int, int]:
    per_account = int(getattr(settings, "LISEUSE_LOGIN_FAILURES_PER_ACCOUNT", 5))
    per_address = int(getattr(settings, "LISEUSE_LOGIN_FAILURES_PER_ADDRESS", 20))
    return per_account, per_address


def client_address(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or the last X-Forwarded-For hop when liseuse is told
    it sits behind a proxy (otherwise anyone could pick the address they are counted under)."""
    if getattr(settings, "LISEUSE_BEHIND_PROXY", False):
        forwarded = request.headers.get("X-Forwarded-For", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:64]
    return str(request.META.get("REMOTE_ADDR", ""))[:64]


def _keys(name: str, address: str) -> tuple[str, str]:
    # Names are case-insensitive at login time as at creation (`validate_username`).
    return f"user:{name.strip().lower()[:150]}", f"addr:{address}"


def is_blocked(name: str, address: str) -> bool:
    account_key, address_key = _keys(name, address)
    since = timezone.now() - window()
    per_account, per_address = _limits()
    recent = LoginFailure.objects.filter(at__gte=since)
    return (
        recent.filter(key=account_key).count() >= per_account
        or recent.filter(key=address_key).count() >= per_address
    )


def record_failure(name: str, address: str) -> None:
    now = timezone.now()
    account_key, address_key = _keys(name, address)
    LoginFailure.objects.bulk_create(
        [LoginFailure(key=account_key, at=now), LoginFailure(key=address_key, at=now)]
    )
    # Old rows are of no use: drop them as new ones come, so the table stays small.
    LoginFailure.objects.filter(at__lt=now - window()).delete()


def record_success(name: str) -> None:
    account_key, _ = _keys(name, "")
    LoginFailure.objects.filter(key=account_key).delete()


# Fever sends a key and no name: its failures can only be counted by address.


def is_address_blocked(address: str) -> bool:
    _, address_key = _keys("", address)
    _, per_address = _limits()
    since = timezone.now() - window()
    return LoginFailure.objects.filter(key=address_key, at__gte=since).count() >= per_address


def record_address_failure(address: str) -> None:
    now = timezone.now()
    _, address_key = _keys("", address)
    LoginFailure.objects.create(key=address_key, at=now)
    LoginFailure.objects.filter(at__lt=now - window()).delete()
