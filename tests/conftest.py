"""Shared fixtures: the personas (alice, bob, an admin) and a throw-away data folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import caches
from django.utils import translation

from liseuse.accounts.models import User


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Every test starts and ends in the default language. A page of a French-speaking person
    activates French in the thread (`ui.views.common.personal`), where it stays until the next
    request's LocaleMiddleware; code a later test runs outside any request (subscribing,
    refreshing) then spoke French to tests expecting English."""
    translation.deactivate()
    yield
    translation.deactivate()


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
