from django.urls import path
from django.urls import register_converter

from liseuse.lib import ids
from liseuse.ui.views import auth
from liseuse.ui.views import favicon
from liseuse.ui.views import media
from liseuse.ui.views import stream

app_name = "ui"


class IdConverter:
    """A row id (`liseuse.lib.ids`). Django's `int` takes any number of digits, and one past
    what the database holds made every such URL a 500 instead of a 404."""

    regex = ids.PATTERN

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

urlpatterns = [
    path("", stream.home, name="home"),
    path("setup/", auth.setup, name="setup"),
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("favicons/<id:feed_id>", favicon.favicon, name="favicon"),
    path("media/<str:token>", media.media_proxy, name="media"),
]

# The reading pages and their actions (views/stream.py, views/actions.py).
from liseuse.ui.views import actions  # noqa: E402

urlpatterns += [
    path("starred/", stream.starred, name="starred"),
    path("c/<id:category_id>/", stream.category, name="category"),
    path("f/<id:feed_id>/", stream.feed, name="feed"),
    path("l/<id:label_id>/", stream.label, name="label"),
    path("entries/<id:entry_id>/read", actions.set_read, name="set_read"),
    path("entries/<id:entry_id>/star", actions.set_starred, name="set_starred"),
    path("entries/<id:entry_id>/labels", actions.set_labels, name="set_labels"),
    path("mark-all-read", actions.mark_all_read, name="mark_all_read"),
    path("f/<id:feed_id>/refresh", actions.refresh_feed, name="refresh_feed"),
    path("refresh", actions.refresh_feeds_soon, name="refresh_soon"),
    path("unread.json", actions.unread_json, name="unread_json"),
]

# Managing: subscriptions, categories, OPML, settings, labels, saved searches, search
# (views/subscriptions.py, views/settings.py, views/labels.py, views/search.py).
from liseuse.ui.views import labels as manage_labels  # noqa: E402
from liseuse.ui.views import search as manage_search  # noqa: E402
from liseuse.ui.views import settings as manage_settings  # noqa: E402
from liseuse.ui.views import subscriptions as manage_subs  # noqa: E402

urlpatterns += [
    path("manage/subscriptions/", manage_subs.index, name="subscriptions"),
    path("manage/subscriptions/add", manage_subs.add, name="subscription_add"),
    path("manage/subscriptions/<id:sub_id>/", manage_subs.edit, name="subscription"),
    path("manage/subscriptions/<id:sub_id>/delete", manage_subs.delete, name="subscription_delete"),
    path(
        "manage/subscriptions/<id:sub_id>/refresh",
        manage_subs.refresh,
        name="subscription_refresh",
    ),
    path("manage/health/", manage_subs.health, name="feed_health"),
    path("manage/categories/add", manage_subs.category_add, name="category_add"),
    path("manage/categories/<id:category_id>/", manage_subs.category_edit, name="category_edit"),
    path(
        "manage/categories/<id:category_id>/delete",
        manage_subs.category_delete,
        name="category_delete",
    ),
    path("manage/opml/import", manage_subs.opml_import, name="opml_import"),
    path("manage/opml/export", manage_subs.opml_export, name="opml_export"),
    path("manage/settings/", manage_settings.index, name="settings"),
    path("manage/settings/preferences", manage_settings.preferences, name="settings_preferences"),
    path("manage/settings/api-password", manage_settings.api_password, name="api_password"),
    path("manage/settings/password", manage_settings.login_password, name="login_password"),
    path("manage/labels/", manage_labels.index, name="labels"),
    path("manage/labels/add", manage_labels.label_add, name="label_add"),
    path("manage/labels/<id:label_id>/", manage_labels.label_edit, name="label_edit"),
    path("manage/labels/<id:label_id>/delete", manage_labels.label_delete, name="label_delete"),
    path("manage/searches/add", manage_labels.saved_add, name="saved_add"),
    path("manage/searches/<id:saved_id>/delete", manage_labels.saved_delete, name="saved_delete"),
    path("search/", manage_search.search, name="search"),
]

# People and trust: registration, sessions, the admin's accounts page
# (views/auth.py, views/sessions.py, views/admin.py).
from liseuse.ui.views import admin as manage_admin  # noqa: E402
from liseuse.ui.views import public  # noqa: E402
from liseuse.ui.views import sessions as manage_sessions  # noqa: E402

urlpatterns += [
    path("register/", auth.register, name="register"),
    path("manage/sessions/", manage_sessions.index, name="sessions"),
    path("manage/sessions/<str:ref>/end", manage_sessions.end, name="session_end"),
    path("manage/sessions/end-others", manage_sessions.end_others, name="sessions_end_others"),
    path("manage/accounts/", manage_admin.index, name="accounts"),
    path("manage/accounts/add", manage_admin.add, name="account_add"),
    path("manage/accounts/<id:user_id>/active", manage_admin.set_active, name="account_active"),
    path("manage/accounts/<id:user_id>/delete", manage_admin.delete, name="account_delete"),
    path("public/", public.main, name="public"),
    path("public/f/<id:feed_id>/", public.feed, name="public_feed"),
]
