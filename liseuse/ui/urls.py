from django.urls import path

from liseuse.ui.views import auth
from liseuse.ui.views import favicon
from liseuse.ui.views import stream

app_name = "ui"

urlpatterns = [
    path("", stream.home, name="home"),
    path("setup/", auth.setup, name="setup"),
    path("login/", auth.login_view, name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("favicons/<int:feed_id>", favicon.favicon, name="favicon"),
]
