"""Managing subscriptions: add (with discovery), edit, delete, refresh now, categories, OPML, the
feeds' health.

Every page works without JavaScript: plain forms, POST then a 303 redirect, a 400 with the form
and its message when the input is wrong. Every object is looked up through the person's own rows,
so someone else's subscription or category is a 404, exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence

from django import forms
from django.contrib import messages
from django.db import IntegrityError
from django.db import transaction
from django.http import Http404
from django.http import HttpRequest
from django.http import HttpResponse
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET
from django.views.decorators.http import require_http_methods
from django.views.decorators.http import require_POST

from liseuse.accounts.models import User
from liseuse.feeds import opml
from liseuse.feeds import queries
from liseuse.feeds.models import Category
from liseuse.feeds.models import Subscription
from liseuse.feeds.subscribe import SubscribeError
from liseuse.feeds.subscribe import change_url
from liseuse.feeds.subscribe import subscribe_url
from liseuse.feeds.subscribe import unfollow
from liseuse.feeds.worker import RefreshRefused
from liseuse.feeds.worker import refresh_feed_now
from liseuse.ui.views.common import personal


def see_other(name: str, *args: object) -> HttpResponseRedirect:
    """POST then 303: a reload never posts the form again."""
    response = HttpResponseRedirect(reverse(name, args=args))
    response.status_code = 303
    return response


def form_errors(form: forms.BaseForm) -> str:
    return " ".join(str(message) for errors in form.errors.values() for message in errors)


VISIBILITY_CHOICES = [
    (Subscription.Visibility.MAIN.value, gettext_lazy("In the main stream")),
    (Subscription.Visibility.CATEGORY.value, gettext_lazy("In its category only")),
    (Subscription.Visibility.HIDDEN.value, gettext_lazy("Hidden (only when the feed is opened)")),
]


class AddForm(forms.Form):
    url = forms.CharField(label=gettext_lazy("Site or feed address"), max_length=2048)
    category = forms.CharField(label=gettext_lazy("Category"), max_length=255, required=False)


class CategoryForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=255)

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if not name:
            raise forms.ValidationError(_("A category needs a name."))
        return name


class SubscriptionForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=1000, required=False)
    # Optional: a form posted without it (an older page) keeps the address.
    url = forms.CharField(label=gettext_lazy("Feed address"), max_length=2048, required=False)
    category = forms.TypedChoiceField(
        label=gettext_lazy("Category"), coerce=int, empty_value=None, required=False
    )
    refresh_floor_minutes = forms.IntegerField(
        label=gettext_lazy("Fetch at most every (minutes, 0 = automatic)"),
        min_value=0,
        max_value=7 * 24 * 60,
    )
    visibility = forms.ChoiceField(label=gettext_lazy("Show"), choices=VISIBILITY_CHOICES)

    def __init__(self, user: User, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["category"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", _("No category"))] + [
            (c.pk, c.name) for c in queries.categories(user)
        ]


class OpmlForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("OPML file"))


def _list_context(user: User, **extra: object) -> dict[str, object]:
    subs = queries.subscriptions(user)
    groups: dict[int | None, list[Subscription]] = {}
    for sub in subs:
        groups.setdefault(sub.category_id, []).append(sub)
    cats = queries.categories(user)
    return {
        "categories": [(c, groups.get(c.pk, [])) for c in cats],
        "uncategorised": groups.get(None, []),
        "subscription_count": len(subs),
        "add_form": AddForm(),
        "category_form": CategoryForm(),
        "opml_form": OpmlForm(),
        **extra,
    }


@personal
@require_GET
def index(request: HttpRequest, user: User) -> HttpResponse:
    return render(request, "ui/manage/subscriptions.html", _list_context(user))


class _Choose(Exception):
    """Raised from `subscribe_url`'s chooser: the page offers several feeds, the person picks."""

    def __init__(self, options: Sequence[tuple[str, str]]) -> None:
        super().__init__("several feeds")
        self.options = list(options)


def _ask(options: Sequence[tuple[str, str]]) -> str:
    raise _Choose(options)


