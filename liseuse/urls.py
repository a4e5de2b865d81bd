"""The URL table: mounts each app's routes and nothing else."""

from django.urls import include
from django.urls import path

from liseuse.feeds import websub

urlpatterns = [
    # Fever and Google Reader first: their paths are what apps set up for FreshRSS expect.
    path("api/", include("liseuse.fever.urls")),
    path("", include("liseuse.ops.urls")),  # /healthz, /metrics
    path("websub/<str:token>", websub.callback, name="websub"),  # hubs call back here
    path("", include("liseuse.greader.urls")),
    path("", include("liseuse.ui.urls")),
]
