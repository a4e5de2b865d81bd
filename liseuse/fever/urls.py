"""The Fever route (one endpoint that dispatches on its parameters)."""

from django.urls import URLPattern

app_name = "fever"

urlpatterns: list[URLPattern] = []