@personal
@require_POST
def add(request: HttpRequest, user: User) -> HttpResponse:
    form = AddForm(request.POST)
    if not form.is_valid():
        context = _list_context(user, add_form=form, error=form_errors(form))
        return render(request, "ui/manage/subscriptions.html", context, status=400)
    url = form.cleaned_data["url"].strip()
    category = form.cleaned_data["category"].strip() or None
    try:
        sub = subscribe_url(user, url, category=category, choose=_ask)
    except _Choose as choice:
        return render(
            request,
            "ui/manage/choose_feed.html",
            {"url": url, "category": category or "", "options": choice.options},
        )
    except SubscribeError as exc:
        context = _list_context(user, add_form=form, error=str(exc))
        return render(request, "ui/manage/subscriptions.html", context, status=400)
    messages.success(request, _("You now follow %(title)s.") % {"title": sub.display_title})
    return see_other("ui:subscription", sub.pk)


@personal
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, user: User, sub_id: int) -> HttpResponse:
    sub = queries.subscription(user, subscription_id=sub_id)
    if sub is None:
        raise Http404(_("You do not follow this feed."))
    if request.method == "POST":
        form = SubscriptionForm(user, request.POST)
        moved = merged = False
        if form.is_valid() and form.cleaned_data["url"].strip():
            try:
                was_of = sub.feed_id
                moved = change_url(sub, form.cleaned_data["url"].strip())
                merged = sub.feed_id != was_of  # a feed had that address (feeds.merge)
            except SubscribeError as exc:
                form.add_error("url", str(exc))
        if form.is_valid():
            data = form.cleaned_data
            category_id = data["category"]
            # The choices come from the person's own categories: another's id is refused above.
            sub.category = queries.category(user, category_id=category_id) if category_id else None
            sub.title = data["title"].strip()
            sub.refresh_floor_minutes = data["refresh_floor_minutes"]
            sub.visibility = data["visibility"]
            sub.save(update_fields=["category", "title", "refresh_floor_minutes", "visibility"])
            if merged:
                messages.success(
                    request,
                    _("Saved; it is now the feed others follow at that address, your stars kept."),
                )
            elif moved:
                messages.success(
                    request, _("Saved; the feed will be fetched from its new address in a moment.")
                )
            else:
                messages.success(request, _("Saved."))
            return see_other("ui:subscription", sub.pk)
        status = 400
    else:
        form = SubscriptionForm(
            user,
            initial={
                "title": sub.title,
                "url": sub.feed.url,
                "category": sub.category_id or "",
                "refresh_floor_minutes": sub.refresh_floor_minutes,
                "visibility": sub.visibility,
            },
        )
        status = 200
    return render(request, "ui/manage/subscription.html", {"sub": sub, "form": form}, status=status)


@personal
@require_POST
def delete(request: HttpRequest, user: User, sub_id: int) -> HttpResponse:
    sub = queries.subscription(user, subscription_id=sub_id)
    if sub is None:
        raise Http404(_("You do not follow this feed."))
    title = sub.display_title
    unfollow(sub)
    messages.success(request, _("You no longer follow %(title)s.") % {"title": title})
    return see_other("ui:subscriptions")


@personal
@require_POST
def refresh(request: HttpRequest, user: User, sub_id: int) -> HttpResponse:
    sub = queries.subscription(user, subscription_id=sub_id)
    if sub is None:
        raise Http404(_("You do not follow this feed."))
    try:
        report = refresh_feed_now(user, sub.feed_id)
    except RefreshRefused as exc:
        messages.error(request, _("Not refreshed: %(reason)s.") % {"reason": exc})
    else:
        if report.error:
            messages.error(request, _("The fetch failed: %(error)s") % {"error": report.error})
        else:
            messages.success(
                request,
                ngettext(
                    "Refreshed: %(count)d new entry.",
                    "Refreshed: %(count)d new entries.",
                    report.new_entries,
                )
                % {"count": report.new_entries},
            )
    if queries.subscription(user, subscription_id=sub.pk) is None:
        # The feed moved for good to a feed they follow too, and became one with it.
        return see_other("ui:subscriptions")
    return see_other("ui:subscription", sub.pk)


