"""ClientLogin tokens and the edit token `T`.

The login token is `<username>/<mac>`, where the MAC (keyed by the server's secret) covers the
person's id and their stored API-password hash: it needs no table, never expires by itself, and
stops working the moment the API password changes or is removed. The edit token is another MAC
of the same, 57 characters long as clients expect.
"""

from __future__ import annotations

import hmac

from django.http import HttpRequest
from django.utils.crypto import salted_hmac

from liseuse.accounts.models import User
from liseuse.greader.errors import ApiError

_AUTH_SALT = "liseuse.greader.auth"
_EDIT_SALT = "liseuse.greader.edit"
EDIT_TOKEN_LENGTH = 57


def _mac(salt: str, user: User) -> str:
    return salted_hmac(salt, f"{user.pk}:{user.api_password}", algorithm="sha256").hexdigest()


def auth_token(user: User) -> str:
    return f"{user.username}/{_mac(_AUTH_SALT, user)}"


def edit_token(user: User) -> str:
    return _mac(_EDIT_SALT, user)[:EDIT_TOKEN_LENGTH]


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message)


def login(username: str, password: str) -> User:
    """The person these credentials name, checked against the API password (never the login one)."""
    user = User.objects.filter(username=username.strip(), is_active=True).first()
    if user is None or not password:
        raise unauthorized("Wrong user name or API password")
    if not user.api_password:
        raise unauthorized("This account has no API password: set one in liseuse first")
    if not user.check_api_password(password):
        raise unauthorized("Wrong user name or API password")
    return user


def _header_token(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    # `GoogleLogin auth=TOKEN`; some clients vary the case or the spacing.
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "googlelogin":
        return None
    for part in rest.replace(",", " ").split():
        key, _, value = part.partition("=")
        if key.lower() == "auth" and value:
            return value.strip('"')
    return None


def authenticate(request: HttpRequest) -> User:
    """The person whose `Authorization: GoogleLogin auth=…` token this is, else 401."""
    token = _header_token(request)
    if token is None:
        raise unauthorized("Missing the Authorization: GoogleLogin auth=… header")
    username, _, mac = token.rpartition("/")
    user = User.objects.filter(username=username, is_active=True).first() if username else None
    if user is None or not user.api_password:
        raise unauthorized("Bad or expired token: log in again")
    if not hmac.compare_digest(mac.encode(), _mac(_AUTH_SALT, user).encode()):
        raise unauthorized("Bad or expired token: log in again")
    return user


def check_edit_token(user: User, given: str | None) -> None:
    """Refuse a wrong `T`. Missing, empty and `x` pass, as in FreshRSS (FeedMe, Reeder send them):
    the login token in the header already proves who asks, so `T` guards nothing more."""
    if given is None or given in ("", "x"):
        return
    if not hmac.compare_digest(given.strip().encode(), edit_token(user).encode()):
        raise ApiError(401, "Bad edit token T: fetch a new one from /reader/api/0/token")
