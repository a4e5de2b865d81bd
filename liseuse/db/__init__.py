"""liseuse's own database backends (Django loads them by the `ENGINE` setting)."""
