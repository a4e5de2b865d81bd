from django.apps import AppConfig


class GreaderConfig(AppConfig):
    name = "liseuse.greader"
    label = "greader"
