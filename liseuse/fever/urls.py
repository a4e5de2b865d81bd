"""The Fever route (one endpoint that dispatches on its parameters).

Mounted at `api/fever.php` by `liseuse/urls.py`. Clients are set up with a base URL and append
`/api/fever.php?api`; some keep a trailing slash, which is served the same rather than
redirected (a redirect would turn their POST into a GET and lose the api_key).
"""

from django.urls import URLPattern
from django.urls import path

from liseuse.fever import views

app_name = "fever"

urlpatterns: list[URLPattern] = [
    path("", views.fever, name="api"),
    path("/", views.fever, name="api-slash"),
]
