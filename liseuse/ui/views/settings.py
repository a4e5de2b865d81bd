"""A person's settings: reading preferences, the API password apps use, the login password."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django import forms
from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.http import HttpResponse
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


@cache
def _time_zones() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class PreferencesForm(forms.ModelForm[User]):
    language = forms.ChoiceField(
        label=gettext_lazy("Language"),
        required=False,
        choices=[
            ("", gettext_lazy("The browser's")),
            ("fr", "Français"),
            ("en", "English"),
        ],
    )
    timezone = forms.ChoiceField(label=gettext_lazy("Time zone"), choices=_time_zones)
    theme = forms.ChoiceField(
        label=gettext_lazy("Theme"),
        choices=[
            (User.Theme.AUTO.value, gettext_lazy("Automatic (the system's)")),
            (User.Theme.LIGHT.value, gettext_lazy("Light")),
            (User.Theme.DARK.value, gettext_lazy("Dark")),
        ],
    )
    page_size = forms.IntegerField(
        label=gettext_lazy("Entries per page"), min_value=5, max_value=500
    )
    default_view = forms.ChoiceField(
        label=gettext_lazy("Default view"),
        choices=[
            (User.View.NORMAL.value, gettext_lazy("Normal")),
            (User.View.READER.value, gettext_lazy("Reader")),
            (User.View.GLOBAL.value, gettext_lazy("Global")),
        ],
    )
    default_state = forms.ChoiceField(
        label=gettext_lazy("Show by default"),
        choices=[
            (User.State.UNREAD.value, gettext_lazy("Unread entries")),
            (User.State.ALL.value, gettext_lazy("All entries")),
            (User.State.STARRED.value, gettext_lazy("Favourites")),
        ],
    )
    oldest_first = forms.TypedChoiceField(
        label=gettext_lazy("Order"),
        coerce=lambda value: value == "1",
        choices=[("0", gettext_lazy("Newest first")), ("1", gettext_lazy("Oldest first"))],
    )
    mark_read_on_open = forms.BooleanField(
        label=gettext_lazy("Mark an entry read when it is opened"), required=False
    )
    mark_read_on_scroll = forms.BooleanField(
        label=gettext_lazy("Mark entries read when scrolled past"), required=False
    )
    mark_updated_unread = forms.BooleanField(
        label=gettext_lazy("Mark an entry unread again when its content changes"), required=False
    )
    keyboard_shortcuts = forms.BooleanField(
        label=gettext_lazy("One-key keyboard shortcuts on the reading pages"), required=False
    )

    class Meta:
        model = User
        fields = User.SETTINGS


class ApiPasswordForm(forms.Form):
    # "new-password": no password manager fills in the login password here.
    api_password = forms.CharField(
        label=gettext_lazy("API password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        max_length=256,
    )
    api_password_again = forms.CharField(
        label=gettext_lazy("API password (again)"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        max_length=256,
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("api_password") != data.get("api_password_again"):
            raise forms.ValidationError(_("The two passwords differ."))
        return data


class LoginPasswordForm(forms.Form):
    current = forms.CharField(
        label=gettext_lazy("Current password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new = forms.CharField(
        label=gettext_lazy("New password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_again = forms.CharField(
        label=gettext_lazy("New password (again)"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, user: User, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.user = user

    def clean_current(self) -> str:
        current = str(self.cleaned_data["current"])
        if not self.user.check_password(current):
            raise forms.ValidationError(_("The current password is wrong."))
        return current

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("new") != data.get("new_again"):
            raise forms.ValidationError(_("The two passwords differ."))
        return data


def _render(
    request: HttpRequest,
    user: User,
    *,
    preferences: PreferencesForm | None = None,
    api: ApiPasswordForm | None = None,
    login_password: LoginPasswordForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "preferences": preferences or PreferencesForm(instance=user),
        "api_form": api or ApiPasswordForm(),
        "password_form": login_password or LoginPasswordForm(user),
        "has_api_password": bool(user.api_password),
        # What apps are given: FreshRSS's addresses, which liseuse answers at the same paths.
        "greader_url": request.build_absolute_uri("/api/greader.php"),
        "fever_url": request.build_absolute_uri("/api/fever.php"),
        "error": error,
    }
    return render(request, "ui/manage/settings.html", context, status=status)


def _language_cookie(response: HttpResponse, language: str) -> None:
    # LocaleMiddleware reads this cookie: the chosen language applies from the next page on;
    # none chosen, the browser's Accept-Language decides again.
    name = django_settings.LANGUAGE_COOKIE_NAME
    if language:
        response.set_cookie(name, language, max_age=365 * 24 * 3600, samesite="Lax")
    else:
        response.delete_cookie(name)


@personal
@require_GET
def index(request: HttpRequest, user: User) -> HttpResponse:
    return _render(request, user)


@personal
@require_POST
def preferences(request: HttpRequest, user: User) -> HttpResponse:
    form = PreferencesForm(request.POST, instance=user)
    if not form.is_valid():
        return _render(request, user, preferences=form, error=form_errors(form), status=400)
    form.save()
    messages.success(request, _("Settings saved."))
    response = see_other("ui:settings")
    _language_cookie(response, user.language)
    return response


@personal
@require_POST
def api_password(request: HttpRequest, user: User) -> HttpResponse:
    form = ApiPasswordForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            services.set_api_password(user, form.cleaned_data["api_password"])
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, _("API password saved: apps can now log in with it."))
            return see_other("ui:settings")
    else:
        error = form_errors(form)
    return _render(request, user, api=form, error=error, status=400)


@personal
@require_POST
def login_password(request: HttpRequest, user: User) -> HttpResponse:
    form = LoginPasswordForm(user, request.POST)
    error = ""
    if form.is_valid():
        try:
            services.change_password(user, form.cleaned_data["new"])
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            # Stay logged in here; other sessions of the person end with the old password.
            update_session_auth_hash(request, user)
            messages.success(request, _("Password changed."))
            return see_other("ui:settings")
    else:
        error = form_errors(form)
    return _render(request, user, login_password=form, error=error, status=400)
