"""The whole Google Reader route table (mounted at the root by `liseuse.urls`).

FreshRSS's paths (`api/greader.php/…`) and the bare ones (`accounts/ClientLogin`,
`reader/api/0/…`, `reader/atom/…`) lead to one dispatcher, which accepts a trailing slash or
none: Django's slash-appending redirect would turn a client's POST into a failure.
"""

from django.urls import URLPattern
from django.urls import re_path

from liseuse.greader import views

app_name = "greader"

urlpatterns: list[URLPattern] = [
    re_path(r"^api/greader\.php/?$", views.dispatch, name="root"),
    re_path(r"^api/greader\.php/(?P<path>.*)$", views.dispatch, name="api"),
    re_path(
        r"^(?P<path>(?:accounts/ClientLogin|check/compatibility)/?|reader/(?:api/0|atom)/.*)$",
        views.dispatch,
        name="bare",
    ),
]
