"""First run, log in, log out.

The first visit to a fresh instance creates the first account, which becomes the admin; from
then on `setup` is gone for good (404) and the login page stands in its place.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth import login
from django.contrib.auth import logout
from django.contrib.auth import password_validation
from django.db import transaction
from django.http import Http404
from django.http import HttpRequest
from django.http import HttpResponse
from django.shortcuts import redirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods
from django.views.decorators.http import require_POST

from liseuse.accounts import services
from liseuse.accounts import throttle
from liseuse.accounts.models import User
from liseuse.ui.views.common import back_to


class SetupForm(forms.Form):
    # `autocomplete` tells password managers which field is which (WCAG 1.3.5).
    username = forms.CharField(
        label=_("Username"), max_length=150, widget=forms.TextInput({"autocomplete": "username"})
    )
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password_again = forms.CharField(
        label=_("Password (again)"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_username(self) -> str:
        name: str = self.cleaned_data["username"]
        services.validate_username(name)
        return name

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("password") != data.get("password_again"):
            raise forms.ValidationError(_("The two passwords differ."))
        password = data.get("password")
        if isinstance(password, str):
            password_validation.validate_password(password)
        return data


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("Username"), max_length=150, widget=forms.TextInput({"autocomplete": "username"})
    )
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    if User.objects.exists():
        raise Http404("already set up")
    form = SetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            # Re-checked inside the transaction: two first visitors racing get one admin.
            if User.objects.select_for_update().exists():
                raise Http404("already set up")
            user = services.create_user(
                form.cleaned_data["username"], form.cleaned_data["password"], admin=True
            )
        login(request, user)
        return redirect("ui:home")
    return render(request, "ui/setup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if not User.objects.exists():
        return redirect("ui:setup")
    form = LoginForm(request.POST or None)
    error: str = ""
    status = 200
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["username"]
        address = throttle.client_address(request)
        if throttle.is_blocked(name, address):
            # Checked before the password, and counted for unknown names as for known ones:
            # the answer is the same whether the account exists or not.
            minutes = max(1, int(throttle.window().total_seconds() // 60))
            error = str(
                _("Too many failed logins: try again in %(minutes)d minutes.")
                % {"minutes": minutes}
            )
            status = 429
        else:
            # Django's backend hashes the password once even for an unknown name, so that
            # both answers take the time of one Argon2 hash.
            user = authenticate(request, username=name, password=form.cleaned_data["password"])
            if user is not None:
                throttle.record_success(name)
                login(request, user)
                # Back to the page that asked for the login (only one of this site's).
                return redirect(back_to(request, reverse("ui:home")))
            throttle.record_failure(name, address)
            error = str(_("Wrong username or password."))
            status = 400
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "ui/login.html",
        {
            "form": form,
            "error": error,
            "open_registration": settings.LISEUSE_OPEN_REGISTRATION,
            # Carried through the form: checked again (this site's pages only) when used.
            "next": request.POST.get("next") or request.GET.get("next") or "",
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """Open registration (`LISEUSE_OPEN_REGISTRATION`): anyone may create a plain account."""
    if not settings.LISEUSE_OPEN_REGISTRATION or not User.objects.exists():
        raise Http404("registration is closed")
    form = SetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = services.create_user(form.cleaned_data["username"], form.cleaned_data["password"])
        login(request, user)
        return redirect("ui:home")
    status = 400 if request.method == "POST" else 200
    return render(request, "ui/account/register.html", {"form": form}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("ui:login")
