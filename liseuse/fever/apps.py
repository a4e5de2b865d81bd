from django.apps import AppConfig


class FeverConfig(AppConfig):
    name = "liseuse.fever"
    label = "fever"
