"""The Fever route (one endpoint that dispatches on its parameters).

Mounted under `api/` by `liseuse/urls.py`. Clients are set up with a base URL and append
`/api/fever.php?api`; some keep a trailing slash, which is served the same rather than
redirected (a redirect would turn their POST into a GET and lose the api_key).
"""

from django.urls import URLPattern
from django.urls import path

from liseuse.fever import views

app_name = "fever"

urlpatterns: list[URLPattern] = [
    path("fever.php", views.fever, name="api"),
    # Written in full rather than as "/" under "fever.php": Django warns of a route that
    # begins with a slash (urls.W002), and `liseuse check` must be able to come out clean.
    path("fever.php/", views.fever, name="api-slash"),
]
