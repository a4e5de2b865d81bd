"""Managing labels and saved searches (create, rename, delete).

A saved search is created from the search page's current query; the sidebar lists them through
`queries.saved_queries` (and the `ui/_saved_queries.html` include).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import IntegrityError
from django.db import transaction
from django.http import Http404
from django.http import HttpRequest
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET
from django.views.decorators.http import require_http_methods
from django.views.decorators.http import require_POST

from liseuse.accounts.models import User
from liseuse.feeds import queries
from liseuse.feeds.models import Label
from liseuse.feeds.models import SavedQuery
from liseuse.ui.views.common import personal
from liseuse.ui.views.subscriptions import form_errors
from liseuse.ui.views.subscriptions import see_other


class LabelForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=255)

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if not name:
            raise forms.ValidationError(_("A label needs a name."))
        return name


class SavedQueryForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=255)
    query = forms.CharField(label=gettext_lazy("Search"), max_length=1000)

    def __init__(self, user: User, *args: object, **kwargs: object) -> None:
        # Its own ids: the labels page shows it under the label form, whose field is "name" too.
        kwargs.setdefault("auto_id", "id_saved_%s")
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.user = user

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if not name:
            raise forms.ValidationError(_("A saved search needs a name."))
        return name

    def clean_query(self) -> str:
        query = str(self.cleaned_data["query"]).strip()
        try:
            queries.search_q(self.user, query)
        except queries.SearchError as exc:
            raise forms.ValidationError(str(exc)) from None
        return query


def _render(
    request: HttpRequest,
    user: User,
    *,
    label_form: LabelForm | None = None,
    saved_form: SavedQueryForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "labels": queries.labels(user),
        "saved": queries.saved_queries(user),
        "label_form": label_form or LabelForm(),
        "saved_form": saved_form or SavedQueryForm(user),
        "error": error,
    }
    return render(request, "ui/manage/labels.html", context, status=status)


@personal
@require_GET
def index(request: HttpRequest, user: User) -> HttpResponse:
    return _render(request, user)


def _save_label(label: Label, name: str) -> str:
    try:
        with transaction.atomic():
            if name != label.name:
                queries.check_label_name(label.user, name)
            label.name = name
            label.save()
    except IntegrityError:
        return _("You already have a label of that name.")
    except queries.NameTaken as exc:
        return str(exc)
    return ""


@personal
@require_POST
def label_add(request: HttpRequest, user: User) -> HttpResponse:
    form = LabelForm(request.POST)
    if not form.is_valid():
        return _render(request, user, label_form=form, error=form_errors(form), status=400)
    error = _save_label(Label(user=user), form.cleaned_data["name"])
    if error:
        return _render(request, user, label_form=form, error=error, status=400)
    messages.success(request, _("Label created."))
    return see_other("ui:labels")


@personal
@require_http_methods(["GET", "POST"])
def label_edit(request: HttpRequest, user: User, label_id: int) -> HttpResponse:
    label = queries.label(user, label_id)
    if label is None:
        raise Http404(_("No such label."))
    error = ""
    status = 200
    if request.method == "POST":
        form = LabelForm(request.POST)
        if form.is_valid():
            error = _save_label(label, form.cleaned_data["name"])
            if not error:
                messages.success(request, _("Label renamed."))
                return see_other("ui:labels")
        else:
            error = form_errors(form)
        status = 400
        label.refresh_from_db()
    else:
        form = LabelForm(initial={"name": label.name})
    return render(
        request,
        "ui/manage/label.html",
        {"label": label, "form": form, "error": error},
        status=status,
    )


@personal
@require_POST
def label_delete(request: HttpRequest, user: User, label_id: int) -> HttpResponse:
    label = queries.label(user, label_id)
    if label is None:
        raise Http404(_("No such label."))
    # Entries keep their read and starred states; only the label goes.
    label.delete()
    messages.success(request, _("Label deleted."))
    return see_other("ui:labels")


@personal
@require_POST
def saved_add(request: HttpRequest, user: User) -> HttpResponse:
    form = SavedQueryForm(user, request.POST)
    if not form.is_valid():
        return _render(request, user, saved_form=form, error=form_errors(form), status=400)
    last = SavedQuery.objects.filter(user=user).order_by("-position").first()
    SavedQuery.objects.create(
        user=user,
        name=form.cleaned_data["name"],
        query=form.cleaned_data["query"],
        position=(last.position + 1) if last else 0,
    )
    messages.success(request, _("Search saved."))
    return see_other("ui:labels")


@personal
@require_POST
def saved_delete(request: HttpRequest, user: User, saved_id: int) -> HttpResponse:
    saved = get_object_or_404(SavedQuery, pk=saved_id, user=user)
    saved.delete()
    messages.success(request, _("Saved search deleted."))
    return see_other("ui:labels")
