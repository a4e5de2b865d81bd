"""The admin's accounts page: create, disable, enable and delete accounts.

Anyone else gets a 404, as for a page that does not exist. The admin cannot disable or delete
their own account here (the instance would be left without one who can manage it).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.http import Http404
from django.http import HttpRequest
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET
from django.views.decorators.http import require_POST

from liseuse.accounts import services
from liseuse.accounts.models import User
from liseuse.ui.views.common import personal
from liseuse.ui.views.subscriptions import form_errors
from liseuse.ui.views.subscriptions import see_other


class AccountForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Username"), max_length=150)
    password = forms.CharField(
        label=gettext_lazy("Password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    admin = forms.BooleanField(label=gettext_lazy("Administrator"), required=False)

    def clean_username(self) -> str:
        name: str = self.cleaned_data["username"]
        services.validate_username(name)
        return name

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        password_validation.validate_password(password)
        return password


def _admin_only(user: User) -> None:
    if not user.is_superuser:
        raise Http404("no such page")


def _render(
    request: HttpRequest, form: AccountForm | None = None, error: str = "", status: int = 200
) -> HttpResponse:
    context = {
        "accounts": User.objects.order_by("username"),
        "form": form or AccountForm(),
        "error": error,
    }
    return render(request, "ui/account/accounts.html", context, status=status)


@personal
@require_GET
def index(request: HttpRequest, user: User) -> HttpResponse:
    _admin_only(user)
    return _render(request)


@personal
@require_POST
def add(request: HttpRequest, user: User) -> HttpResponse:
    _admin_only(user)
    form = AccountForm(request.POST)
    if not form.is_valid():
        return _render(request, form, form_errors(form), status=400)
    try:
        services.create_user(
            form.cleaned_data["username"],
            form.cleaned_data["password"],
            admin=form.cleaned_data["admin"],
        )
    except ValidationError as exc:
        return _render(request, form, " ".join(exc.messages), status=400)
    messages.success(
        request, _("Account %(name)s created.") % {"name": form.cleaned_data["username"]}
    )
    return see_other("ui:accounts")


def _other_account(admin: User, user_id: int) -> User | HttpResponse:
    account = get_object_or_404(User, pk=user_id)
    if account.pk == admin.pk:
        return HttpResponse(_("You cannot disable or delete your own account."), status=400)
    return account


@personal
@require_POST
def set_active(request: HttpRequest, user: User, user_id: int) -> HttpResponse:
    _admin_only(user)
    account = _other_account(user, user_id)
    if isinstance(account, HttpResponse):
        return account
    active = request.POST.get("active")
    if active not in ("0", "1"):
        return HttpResponse(_("The field 'active' must be 0 or 1."), status=400)
    services.set_active(account, active == "1")
    if active == "1":
        messages.success(request, _("Account %(name)s enabled.") % {"name": account.username})
    else:
        messages.success(request, _("Account %(name)s disabled.") % {"name": account.username})
    return see_other("ui:accounts")


@personal
@require_POST
def delete(request: HttpRequest, user: User, user_id: int) -> HttpResponse:
    _admin_only(user)
    account = _other_account(user, user_id)
    if isinstance(account, HttpResponse):
        return account
    # Typing the name guards against a slip of the mouse: nothing of the account survives.
    if request.POST.get("confirm", "") != account.username:
        return HttpResponse(_("Type the account's name to confirm its deletion."), status=400)
    services.delete_user(account)
    messages.success(request, _("Account %(name)s deleted.") % {"name": account.username})
    return see_other("ui:accounts")
