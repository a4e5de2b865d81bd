"""Accounts: the admin's page, `liseuse user disable/enable`, open registration, and each
person's list of sessions."""

from __future__ import annotations

import pytest
from django.test import Client
from django.test import override_settings

from liseuse.accounts.models import Session
from liseuse.accounts.models import User
from liseuse.feeds.models import Subscription
from liseuse.ui.views.sessions import reference
from tests.security.conftest import Alices
from tests.security.conftest import logged_in
from tests.test_cli import run

pytestmark = pytest.mark.django_db

GOOD = "correct horse battery"


def test_the_admin_creates_an_account_that_can_log_in(admin: User) -> None:
    client = logged_in(admin)
    page = client.get("/manage/accounts/")
    assert page.status_code == 200 and b"root" in page.content
    created = client.post(
        "/manage/accounts/add", {"username": "dora", "password": "a long enough password"}
    )
    assert created.status_code == 303
    dora = User.objects.get(username="dora")
    assert not dora.is_superuser and dora.check_password("a long enough password")
    assert b"dora" in client.get("/manage/accounts/").content
    login = Client().post("/login/", {"username": "dora", "password": "a long enough password"})
    assert login.status_code == 302


def test_a_bad_new_account_is_a_400_with_the_reason(admin: User, alice: User) -> None:
    client = logged_in(admin)
    taken = client.post("/manage/accounts/add", {"username": "alice", "password": GOOD})
    assert taken.status_code == 400 and b"taken" in taken.content
    weak = client.post("/manage/accounts/add", {"username": "eve", "password": "short"})
    assert weak.status_code == 400 and b"too short" in weak.content
    odd = client.post("/manage/accounts/add", {"username": "<b>x</b>", "password": GOOD})
    assert odd.status_code == 400 and b"<b>x</b>" not in odd.content
    assert not User.objects.filter(username__in=["eve", "<b>x</b>"]).exists()


def test_the_admin_disables_then_enables_an_account(admin: User, alice: User) -> None:
    client = logged_in(admin)
    alices_browser = logged_in(alice)
    assert client.post(f"/manage/accounts/{alice.pk}/active", {"active": "0"}).status_code == 303
    alice.refresh_from_db()
    assert not alice.is_active and not Session.objects.filter(user=alice).exists()
    assert alices_browser.get("/manage/settings/").status_code == 302
    assert b"disabled" in client.get("/manage/accounts/").content
    assert client.post(f"/manage/accounts/{alice.pk}/active", {"active": "1"}).status_code == 303
    alice.refresh_from_db()
    assert alice.is_active
    assert client.post(f"/manage/accounts/{alice.pk}/active", {"active": "x"}).status_code == 400


def test_the_admin_deletes_an_account_with_all_its_data_after_typing_its_name(
    admin: User, world: Alices
) -> None:
    client = logged_in(admin)
    alice = world.user.pk
    wrong = client.post(f"/manage/accounts/{alice}/delete", {"confirm": "alic"})
    assert wrong.status_code == 400
    assert client.post(f"/manage/accounts/{alice}/delete", {"confirm": "alice"}).status_code == 303
    assert not User.objects.filter(pk=alice).exists()
    assert not Subscription.objects.filter(user_id=alice).exists()
    assert not Session.objects.filter(user_id=alice).exists()
    assert client.post("/manage/accounts/987654/delete", {"confirm": "x"}).status_code == 404


def test_the_admin_cannot_disable_or_delete_their_own_account(admin: User) -> None:
    client = logged_in(admin)
    assert client.post(f"/manage/accounts/{admin.pk}/active", {"active": "0"}).status_code == 400
    own = client.post(f"/manage/accounts/{admin.pk}/delete", {"confirm": "root"})
    assert own.status_code == 400
    admin.refresh_from_db()
    assert admin.is_active


