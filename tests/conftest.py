"""Shared fixtures: the personas (alice, bob, an admin) and a throw-away data folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import caches

from liseuse.accounts.models import User


@pytest.fixture(autouse=True)
def _empty_caches() -> Iterator[None]:
    """Every test starts with no kept page: its database numbers people and entries from 1
    again, so a page kept by an earlier test could match a key of this one."""
    for cache in caches.all(initialized_only=True):
        cache.clear()
    yield


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice", password="correct horse battery")


@pytest.fixture
def bob(db: None) -> User:
    return User.objects.create_user("bob", password="correct horse battery")
