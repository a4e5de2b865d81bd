"""Shared fixtures: the personas (alice, bob, an admin) and a throw-away data folder."""

from __future__ import annotations

import pytest

from liseuse.accounts.models import User


@pytest.fixture
def alice(db: None) -> User:
    return User.objects.create_user("alice", password="correct horse battery")


@pytest.fixture
def bob(db: None) -> User:
    return User.objects.create_user("bob", password="correct horse battery")
