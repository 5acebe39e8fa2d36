"""The QuickPay page: every state, the amount rules, the date-of-birth check, its headers."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from patients.models import Balance
from payments.models import Payment, PaymentSettings, QuickPayLink, QuickPayOpen
from payments.quickpay import quickpay_link_find

from .conftest import make_guarantor, pay_form


def _get(client, token):
    return client.get(f"/p/{token}")


def test_a_payable_balance_shows_the_practice_the_short_name_and_the_amounts(client, office,
                                                                           django_assert_num_queries):
    make_guarantor(office.practice, "G-9", "Zed", "Zimmerman")  # another patient of the practice
    PaymentSettings.objects.create(practice=office.practice)
    token = office.link()
    # The link with all the page shows, and the opening; the first opening also marks the link
    # opened and counts it in its day, together (a savepoint, two statements, its release).
    with django_assert_num_queries(6):
        response = _get(client, token)
    with django_assert_num_queries(2):
        assert _get(client, token).status_code == 200
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="state-payable"' in body
    assert "Lakeside Dental" in body and "(312) 555-0100" in body
    assert "Hello Ana R." in body and "Reyes" not in body
    assert "$250.00" in body and "$100.00" in body
    assert "Zimmerman" not in body and "G-1" not in body and "1984" not in body
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "<script" not in body  # works without JavaScript


def test_each_opening_is_recorded_with_the_time_and_nothing_about_the_client(client, office):
    token = office.link()
    _get(client, token)
    _get(client, token)
    link = quickpay_link_find(token=token)
    assert QuickPayOpen.objects.filter(link=link).count() == 2
    assert [f.name for f in QuickPayOpen._meta.get_fields()] == ["id", "link", "opened_at"]


def test_a_zero_balance_has_nothing_to_pay_and_refuses_a_payment(client, office):
    Balance.objects.filter(guarantor=office.guarantor).update(total=0, amount_due=0, aging_over_120=0,
                                                              aging_current=0)
    token = office.link()
    response = _get(client, token)
    assert 'data-testid="state-nothing_to_pay"' in response.content.decode()
    assert b"Nothing to pay" in response.content and b"Continue to payment" not in response.content
    posted = client.post(f"/p/{token}", {"choice": "full", "attempt": "a" * 22})
    assert posted.status_code == 409
    assert not Payment.objects.exists()


def test_a_guarantor_without_any_balance_has_nothing_to_pay(client, office):
    Balance.objects.filter(guarantor=office.guarantor).delete()
    assert b"Nothing to pay" in _get(client, office.link()).content


def test_a_balance_in_collections_is_shown_but_not_payable(client, office):
    Balance.objects.filter(guarantor=office.guarantor).update(in_collections=True)
    token = office.link()
    body = _get(client, token).content.decode()
    assert 'data-testid="state-collections"' in body and "$250.00" in body
    assert "collections" in body and "(312) 555-0100" in body and "Continue to payment" not in body
    assert client.post(f"/p/{token}", {"choice": "full", "attempt": "a" * 22}).status_code == 409
    assert not Payment.objects.exists()


def test_an_expired_link_says_so_and_gives_the_phone_without_the_account(client, office):
    token = office.link()
    QuickPayLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    body = _get(client, token).content.decode()
    assert 'data-testid="state-expired"' in body and "(312) 555-0100" in body
    assert "$250.00" not in body and "Ana" not in body


def test_a_revoked_link_says_so(client, office):
    token = office.link()
    QuickPayLink.objects.update(revoked_at=timezone.now())
    body = _get(client, token).content.decode()
    assert 'data-testid="state-revoked"' in body and "$250.00" not in body


@pytest.mark.parametrize("path", ["/p/AAAAAAAAAAAAAAAAAAAAAA", "/p/short", "/p/" + "A" * 23,
                                  "/p/%00AAAAAAAAAAAAAAAAAAAAA", "/p/AAAAAAAAAAAAAAAAAAAAAA/paid"])
def test_a_link_that_never_existed_is_a_plain_404(client, office, path):
    office.link()
    response = client.get(path)
    assert response.status_code == 404
    assert b"Lakeside" not in response.content


def test_with_online_payments_off_the_page_gives_the_phone(client, office):
    token = office.link()
    office.practice.addon_online_payments = False
    office.practice.save()
    body = _get(client, token).content.decode()
    assert 'data-testid="state-unavailable"' in body and "(312) 555-0100" in body and "$250" not in body


def test_stripe_without_a_connected_account_cannot_take_payments(client, office, settings):
    settings.PAYMENTS_GATEWAY = "stripe"
    assert 'data-testid="state-unavailable"' in _get(client, office.link()).content.decode()


# --- amounts ---


@pytest.mark.parametrize(("choice", "other", "expected"), [
    ("due", "", "100.00"), ("full", "", "250.00"), ("other", "1", "1.00"), ("other", "$249.99", "249.99"),
    ("other", "250", "250.00"), ("other", " 1,0.5 ", "10.50"), ("other", ".5", None),
    ("other", "0.99", None), ("other", "250.01", None), ("other", "", None), ("other", "-5", None),
    ("other", "1e3", None), ("other", "NaN", None), ("other", "Infinity", None), ("other", "1.005", None),
    ("other", "99999999999999999999", None), ("other", "12\x00", None), ("other", "٣٠", None),
    ("due", "30", None), ("", "", None), ("everything", "", None),
])
def test_the_amount_is_due_full_or_another_between_one_dollar_and_the_balance(client, office, choice, other,
                                                                             expected):
    token = office.link()
    form = pay_form(_get(client, token), choice=choice, other_amount=other)
    response = client.post(f"/p/{token}", form)
    if expected is None:
        assert response.status_code == 400
        assert response.context["form"].errors
        assert not Payment.objects.exists()
    else:
        assert response.status_code == 302
        assert str(Payment.objects.get().amount) == expected


def test_the_amount_due_is_not_offered_when_nothing_is_due(client, office):
    Balance.objects.filter(guarantor=office.guarantor).update(amount_due=0)
    token = office.link()
    response = _get(client, token)
    assert b'value="due"' not in response.content
    assert client.post(f"/p/{token}", pay_form(response, choice="due")).status_code == 400


@pytest.mark.parametrize("field", ["attempt", "payer_email", "choice"])
def test_hostile_form_values_are_refused_naming_the_field(client, office, field):
    token = office.link()
    form = pay_form(_get(client, token))
    for value in ["x" * 100_000, "\x00", "\u202e\x07"]:
        response = client.post(f"/p/{token}", {**form, field: value})
        assert response.status_code == 400, (field, value[:5])
        assert field in response.context["form"].errors
    assert not Payment.objects.exists()


def test_posting_the_same_form_twice_starts_one_checkout(client, office):
    token = office.link()
    form = pay_form(_get(client, token), choice="full", payer_email="ana@example.test")
    first = client.post(f"/p/{token}", form)
    second = client.post(f"/p/{token}", form)
    assert first["Location"] == second["Location"]
    payment = Payment.objects.get()
    assert (payment.amount, payment.status, payment.payer_email) == (250, "pending", "ana@example.test")
    assert client.post(f"/p/{token}", {**form, "choice": "due"}).status_code == 400


# --- the date-of-birth check ---


@pytest.fixture
def dob_on(office):
    PaymentSettings.objects.create(practice=office.practice, require_date_of_birth=True)


def _dob(client, token, value):
    return client.post(f"/p/{token}", {"step": "dob", "date_of_birth": value})


def test_the_date_of_birth_check_shows_nothing_of_the_account_until_passed(client, office, dob_on):
    token = office.link()
    body = _get(client, token).content.decode()
    assert 'data-testid="state-dob_required"' in body
    assert "Ana" not in body and "$250" not in body
    assert client.post(f"/p/{token}", {"choice": "full", "attempt": "a" * 22}).status_code == 200
    assert not Payment.objects.exists()
    assert _dob(client, token, "1984-09-30").status_code == 302
    body = _get(client, token).content.decode()
    assert 'data-testid="state-payable"' in body and "Hello Ana R." in body
    # Passing for one link does not open another guarantor's link.
    other = make_guarantor(office.practice, "G-2", "Ben", "Okafor")
    assert 'state-dob_required' in _get(client, office.link(guarantor=other)).content.decode()


@pytest.mark.parametrize("value", ["1984-09-31", "09/30/1884", "2999-01-01", "", "x" * 5000, "1984-09-30\x00",
                                   "99999999999-01-01", "-0001-01-01"])
def test_a_malformed_date_of_birth_is_refused_without_counting(client, office, dob_on, value):
    token = office.link()
    response = _dob(client, token, value)
    assert response.status_code == 400
    assert "date_of_birth" in response.context["dob_form"].errors
    assert QuickPayLink.objects.get().dob_failures == 0


def test_wrong_dates_of_birth_are_limited_per_link(client, office, dob_on, settings):
    settings.QUICKPAY_DOB_LINK_ATTEMPTS = 3
    token = office.link()
    assert _dob(client, token, "09/29/1984").status_code == 400
    assert _dob(client, token, "1984-09-28").status_code == 400
    locked = _dob(client, token, "1984-09-27")
    assert locked.status_code == 403 and 'state-dob_locked' in locked.content.decode()
    # Even the right date no longer opens it; the page gives the phone.
    _dob(client, token, "1984-09-30")
    body = _get(client, token).content.decode()
    assert 'state-dob_locked' in body and "(312) 555-0100" in body and "$250" not in body


def test_wrong_dates_of_birth_are_limited_per_client_address(client, office, dob_on, settings):
    from django.core.cache import cache

    cache.clear()
    settings.QUICKPAY_DOB_ADDRESS_ATTEMPTS = 2
    tokens = [office.link() for _ in range(3)]
    assert _dob(client, tokens[0], "1984-01-01").status_code == 400
    assert _dob(client, tokens[1], "1984-01-01").status_code == 400
    limited = _dob(client, tokens[2], "1984-09-30")  # even the right date, from this address
    assert limited.status_code == 429
    other_address = client.post(f"/p/{tokens[2]}", {"step": "dob", "date_of_birth": "1984-09-30"},
                                REMOTE_ADDR="10.9.8.7")
    assert other_address.status_code == 302
    cache.clear()


def test_no_date_of_birth_on_file_means_call_the_office(client, office, dob_on):
    office.guarantor.date_of_birth = None
    office.guarantor.save()
    body = _get(client, office.link()).content.decode()
    assert 'state-no_dob_on_file' in body and "$250" not in body


def test_the_paid_page_needs_the_links_own_session(client, office):
    token = office.link()
    client.post(f"/p/{token}", pay_form(_get(client, token)))
    payment = Payment.objects.get()
    assert client.get(f"/p/{token}/paid", {"session_id": payment.checkout_session_id}).status_code == 200
    assert client.get(f"/p/{token}/paid", {"session_id": "cs_other"}).status_code == 404
    other_link = office.link()
    assert client.get(f"/p/{other_link}/paid", {"session_id": payment.checkout_session_id}).status_code == 404
    assert client.get(reverse("quickpay_paid", args=[token])).status_code == 404
