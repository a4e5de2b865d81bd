from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "liseuse.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from liseuse.accounts import checks  # noqa: F401  (registers the system checks)
        from liseuse.accounts.signals import remember_where

        user_logged_in.connect(remember_where, dispatch_uid="liseuse-session-where")
