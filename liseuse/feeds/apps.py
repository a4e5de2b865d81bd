from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "liseuse.feeds"
    label = "feeds"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from liseuse.feeds import checks  # noqa: F401  (registers the system checks)
        from liseuse.feeds import fulltext

        # Before any connection opens: the index's triggers call it (liseuse/feeds/fulltext.py).
        connection_created.connect(fulltext.register, dispatch_uid="liseuse_indexed_text")
