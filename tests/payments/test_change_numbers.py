"""Change numbers (the payments API's cursor) become visible in the order they were given, even
when the payments of one practice settle concurrently: a reader that has seen number n has seen
every number below it, so a cursor never skips a payment that commits later."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from payments import settlement
from payments.models import Payment

from .conftest import make_guarantor
from .test_api import api  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db(transaction=True)


def _pending(office, external_id: str) -> Payment:
    guarantor = make_guarantor(office.practice, external_id, "Pat", external_id)
    return Payment.objects.create(practice=office.practice, guarantor=guarantor, attempt=external_id,
                                  amount=Decimal("10.00"), gateway="sandbox",
                                  checkout_session_id=f"cs_{external_id}")


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database()")
        return cursor.fetchone()[0] > 0


def _in_thread(target, errors):
    def run():
        try:
            target()
        except Exception as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_number_given_later_waits_for_the_earlier_one_to_commit(api, office):  # noqa: F811
    first, second = _pending(office, "G-31"), _pending(office, "G-32")
    numbered, release, errors = threading.Event(), threading.Event(), []

    def slow():  # settles the first payment, then keeps its transaction open
        with transaction.atomic():
            settlement.checkout_completed(session_id=first.checkout_session_id, paid=True, amount_cents=1000)
            numbered.set()
            assert release.wait(30)

    def fast():
        settlement.checkout_completed(session_id=second.checkout_session_id, paid=True, amount_cents=2000)

    slow_thread = _in_thread(slow, errors)
    assert numbered.wait(30), errors
    fast_thread = _in_thread(fast, errors)
    # The second settlement does all its work and then waits for the first one's commit before
    # it takes its number (on the practice's settings row).
    deadline = time.monotonic() + 30
    while not _waiting_on_a_lock() and time.monotonic() < deadline and fast_thread.is_alive():
        time.sleep(0.01)
    assert fast_thread.is_alive() and _waiting_on_a_lock()
    assert api().json()["payments"] == []  # neither is visible yet
    release.set()
    slow_thread.join(30)
    fast_thread.join(30)
    assert not errors
    page = api(limit=1).json()
    assert [(p["id"], p["cursor"]) for p in page["payments"]] == [(first.pk, "1")]
    rest = api(since=page["next_cursor"]).json()
    assert [(p["id"], p["cursor"]) for p in rest["payments"]] == [(second.pk, "2")]


def test_payments_settled_at_once_get_each_number_once_and_lower_each_balance_once(api, office):  # noqa: F811
    payments = [_pending(office, f"G-4{n}") for n in range(8)]
    errors = []
    threads = [_in_thread(lambda p=p: settlement.checkout_completed(
        session_id=p.checkout_session_id, paid=True, amount_cents=1500), errors) for p in payments]
    for thread in threads:
        thread.join(60)
    assert not errors
    numbers = sorted(Payment.objects.filter(pk__in=[p.pk for p in payments])
                     .values_list("change_seq", flat=True))
    assert numbers == list(range(1, len(payments) + 1))
    seen, cursor = [], ""
    while True:
        page = api(since=cursor, limit=3).json()
        seen += [p["id"] for p in page["payments"]]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert sorted(seen) == sorted(p.pk for p in payments) and len(seen) == len(set(seen))
    for payment in payments:
        payment.guarantor.balance.refresh_from_db()
        assert payment.guarantor.balance.total == Decimal("235.00")
