import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse

from practices import login_throttle


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _login(client, email, password, ip="127.0.0.1"):
    return client.post(reverse("login"), {"username": email, "password": password},
                       REMOTE_ADDR=ip)


def test_login_with_email_and_password_opens_the_dashboard(client, world):
    response = _login(client, "staff.a@example.test", world.password)
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    page = client.get(reverse("dashboard"))
    assert "Lakeside Dental" in page.content.decode()


def test_login_email_is_case_insensitive(client, world):
    response = _login(client, "Staff.A@Example.TEST", world.password)
    assert response.status_code == 302


def test_wrong_password_gets_a_generic_message(client, world):
    response = _login(client, "staff.a@example.test", "not-the-password")
    body = response.content.decode()
    assert response.status_code == 200
    assert "don&#x27;t match an account" in body
    unknown = _login(client, "nobody@example.test", "whatever-password")
    assert "don&#x27;t match an account" in unknown.content.decode()


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_repeated_failures_lock_the_account_even_for_the_right_password(client, world):
    for _ in range(3):
        _login(client, "staff.a@example.test", "wrong-password")
    locked = _login(client, "staff.a@example.test", world.password)
    assert locked.status_code == 200
    assert "Too many failed sign-in attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_success_before_the_limit_resets_the_email_count(client, world):
    for _ in range(2):
        _login(client, "staff.a@example.test", "wrong-password")
    assert _login(client, "staff.a@example.test", world.password).status_code == 302
    client.logout()
    # From a new address (the first one has used up its own count), two more failures for the
    # same email are still under the limit: the success above cleared the email's count.
    for _ in range(2):
        _login(client, "staff.a@example.test", "wrong-password", ip="10.0.0.2")
    assert _login(client, "staff.a@example.test", world.password, ip="10.0.0.2").status_code == 302


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_one_address_guessing_many_accounts_is_locked_out(client, world):
    for n in range(3):
        _login(client, f"guess{n}@example.test", "wrong-password", ip="10.9.9.9")
    locked = _login(client, "staff.a@example.test", world.password, ip="10.9.9.9")
    assert "Too many failed sign-in attempts" in locked.content.decode()


def test_logout_ends_the_session(client_of, world):
    client = client_of(world.staff_a)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("dashboard"))["Location"].startswith(reverse("login"))


def test_password_reset_by_email_sets_a_new_password(client, world):
    response = client.post(reverse("password_reset"), {"email": "staff.a@example.test"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["staff.a@example.test"]
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"]
    done = client.post(form_page.redirect_chain[-1][0], {
        "new_password1": "a-brand-new-passphrase", "new_password2": "a-brand-new-passphrase"})
    assert done.status_code == 302
    assert _login(client, "staff.a@example.test", "a-brand-new-passphrase").status_code == 302


def test_password_reset_for_unknown_email_sends_nothing_and_reveals_nothing(client, world):
    response = client.post(reverse("password_reset"), {"email": "ghost@example.test"})
    assert response.status_code == 302
    assert mail.outbox == []


@override_settings(LOGIN_FAILURE_LIMIT=2, TRUSTED_PROXY_HOPS=1)
def test_behind_a_proxy_each_client_address_is_counted_apart(client, world):
    def attempt(forwarded, password="wrong-password"):
        return client.post(reverse("login"), {"username": "staff.a@example.test",
                                              "password": password},
                           REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)

    # A client forging the left part of the header still lands on its real address.
    attempt("1.1.1.1, 203.0.113.5")
    attempt("9.9.9.9, 203.0.113.5")
    login_throttle.clear(email="staff.a@example.test")  # leave only the per-address counts
    locked = attempt("203.0.113.5", password=world.password)
    assert "Too many failed sign-in attempts" in locked.content.decode()
    other = attempt("198.51.100.7", password=world.password)
    assert other.status_code == 302
