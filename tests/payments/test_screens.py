"""Staff screens: payments received (filters, totals, keyset pages), the QuickPay panel of a
guarantor's account (payments, links, a front-desk QR code), payment settings."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from payments import settlement
from payments.models import Payment, PaymentSettings, QuickPayLink
from payments.quickpay import quickpay_link_find
from payments.selectors import PAYMENT_PAGE_SIZE
from practices.models import AuditEvent

from .conftest import make_guarantor


def _payment(office, guarantor=None, amount="10.00", status="succeeded", **kw):
    return Payment.objects.create(practice=office.practice, guarantor=guarantor or office.guarantor,
                                  attempt=f"s{Payment.objects.count()}", amount=Decimal(amount),
                                  gateway="sandbox", status=status, **kw)


def test_the_payments_list_totals_and_filters(client_of, world, office):
    link = quickpay_link_find(token=office.link(source="on_demand", channel="email"))
    _payment(office, amount="100.00", link=link)
    _payment(office, amount="40.00", status="partially_refunded", amount_refunded=Decimal("15.00"))
    _payment(office, amount="25.00", status="pending")
    _payment(office, amount="7.00", status="failed")
    other = make_guarantor(world.practice_c, "C-1", "Cy", "Other")
    Payment.objects.create(practice=world.practice_c, guarantor=other, attempt="c", amount=999,
                           gateway="sandbox", status="succeeded")
    client = client_of(world.staff_a)
    response = client.get(reverse("payment_list"))
    assert response.status_code == 200
    totals = response.context["totals"]
    assert (totals.count, totals.paid_count, totals.received, totals.refunded, totals.net) == (
        4, 2, Decimal("140.00"), Decimal("15.00"), Decimal("125.00"))
    body = response.content.decode()
    assert "$140.00" in body and "$125.00" in body and "$999" not in body and "Cy Other" not in body
    assert "On-demand · Email" in body
    assert client.get(reverse("payment_list"), {"status": "pending"}).context["totals"].count == 1
    assert client.get(reverse("payment_list"), {"source": "on_demand"}).context["totals"].count == 1
    today = timezone.localdate(timezone=office.practice.tz).isoformat()
    same_day = client.get(reverse("payment_list"), {"date_from": today, "date_to": today})
    assert same_day.context["totals"].count == 4
    tomorrow = (timezone.localdate(timezone=office.practice.tz) + timedelta(days=1)).isoformat()
    assert client.get(reverse("payment_list"), {"date_from": tomorrow}).context["totals"].count == 0


def test_the_payments_list_pages_by_keyset(client_of, world, office):
    for _ in range(PAYMENT_PAGE_SIZE + 3):
        _payment(office)
    client = client_of(world.staff_a)
    first = client.get(reverse("payment_list"))
    assert len(first.context["page"].rows) == PAYMENT_PAGE_SIZE
    cursor = first.context["page"].next_cursor
    second = client.get(reverse("payment_list"), {"after": cursor})
    assert len(second.context["page"].rows) == 3 and not second.context["page"].next_cursor
    seen = {p.pk for p in first.context["page"].rows} | {p.pk for p in second.context["page"].rows}
    assert len(seen) == PAYMENT_PAGE_SIZE + 3


@pytest.mark.parametrize(("field", "value"), [
    ("after", "garbage"), ("after", "2026-01-01T00:00:00_99999999999999999999999"), ("after", "x\x00_1"),
    ("after", "2026-01-01T00:00:00_1"), ("date_from", "9999-12-31"), ("date_to", "2026-02-30"),
    ("date_from", "0001-01-01"), ("status", "paid?"), ("date_from", "2026-01-01\x00"), ("after", "1" * 5000),
])
def test_hostile_filters_are_refused_naming_the_field(client_of, world, office, field, value):
    response = client_of(world.staff_a).get(reverse("payment_list"), {field: value})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert b"Fix the filters" in response.content


def test_the_account_shows_payments_links_and_a_front_desk_qr_code_once(client_of, world, office):
    link = quickpay_link_find(token=office.link())
    _payment(office, amount="60.00", link=link)
    client = client_of(world.staff_a)
    client.get(f"/p/{office.link()}")  # an opened link
    account = reverse("guarantor_detail", args=[office.guarantor.pk])
    body = client.get(account).content.decode()
    assert 'data-testid="quickpay-panel"' in body and "$60.00" in body and "Succeeded" in body
    assert "Statement · Text" in body and "1 time" in body and body.count("Revoke") == 2
    assert 'data-testid="quickpay-new-link"' not in body
    created = client.post(reverse("quickpay_link_create", args=[office.guarantor.pk]))
    assert created.status_code == 302 and created["Location"].endswith("#quickpay")
    shown = client.get(account).content.decode()
    assert 'data-testid="quickpay-new-link"' in shown and "data:image/svg+xml" in shown
    url = shown.split('class="secret"><a href="', 1)[1].split('"', 1)[0]
    token = url.rsplit("/p/", 1)[1]
    new = quickpay_link_find(token=token)
    assert (new.source, new.channel, new.guarantor_id) == ("manual", "qr", office.guarantor.pk)
    assert AuditEvent.objects.filter(action="quickpay.link_created", actor=world.staff_a).exists()
    assert 'data-testid="quickpay-new-link"' not in client.get(account).content.decode()  # shown once
    assert b"Hello Ana R." in client.get(f"/p/{token}").content


def test_no_front_desk_link_when_online_payments_are_off(client_of, world, office):
    office.practice.addon_online_payments = False
    office.practice.save()
    client = client_of(world.staff_a)
    client.post(reverse("quickpay_link_create", args=[office.guarantor.pk]))
    assert not QuickPayLink.objects.exists()
    account = client.get(reverse("guarantor_detail", args=[office.guarantor.pk]))
    assert b"are off for this office" in account.content


def test_another_practices_staff_cannot_make_a_link(client_of, world, office):
    response = client_of(world.staff_c).post(reverse("quickpay_link_create", args=[office.guarantor.pk]))
    assert response.status_code == 404 and not QuickPayLink.objects.exists()


def test_admins_set_payment_settings_and_the_change_is_audited(client_of, world, office):
    client = client_of(world.admin_ab, office="lakeside")
    response = client.post(reverse("payment_settings"), {
        "stripe_account_id": " acct_1AbC2dEf3GhI ", "link_expiry_days": "30", "require_date_of_birth": "on"})
    assert response.status_code == 302
    saved = PaymentSettings.objects.get(practice=office.practice)
    assert (saved.stripe_account_id, saved.link_expiry_days, saved.require_date_of_birth) == (
        "acct_1AbC2dEf3GhI", 30, True)
    assert AuditEvent.objects.filter(action="payments.settings_changed", actor=world.admin_ab).exists()
    assert client_of(world.staff_a).get(reverse("payment_settings")).status_code == 403


@pytest.mark.parametrize(("field", "value"), [
    ("stripe_account_id", "sk_live_oops"), ("stripe_account_id", "acct_\x00"),
    ("stripe_account_id", "a" * 300),
    ("link_expiry_days", "0"), ("link_expiry_days", "366"), ("link_expiry_days", "18446744073709551616"),
    ("link_expiry_days", "1e3"),
])
def test_bad_payment_settings_are_refused_naming_the_field(client_of, world, office, field, value):
    client = client_of(world.admin_ab, office="lakeside")
    data = {"stripe_account_id": "", "link_expiry_days": "60", field: value}
    response = client.post(reverse("payment_settings"), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    # Nothing of the refused form was saved (the page may have made the row with its defaults).
    stored = list(PaymentSettings.objects.values_list("stripe_account_id", "link_expiry_days"))
    assert stored in ([], [("", 60)])


def test_a_succeeded_payment_shows_on_the_account(client_of, world, office):
    payment = _payment(office, amount="30.00", status="pending", checkout_session_id="cs_x")
    settlement.checkout_completed(session_id="cs_x", paid=True, amount_cents=3000)
    body = client_of(world.staff_a).get(reverse("guarantor_detail", args=[office.guarantor.pk])).content
    assert b"Succeeded" in body and b"$30.00" in body and b"$220.00" in body
    assert Payment.objects.get(pk=payment.pk).status == "succeeded"
