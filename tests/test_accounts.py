import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse


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


LOCK_TEXT = "Too many failed sign-ins"


@override_settings(AXES_FAILURE_LIMIT=3)
def test_repeated_failures_lock_that_email_from_that_address_only(client, world):
    for _ in range(3):
        _login(client, "staff.a@example.test", "wrong-password", ip="203.0.113.9")
    locked = _login(client, "staff.a@example.test", world.password, ip="203.0.113.9")
    assert locked.status_code == 429 and LOCK_TEXT in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # Everyone else behind the same office network signs in as usual, and so does the owner of
    # the locked email from another network.
    assert _login(client, "admin.ab@example.test", world.password, ip="203.0.113.9").status_code == 302
    client.logout()
    assert _login(client, "staff.a@example.test", world.password, ip="198.51.100.4").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_lock_says_what_it_is_and_how_to_lift_it(client, world):
    for _ in range(4):
        locked = _login(client, "staff.a@example.test", "wrong-password")
    text = locked.content.decode()
    assert "15 minutes" in text and "reset your password" in text and "lifts" in text
    assert 'href="/accounts/password-reset/"' in text


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_completed_password_reset_lifts_the_lock(client, world):
    for _ in range(3):
        _login(client, "staff.a@example.test", "wrong-password")
    assert _login(client, "staff.a@example.test", world.password).status_code == 429
    client.post(reverse("password_reset"), {"email": "staff.a@example.test"})
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    client.post(form_page.redirect_chain[-1][0], {
        "new_password1": "a-brand-new-passphrase", "new_password2": "a-brand-new-passphrase"})
    assert _login(client, "staff.a@example.test", "a-brand-new-passphrase").status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3)
def test_success_before_the_limit_starts_the_count_again(client, world):
    for _ in range(2):
        _login(client, "staff.a@example.test", "wrong-password")
    assert _login(client, "staff.a@example.test", world.password).status_code == 302
    client.logout()
    for _ in range(2):
        _login(client, "staff.a@example.test", "wrong-password")
    assert _login(client, "staff.a@example.test", world.password).status_code == 302


@override_settings(PASSWORD_RESET_LIMIT_PER_EMAIL=2, PASSWORD_RESET_LIMIT_PER_ADDRESS=4)
def test_password_reset_emails_are_limited_per_email_and_per_address(client, world):
    def ask(email, ip):
        return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=ip)

    assert [ask("staff.a@example.test", ip).status_code for ip in ("10.1.1.1", "10.1.1.2")] == [302, 302]
    limited = ask("staff.a@example.test", "10.1.1.3")  # a third address, the same email
    assert limited.status_code == 429 and "several reset links" in limited.content.decode()
    assert len(mail.outbox) == 2
    # An unknown address counts the same: the answer tells nothing about who has an account.
    ask("ghost@example.test", "10.1.1.4"), ask("ghost@example.test", "10.1.1.4")
    assert "several reset links" in ask("ghost@example.test", "10.1.1.4").content.decode()
    ask("admin.ab@example.test", "10.1.1.4")
    from_one_address = ask("admin.c@example.test", "10.1.1.4")
    assert from_one_address.status_code == 429
    assert "from your network" in from_one_address.content.decode()
    assert [m.to for m in mail.outbox[2:]] == [["admin.ab@example.test"]]


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


@override_settings(AXES_FAILURE_LIMIT=2, TRUSTED_PROXY_HOPS=1)
def test_behind_a_proxy_each_client_address_is_counted_apart(client, world):
    def attempt(forwarded, password="wrong-password"):
        return client.post(reverse("login"), {"username": "staff.a@example.test",
                                              "password": password},
                           REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)

    # A client forging the left part of the header still lands on its real address.
    attempt("1.1.1.1, 203.0.113.5")
    attempt("9.9.9.9, 203.0.113.5")
    locked = attempt("203.0.113.5", password=world.password)
    assert LOCK_TEXT in locked.content.decode()
    other = attempt("198.51.100.7", password=world.password)
    assert other.status_code == 302
