"""Subscription and folder edits the Google Reader API offers that no other service does yet.

Following a feed and OPML go through `liseuse.feeds` (subscribe, opml); what is here is the
rest of `subscription/edit`, `rename-tag` and `disable-tag`, each in one transaction.
"""

from __future__ import annotations

from django.db import transaction

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds import subscribe
from liseuse.feeds.models import Category
from liseuse.feeds.models import Label
from liseuse.feeds.models import Subscription
from liseuse.greader.errors import bad_request
from liseuse.greader.errors import not_found

NAME_MAX = 255


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise bad_request("A folder or label name cannot be empty")
    if len(name) > NAME_MAX:
        # Cut short, it was saved under a name the app never sent, and its next call to it
        # found nothing (404).
        raise bad_request(f"A folder or label name is at most {NAME_MAX} characters")
    return name


@transaction.atomic
def unfollow(sub: Subscription) -> None:
    """Stop following (the same service as the pages' unfollow)."""
    subscribe.unfollow(sub)


def category_named(user: User, name: str) -> Category:
    """The person's folder of that name, created if needed; refused if a label has the name
    (folders and labels share the `user/-/label/` namespace)."""
    name = _clean_name(name)
    found = Category.objects.filter(user=user, name=name).first()
    if found is not None:
        return found
    try:
        queries.check_category_name(user, name)
    except queries.NameTaken as exc:
        raise bad_request(str(exc)) from None
    return Category.objects.create(user=user, name=name)


@transaction.atomic
def rename_tag(user: User, old: str, new: str) -> None:
    """Rename a folder (first) or a label; the new name must be free in both."""
    new = _clean_name(new)
    if new == old:
        return
    taken = (
        Category.objects.filter(user=user, name=new).exists()
        or Label.objects.filter(user=user, name=new).exists()
    )
    category = Category.objects.filter(user=user, name=old).first()
    label = None if category is not None else Label.objects.filter(user=user, name=old).first()
    if category is None and label is None:
        raise not_found(f"No folder or label named {old[:200]!r}")
    if taken:
        raise bad_request(f"{new!r} is already the name of a folder or label")
    if category is not None:
        category.name = new
        category.save(update_fields=["name"])
    elif label is not None:
        label.name = new
        label.save(update_fields=["name"])


@transaction.atomic
def disable_tag(user: User, name: str) -> None:
    """Delete a folder (its feeds stay, without a folder) or else a label (entries keep theirs)."""
    category = Category.objects.filter(user=user, name=name).first()
    if category is not None:
        Subscription.objects.filter(user=user, category=category).update(category=None)
        category.delete()
        return
    deleted, _ = Label.objects.filter(user=user, name=name).delete()
    if not deleted:
        raise not_found(f"No folder or label named {name[:200]!r}")
