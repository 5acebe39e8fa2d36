"""The portal's home: the current office's worklist. Every figure against a history worked out by
hand, each item's link opening the screen that lists what it counts, other offices' rows never
counted, the admins' setup problems, and the empty state."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from notifications.dashboard import errors_to_manage
from payments.alerts import alert_timers_fire
from payments.services import application_event_record
from statements.profiles import profile_create, standard_profile_create
from tests.payments.conftest import make_guarantor
from tests.payments.outreach import fail, link, message, pay, refund
from tests.statements.conftest import item, receive
from tests.statements.conftest import make_guarantor as statement_guarantor

CHICAGO = ZoneInfo("America/Chicago")
# Online payments are on, no request list made yet: the bulk-request items are there, at 0
# (tests/payments/requests/test_screens.py counts them).
NO_REQUEST_WORK = {"requests-pending": (0, ""), "snoozes-ending": (0, ""), "requests-undeliverable": (0, "")}
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=ZoneInfo("UTC"))  # Wednesday 09:00 in Chicago


def ct(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=CHICAGO)


def event(practice, application: str, type_: str, at: datetime) -> None:
    with time_machine.travel(at, tick=False):
        application_event_record(practice=practice, event_id=f"{application}-{type_}",
                                 application_id=application, type=type_, occurred_at=at,
                                 patient_external_id=f"p-{application}", patient_first_name="Maria",
                                 patient_last_name=application)
        alert_timers_fire()


@pytest.fixture
def office(world, settings):
    """Office A's history on Wednesday, November 18, 09:00 in Chicago. The comments give what
    each line adds to A's dashboard."""
    a, b = world.practice_a, world.practice_b
    for practice in (a, b):
        practice.addon_online_payments = practice.addon_balance_notifications = True
        practice.save()
    standard_profile_create(a)
    # Payment-plan alerts: app-3's open approval fired Nov 12 and app-4's decline Nov 16 (older
    # than a day); app-5's activation (Nov 17 11:00) and app-6's decline (Nov 18 08:00): 2.
    # Approved and waiting: app-3 and app-2: 2. B's decline and approval are B's.
    event(a, "app-3", "approved", ct(10))
    with time_machine.travel(ct(12, 11), tick=False):
        alert_timers_fire()
    event(a, "app-4", "declined", ct(16))
    event(a, "app-5", "approved", ct(16))
    event(a, "app-5", "activated", ct(17, 11))
    event(a, "app-2", "approved", ct(17, 12))
    event(a, "app-6", "declined", ct(18, 8))
    event(b, "app-b1", "declined", ct(18, 8))
    event(b, "app-b2", "approved", ct(17))
    # Messages in error: three to manage; one archived and one followed by a later text to the
    # same person are not; B's error is B's.
    people = [make_guarantor(a, f"E-{n}", total=None) for n in range(5)]
    for n, status in enumerate(("undeliverable_permanent", "delivery_error", "queueing_error")):
        message(a, people[n], f"err:{n}", kind="balance_notification", channel="sms", status=status, at=ct(9))
    message(a, people[3], "err:archived", kind="balance_notification", channel="sms",
            status="undeliverable_permanent", at=ct(9), archived=True)
    message(a, people[4], "err:fixed", kind="balance_notification", channel="sms",
            status="undeliverable_permanent", at=ct(9))
    message(a, people[4], "err:fixed-later", kind="balance_notification", channel="sms", status="sent",
            at=ct(10))
    message(b, make_guarantor(b, "E-B", total=None), "err:b", kind="balance_notification", channel="sms",
            status="delivery_error", at=ct(9))
    # Payments: today $40 (08:30); Monday $60, $10 of it refunded since (received stays $60);
    # Sunday 23:00 (Monday in UTC) $500, last week; a failed checkout today; B's $300 today.
    payer = make_guarantor(a, "PAY", total="5000.00", due="5000.00", over_120="0.00")
    qr = link(a, payer, "front-desk:1", source="manual", channel="qr", at=ct(1))
    pay(qr, "40.00", ct(18, 8, 30))
    refund(pay(qr, "60.00", ct(16, 9)), "10.00", ct(17))
    pay(qr, "500.00", ct(15, 23))
    fail(qr, "70.00", ct(18, 8, 45))
    b_payer = make_guarantor(b, "PAY-B", total="5000.00", due="5000.00", over_120="0.00")
    pay(link(b, b_payer, "front-desk:b", source="manual", channel="qr", at=ct(1)), "300.00", ct(18, 7))
    # Statements: batches of Nov 16 (2 statements) and Nov 17 (1) this week; Nov 14 (2) last week.
    guarantors = [statement_guarantor(a, f"S-{n}", mobile="", balance="100.00") for n in range(5)]
    for batch_id, day, chosen in (("w46", 14, guarantors[:2]), ("w47a", 16, guarantors[2:4]),
                                  ("w47b", 17, guarantors[4:])):
        with time_machine.travel(ct(day), tick=False):
            receive(a, batch_id, [item(g, statement_date=f"2026-11-{day}", due_date="2026-12-10")
                                  for g in chosen])
    settings.TWILIO_DEFAULT_FROM = ""
    return a


def dashboard(client):
    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    items = {i.key: i for s in response.context["sections"] for i in s.items}
    return items, response.content.decode()


