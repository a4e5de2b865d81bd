"""A person's change counter, `User.generation`: what lets a reading page be served again.

It goes up after every request of theirs that may change something: from the web pages, any
method but GET, HEAD and OPTIONS; from an app, the calls its API names as writes (Fever and
some Google Reader clients read by POST too); and after the CLI commands that change their
data. The reading pages' cache (`liseuse/ui/pagecache.py`) keys on it: what a person did
shows on their next page, whichever web node serves it, since the counter lives in the
database.

Entries that a refresh brings are not counted here (a feed's new entries would otherwise write
the row of each of its followers, from every worker at once): the pages key on the person's
newest entry as well.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import F
from django.http import HttpRequest
from django.http import HttpResponse

from liseuse.accounts.models import User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_APP_PERSON = "_liseuse_app_person_id"


def count_change(*user_ids: int) -> None:
    """The people's pages are out of date from now on."""
    User.objects.filter(pk__in=user_ids).update(generation=F("generation") + 1)


def note_app_person(request: HttpRequest, user: User) -> None:
    """This app request (Google Reader, Fever) writes for this person, whom no session names:
    the API calls it for its writing calls only."""
    setattr(request, _APP_PERSON, user.pk)


class ChangeCounterMiddleware:
    """Counts a change after each unsafe request of a known person, and after each app call
    that writes (`note_app_person`), once its work is done.

    After the view, not before: a page that read the old counter before the change committed
    is stored under the old counter, which nobody asks for again.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # An app's writing call counts whatever its method: Google Reader's subscription/edit
        # and quickadd are sent by GET too (FreshRSS takes them so), and the person's page
        # showed the unsubscribed feed until something else counted a change.
        person = getattr(request, _APP_PERSON, None)
        if person is None and request.method not in SAFE_METHODS:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                person = user.pk
        if person is not None:
            count_change(person)
        return response
