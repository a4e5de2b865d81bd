"""The whole Google Reader route table (mounted at /api/greader.php/ and at the bare paths)."""

from django.urls import URLPattern

app_name = "greader"

urlpatterns: list[URLPattern] = []