def test_the_worklist_counts_what_the_office_has_to_do_today(client_of, world, office):
    items, body = dashboard(client_of(world.staff_a))
    assert {key: (i.count, i.figure) for key, i in items.items()} == {
        "alerts-recent": (2, ""), "approvals-open": (2, ""), "errors": (3, ""),
        "payments-today": (1, "$40.00"), "payments-week": (2, "$100.00"), "statements-week": (3, ""),
        **NO_REQUEST_WORK}
    assert items["alerts-recent"].note == "1 payment plan activated, 1 declined application"
    assert items["statements-week"].note == "in 2 batches since Monday"
    assert 'data-testid="errors-figure">3<' in body and 'data-testid="payments-week-figure">$100.00<' in body
    assert 'data-testid="all-clear"' not in body
    assert 'data-section="setup"' not in body and 'data-testid="setup-clear"' not in body  # staff


def test_each_item_opens_the_screen_that_lists_what_it_counts(client_of, world, office):
    client = client_of(world.staff_a)
    items, _ = dashboard(client)

    def follow(key):
        with time_machine.travel(NOW, tick=False):
            response = client.get(items[key].url)
        assert response.status_code == 200
        return response.context

    assert [a.external_id for a in follow("alerts-recent")["page"]] == ["app-6", "app-5"]
    assert [a.external_id for a in follow("approvals-open")["page"]] == ["app-2", "app-3"]
    assert len(follow("errors")["page"].rows) == 3
    today, week = follow("payments-today")["totals"], follow("payments-week")["totals"]
    assert (today.paid_count, str(today.received)) == (1, "40.00")
    assert (week.paid_count, str(week.received), str(week.refunded)) == (2, "100.00", "10.00")
    assert items["payments-week"].url == "/payments/received/?date_from=2026-11-16&date_to=2026-11-18"
    batches = follow("statements-week")["batches"]
    assert [b.batch_id for b in batches] == ["w47b", "w47a"]
    assert sum(b.accepted for b in batches) == items["statements-week"].count


def test_admins_see_what_keeps_outreach_from_working(client_of, world, office, settings):
    settings.PAYMENTS_GATEWAY = "stripe"
    profile_create(practice=office, actor=world.admin_ab, name="Gentle reminders")
    items, body = dashboard(client_of(world.admin_ab, office="lakeside"))
    setup = {key: i for key, i in items.items() if i.section == "setup"}
    assert set(setup) == {"setup-proofs", "setup-sender", "setup-stripe"}
    assert (setup["setup-proofs"].count, setup["setup-proofs"].note) == (1, "Gentle reminders")
    assert setup["setup-proofs"].url.startswith("/statements/profiles/")
    assert setup["setup-sender"].note.startswith("Balance notifications:")
    assert setup["setup-stripe"].url == reverse("payment_settings")
    assert body.index('data-section="todo"') < body.index('data-section="setup"')
    # Each goes away once fixed.
    from notifications.models import MessagingSettings
    from payments.models import PaymentSettings

    MessagingSettings.objects.create(practice=office, twilio_messaging_service_sid="MG" + "0" * 32)
    PaymentSettings.objects.update_or_create(practice=office,
                                             defaults={"stripe_account_id": "acct_1Lakeside"})
    office.addon_voice = True  # calls need a from-number: a messaging service sends texts only
    office.save(update_fields=["addon_voice"])
    items, _ = dashboard(client_of(world.admin_ab, office="lakeside"))
    assert {k for k, i in items.items() if i.section == "setup"} == {"setup-proofs", "setup-sender"}
    assert items["setup-sender"].note.startswith("Voice messages:")


def test_another_office_sees_only_its_own_rows(client_of, world, office, settings):
    settings.TWILIO_DEFAULT_FROM = "+15005550006"
    items, body = dashboard(client_of(world.admin_ab, office="hillcrest"))
    assert {key: (i.count, i.figure) for key, i in items.items()} == {
        "alerts-recent": (1, ""), "approvals-open": (1, ""), "errors": (1, ""),
        "payments-today": (1, "$300.00"), "payments-week": (1, "$300.00"), "statements-week": (0, ""),
        **NO_REQUEST_WORK}
    assert 'data-testid="setup-clear"' in body  # B's admin: nothing missing (the default sender serves)


def test_an_office_with_nothing_to_do_says_so(client_of, world):
    items, body = dashboard(client_of(world.staff_c))
    assert all(i.count == 0 for i in items.values())
    assert 'data-testid="all-clear"' in body and "Nothing needs you right now." in body
    assert "Other Town Ortho" in body and "Lakeside" not in body
    assert 'data-testid="payments-today-figure">$0.00<' in body


def test_errors_are_counted_up_to_a_limit(world, office):
    assert errors_to_manage(practice=office) == 3
    assert errors_to_manage(practice=office, cap=2) == 3  # 2 and more: shown as "2+"
    assert errors_to_manage(practice=office, cap=1) == 2


def test_the_applications_and_batch_filters_refuse_bad_values_by_name(client_of, world):
    client = client_of(world.staff_a)
    response = client.get(reverse("payments"), {"state": "approved\x00", "alerted": "99y"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"state", "alerted"}
    response = client.get(reverse("statements"), {"since": "9999-12-31"})
    assert response.status_code == 200 and "Enter a date between 2000 and 2999." in response.content.decode()


def test_the_week_starts_on_monday_in_the_office_time_zone(client_of, world, office):
    """Sunday 23:00 in Chicago is Monday in UTC: that $500 is last week's, the $60 of Monday
    09:00 this week's."""
    with time_machine.travel(ct(16, 0, 30), tick=False):
        response = client_of(world.staff_a).get(reverse("dashboard"))
    items = {i.key: i for s in response.context["sections"] for i in s.items}
    assert (items["payments-week"].count, items["payments-week"].figure) == (1, "$60.00")
    assert items["payments-week"].url.endswith("date_from=2026-11-16&date_to=2026-11-16")
