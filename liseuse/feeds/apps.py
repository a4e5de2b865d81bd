from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "liseuse.feeds"
    label = "feeds"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from liseuse.feeds import checks  # noqa: F401  (registers the system checks)
