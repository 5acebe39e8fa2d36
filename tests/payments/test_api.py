"""GET /api/v1/payments?since=<cursor>: the PMS collects payments to post them."""

from decimal import Decimal

import pytest

from payments import settlement
from payments.models import Payment
from practices.services import api_key_create

from .conftest import make_guarantor


@pytest.fixture
def api(client, office):
    _key, secret = api_key_create(practice=office.practice, label="pms")

    def get(**params):
        return client.get("/api/v1/payments", params, headers={"Authorization": f"Bearer {secret}"})

    return get


def _paid(office, guarantor, amount="50.00", n=[0]):  # noqa: B006 - a counter across calls
    n[0] += 1
    payment = Payment.objects.create(practice=office.practice, guarantor=guarantor, attempt=f"a{n[0]}",
                                     amount=Decimal(amount), gateway="sandbox",
                                     checkout_session_id=f"cs_api_{n[0]}")
    settlement.checkout_completed(session_id=payment.checkout_session_id, paid=True,
                                  amount_cents=int(Decimal(amount) * 100), payment_intent_id=f"pi_api_{n[0]}")
    return Payment.objects.get(pk=payment.pk)


def test_payments_come_in_order_of_change_and_a_cursor_always_gives_the_same_answer(api, office, world):
    guarantors = [make_guarantor(office.practice, f"G-{i}", "Pat", f"Doe{i}") for i in range(2, 7)]
    payments = [_paid(office, g, f"{10 + i}.00") for i, g in enumerate(guarantors)]
    # Pending and expired payments are not for the PMS; another practice's never are.
    Payment.objects.create(practice=office.practice, guarantor=guarantors[0], attempt="p", amount=5,
                           gateway="sandbox")
    other = make_guarantor(world.practice_c, "C-1", "Cy", "Other")
    Payment.objects.create(practice=world.practice_c, guarantor=other, attempt="c", amount=5,
                           gateway="sandbox", status="succeeded", change_seq=1)

    first = api(limit=2).json()
    assert [p["id"] for p in first["payments"]] == [payments[0].pk, payments[1].pk]
    assert first["has_more"] is True
    row = first["payments"][0]
    assert row == {**row, "status": "succeeded", "amount": "10.00", "amount_refunded": "0.00",
                   "currency": "usd", "guarantor_external_id": "G-2", "gateway": "sandbox", "source": None,
                   "channel": None}
    assert row["gateway_payment_id"].startswith("pi_api_") and row["paid_at"]
    assert api(since=first["next_cursor"], limit=2).json() == api(since=first["next_cursor"], limit=2).json()
    rest = api(since=first["next_cursor"], limit=10).json()
    assert [p["id"] for p in rest["payments"]] == [p.pk for p in payments[2:]]
    assert rest["has_more"] is False
    # Nothing new: the same cursor comes back; a refund brings a payment back with its new state.
    idle = api(since=rest["next_cursor"]).json()
    assert idle == {"payments": [], "next_cursor": rest["next_cursor"], "has_more": False}
    settlement.charge_refunded(payment_intent_id=payments[1].payment_intent_id, amount_refunded_cents=1100)
    again = api(since=rest["next_cursor"]).json()
    assert [(p["id"], p["status"], p["amount_refunded"]) for p in again["payments"]] == [
        (payments[1].pk, "refunded", "11.00")]
    assert int(again["next_cursor"]) > int(rest["next_cursor"])


def test_payments_carry_their_links_attribution(api, office, client):
    from .conftest import pay_form

    token = office.link(source="statement", channel="sms", dunning_level=2)
    client.post(f"/p/{token}", pay_form(client.get(f"/p/{token}")))
    payment = Payment.objects.get()
    settlement.checkout_completed(session_id=payment.checkout_session_id, paid=True, amount_cents=10000)
    [row] = api().json()["payments"]
    assert (row["source"], row["channel"], row["dunning_level"], row["notification_key"]) == (
        "statement", "sms", 2, f"test:{office.counter}")


@pytest.mark.parametrize(("params", "field"), [
    ({"since": "18446744073709551616"}, "since"), ({"since": "9223372036854775808"}, "since"),
    ({"since": "-1"}, "since"), ({"since": "abc"}, "since"), ({"since": "1\x00"}, "since"),
    ({"since": "٣"}, "since"), ({"since": "x" * 5000}, "since"), ({"limit": "0"}, "limit"),
    ({"limit": "501"}, "limit"), ({"limit": "99999999999999999999999"}, "limit"), ({"limit": "1.5"}, "limit"),
])
def test_hostile_query_values_answer_422_naming_the_field(api, params, field):
    response = api(**params)
    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"])


def test_the_largest_cursor_is_fine(api):
    assert api(since=str(2**63 - 1)).json() == {"payments": [], "next_cursor": str(2**63 - 1),
                                                "has_more": False}


def test_a_missing_key_is_401(client):
    assert client.get("/api/v1/payments").status_code == 401


def test_the_endpoint_is_in_the_openapi_schema(client):
    schema = client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/payments"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"since", "limit"}
    assert "200" in operation["responses"] and "422" in operation["responses"]
    assert "PaymentsPage" in schema["components"]["schemas"]
