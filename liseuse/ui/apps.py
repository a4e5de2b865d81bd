from django.apps import AppConfig


class UiConfig(AppConfig):
    name = "liseuse.ui"
    label = "ui"