def test_the_cli_disables_and_enables_an_account(
    alice: User, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = logged_in(alice)
    code, out, _ = run(["user", "disable", "alice"], capsys, monkeypatch)
    assert code == 0 and "disabled" in out
    assert browser.get("/manage/settings/").status_code == 302
    code, out, _ = run(["user", "list"], capsys, monkeypatch)
    assert "alice\tdisabled" in out
    code, out, _ = run(["user", "enable", "alice"], capsys, monkeypatch)
    assert code == 0 and "enabled" in out
    alice.refresh_from_db()
    assert alice.is_active
    code, _, err = run(["user", "disable", "nobody"], capsys, monkeypatch)
    assert code != 0 and "nobody" in err


def test_registration_is_closed_by_default(client: Client, alice: User) -> None:
    assert client.get("/register/").status_code == 404
    response = client.post("/register/", {"username": "eve", "password": GOOD})
    assert response.status_code == 404
    assert b"/register/" not in client.get("/login/").content
    assert not User.objects.filter(username="eve").exists()


@override_settings(LISEUSE_OPEN_REGISTRATION=True)
def test_open_registration_creates_plain_accounts(client: Client, alice: User) -> None:
    assert b"/register/" in client.get("/login/").content
    assert client.get("/register/").status_code == 200
    form = {"username": "eve", "password": GOOD, "password_again": GOOD, "is_superuser": "1"}
    assert client.post("/register/", form).status_code == 302
    eve = User.objects.get(username="eve")
    assert not eve.is_superuser and not eve.is_staff
    again = Client().post("/register/", form)
    assert again.status_code == 400 and b"taken" in again.content


@override_settings(LISEUSE_OPEN_REGISTRATION=True)
def test_open_registration_waits_for_the_first_account(client: Client, db: None) -> None:
    # Before setup, the first account (the admin) is made on the setup page only.
    assert client.get("/register/").status_code == 404


def test_a_person_lists_their_sessions_and_ends_another(alice: User) -> None:
    laptop = Client(HTTP_USER_AGENT="Laptop browser", REMOTE_ADDR="192.0.2.10")
    assert laptop.post("/login/", {"username": "alice", "password": GOOD}).status_code == 302
    phone = Client(HTTP_USER_AGENT="Phone browser", REMOTE_ADDR="192.0.2.20")
    assert phone.post("/login/", {"username": "alice", "password": GOOD}).status_code == 302
    page = laptop.get("/manage/sessions/")
    assert b"Laptop browser" in page.content and b"Phone browser" in page.content
    assert b"192.0.2.20" in page.content
    # The page names sessions by a digest, never by the key (which is the cookie).
    for session in Session.objects.filter(user=alice):
        assert session.session_key.encode() not in page.content
    phones = Session.objects.get(user=alice, user_agent="Phone browser")
    assert laptop.post(f"/manage/sessions/{reference(phones.session_key)}/end").status_code == 303
    assert phone.get("/manage/settings/").status_code == 302
    assert laptop.get("/manage/settings/").status_code == 200
    assert laptop.post("/manage/sessions/nope/end").status_code == 404


def test_the_current_session_is_ended_by_logging_out_not_from_the_list(alice: User) -> None:
    browser = logged_in(alice)
    own = Session.objects.get(user=alice)
    assert browser.post(f"/manage/sessions/{reference(own.session_key)}/end").status_code == 404
    assert browser.post("/logout/").status_code == 302
    assert not Session.objects.filter(user=alice).exists()


def test_ending_all_other_sessions_keeps_this_one(alice: User, bob: User) -> None:
    here = logged_in(alice)
    elsewhere = [logged_in(alice) for _ in range(3)]
    bobs = logged_in(bob)
    assert here.post("/manage/sessions/end-others").status_code == 303
    assert here.get("/manage/settings/").status_code == 200
    assert all(other.get("/manage/settings/").status_code == 302 for other in elsewhere)
    assert bobs.get("/manage/settings/").status_code == 200


def test_changing_the_password_ends_the_other_sessions(alice: User) -> None:
    here = logged_in(alice)
    other = logged_in(alice)
    new = "a brand new passphrase"
    form = {"current": GOOD, "new": new, "new_again": new}
    assert here.post("/manage/settings/password", form).status_code == 303
    assert here.get("/manage/settings/").status_code == 200
    assert other.get("/manage/settings/").status_code == 302


def test_a_login_sweeps_ended_sessions(alice: User, bob: User) -> None:
    from datetime import timedelta

    from django.utils import timezone

    logged_in(bob)
    Session.objects.filter(user=bob).update(expire_date=timezone.now() - timedelta(seconds=1))
    assert Client().post("/login/", {"username": "alice", "password": GOOD}).status_code == 302
    assert not Session.objects.filter(user=bob).exists()
    assert Session.objects.filter(user=alice).count() == 1
