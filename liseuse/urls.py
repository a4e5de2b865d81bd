"""The URL table: mounts each app's routes and nothing else."""

from django.urls import include
from django.urls import path

urlpatterns = [
    path("", include("liseuse.ui.urls")),
]