@personal
@require_GET
def health(request: HttpRequest, user: User) -> HttpResponse:
    subs = queries.subscriptions(user)
    # Failing feeds first: the page is where one looks for what is wrong.
    subs.sort(key=lambda s: (-s.feed.error_count, s.display_title.lower()))
    return render(request, "ui/manage/health.html", {"subs": subs, "now": timezone.now()})


# --- categories ---------------------------------------------------------------------------------


@personal
@require_POST
def category_add(request: HttpRequest, user: User) -> HttpResponse:
    form = CategoryForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            with transaction.atomic():
                queries.check_category_name(user, form.cleaned_data["name"])
                Category.objects.create(user=user, name=form.cleaned_data["name"])
        except IntegrityError:
            error = _("You already have a category of that name.")
        except queries.NameTaken as exc:
            error = str(exc)
    else:
        error = form_errors(form)
    if error:
        context = _list_context(user, category_form=form, error=error)
        return render(request, "ui/manage/subscriptions.html", context, status=400)
    messages.success(request, _("Category created."))
    return see_other("ui:subscriptions")


@personal
@require_http_methods(["GET", "POST"])
def category_edit(request: HttpRequest, user: User, category_id: int) -> HttpResponse:
    category = queries.category(user, category_id=category_id)
    if category is None:
        raise Http404(_("No such category."))
    status = 200
    error = ""
    if request.method == "POST":
        form = CategoryForm(request.POST)
        if form.is_valid():
            name = form.cleaned_data["name"]
            try:
                if name != category.name:
                    queries.check_category_name(user, name)
                with transaction.atomic():
                    Category.objects.filter(pk=category.pk).update(name=name)
            except IntegrityError:
                error = _("You already have a category of that name.")
            except queries.NameTaken as exc:
                error = str(exc)
            else:
                messages.success(request, _("Category renamed."))
                return see_other("ui:subscriptions")
        else:
            error = form_errors(form)
        status = 400
    else:
        form = CategoryForm(initial={"name": category.name})
    return render(
        request,
        "ui/manage/category.html",
        {"category": category, "form": form, "error": error},
        status=status,
    )


@personal
@require_POST
def category_delete(request: HttpRequest, user: User, category_id: int) -> HttpResponse:
    category = queries.category(user, category_id=category_id)
    if category is None:
        raise Http404(_("No such category."))
    # Its feeds stay followed, under no category (the foreign key is SET_NULL).
    category.delete()
    messages.success(request, _("Category deleted; its feeds are now under no category."))
    return see_other("ui:subscriptions")


# --- OPML ---------------------------------------------------------------------------------------


@personal
@require_POST
def opml_import(request: HttpRequest, user: User) -> HttpResponse:
    form = OpmlForm(request.POST, request.FILES)
    error = ""
    if form.is_valid():
        upload = form.cleaned_data["file"]
        # One byte over the cap is enough for parse_opml to refuse with its message.
        data = upload.read(opml.MAX_OPML_BYTES + 1)
        try:
            report = opml.import_opml(user, data)
        except opml.OpmlError as exc:
            error = str(exc)
        else:
            # Each count in its own words: "1 feed added", "2 feeds added" (and French's
            # plurals, which differ from English's for 0 and 1).
            added = ngettext("%(count)d feed added", "%(count)d feeds added", report.added) % {
                "count": report.added
            }
            skipped = ngettext(
                "%(count)d already followed", "%(count)d already followed", report.skipped
            ) % {"count": report.skipped}
            created = ngettext(
                "%(count)d category created",
                "%(count)d categories created",
                report.categories_created,
            ) % {"count": report.categories_created}
            messages.success(
                request,
                _("Imported: %(added)s, %(skipped)s, %(created)s.")
                % {"added": added, "skipped": skipped, "created": created},
            )
            return see_other("ui:subscriptions")
    else:
        error = form_errors(form)
    context = _list_context(user, opml_form=form, error=error)
    return render(request, "ui/manage/subscriptions.html", context, status=400)


@personal
@require_GET
def opml_export(request: HttpRequest, user: User) -> HttpResponse:
    response = HttpResponse(opml.export_opml(user), content_type="text/x-opml; charset=utf-8")
    stamp = timezone.now().strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="liseuse-{user.username}-{stamp}.opml"'
    return response
