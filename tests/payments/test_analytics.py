"""Recovery analytics (Payments -> Analytics) against an outreach history whose every figure is
worked out by hand below: collected by source and channel, the funnel, the time to pay, delivery
health, all offices together, isolation, the CSV exports, empty states and hostile ranges."""

import csv
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from notifications.counts import notification_counts_compact
from notifications.models import OptOut
from notifications.services import opt_out_record
from payments.models import QuickPayOpen
from tests.conftest import ROOT

from .conftest import make_guarantor
from .outreach import fail, link, message, open_page, pay, refund

CHICAGO, DENVER = ZoneInfo("America/Chicago"), ZoneInfo("America/Denver")
NOW = datetime(2026, 11, 18, 15, 0, tzinfo=ZoneInfo("UTC"))  # Wednesday, 09:00 in Chicago
RANGE = {"date_from": "2026-11-01", "date_to": "2026-11-18"}


def ct(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CHICAGO)


@dataclass
class History:
    a_payments: dict


@pytest.fixture
def history(world) -> History:
    """Office A (Chicago), B (Denver, the same group) and C (another practice), with online
    payments on. Each line says what it adds to A's figures for November 1 to 18."""
    for practice in (world.practice_a, world.practice_b, world.practice_c):
        practice.addon_online_payments = True
        practice.save(update_fields=["addon_online_payments"])
    a, b, c = world.practice_a, world.practice_b, world.practice_c
    ga = make_guarantor(a, total="10000.00", due="10000.00", over_120="0.00")
    gb = make_guarantor(b, total="10000.00", due="10000.00", over_120="0.00")
    gc = make_guarantor(c, total="10000.00", due="10000.00", over_120="0.00")
    kind = "balance_notification"

    # Statement messages. m1: email delivered Nov 2, its link paid $100 on Nov 3 (26 hours later).
    message(a, ga, "s:1", kind=kind, channel="email", status="delivered", at=ct(2))
    l1 = link(a, ga, "s:1", source="statement", channel="email", level=1, at=ct(2))
    p1 = pay(l1, "100.00", ct(3, 12))
    # m2: text delivered Nov 2, its link opened twice (one opening counts), never paid; a checkout
    # through it failed (not collected).
    message(a, ga, "s:2", kind=kind, channel="sms", status="delivered", at=ct(2))
    l2 = link(a, ga, "s:2", source="statement", channel="sms", level=1, at=ct(2))
    open_page(l2, ct(2, 12))
    open_page(l2, ct(4, 12))
    fail(l2, "80.00", ct(4, 13))
    # m3: text undeliverable Nov 5, link never opened; m4: call delivered Nov 5 (calls carry no link).
    message(a, ga, "s:3", kind=kind, channel="sms", status="undeliverable_permanent", at=ct(5))
    link(a, ga, "s:3", source="statement", channel="sms", level=2, at=ct(5))
    message(a, ga, "s:4", kind=kind, channel="voice", status="delivered", at=ct(5))
    notification_counts_compact()  # some counts folded into the counters, the rest still pending
    # m5: email sent Nov 10 (no delivery report), paid $50 on Nov 12 with a receipt queued to the
    # payer (a receipt is no outreach), $20 refunded on Nov 13.
    message(a, ga, "s:5", kind=kind, channel="email", status="sent", at=ct(10))
    l5 = link(a, ga, "s:5", source="statement", channel="email", level=2, at=ct(10))
    p5 = pay(l5, "50.00", ct(12), email="payer@example.test")
    refund(p5, "20.00", ct(13))
    # m6: an email that would not send (opted out): queued, never sent.
    message(a, ga, "s:6", kind=kind, channel="email", status="will_not_send", at=ct(10),
            reason_code="opted_out")
    # m7: queued Oct 30, before the range: its payment of $70 on Nov 4 is collected in the range,
    # but the message is not in the range's funnel. 5 days from message to payment.
    message(a, ga, "s:7", kind=kind, channel="email", status="delivered", at=ct(30, month=10))
    l7 = link(a, ga, "s:7", source="statement", channel="email", level=1, at=ct(30, month=10))
    p7 = pay(l7, "70.00", ct(4))
    # A payment request (Nov 12, paid $30 8 hours later) and its first follow-up (Nov 14, paid
    # $40 a day later).
    message(a, ga, "payreq:1:1:0", kind="payment_request", channel="sms", status="delivered", at=ct(12))
    r1 = link(a, ga, "payreq:1:1:0", source="payment_request", channel="sms", at=ct(12))
    pr1 = pay(r1, "30.00", ct(12, 18))
    message(a, ga, "payreq:1:1:1", kind="payment_request", channel="sms", status="delivered", at=ct(14))
    r2 = link(a, ga, "payreq:1:1:1", source="payment_request", channel="sms", at=ct(14))
    pr2 = pay(r2, "40.00", ct(15))
    # An on-demand email (Nov 16, paid $25 an hour later) and a front-desk QR code (Nov 17, $10).
    message(a, ga, "od:1", kind="balance_on_demand", channel="email", status="delivered", at=ct(16))
    o1 = link(a, ga, "od:1", source="on_demand", channel="email", at=ct(16))
    po1 = pay(o1, "25.00", ct(16, 11))
    q1 = link(a, ga, "front-desk:1", source="manual", channel="qr", at=ct(17))
    pq1 = pay(q1, "10.00", ct(17, 11))
    # Opt-outs: a text STOP on Nov 5 and an email unsubscribe on Nov 10.
    for channel, address, day in (("sms", "+13125550142", 5), ("email", "payer@example.test", 10)):
        with time_machine.travel(ct(day, 15), tick=False):
            opt_out_record(practice=a, channel=channel, address=address, source="stop")
    # After the range: a payment on Nov 19 is in no figure of November 1 to 18.
    message(a, ga, "s:8", kind=kind, channel="email", status="delivered", at=ct(19))
    pay(link(a, ga, "s:8", source="statement", channel="email", level=3, at=ct(19)), "999.00", ct(19, 11))

    # Office B: a text delivered Nov 3 (Denver), its link paid $200 on Nov 4.
    b_at = datetime(2026, 11, 3, 10, tzinfo=DENVER)
    message(b, gb, "b:1", kind=kind, channel="sms", status="delivered", at=b_at)
    pay(link(b, gb, "b:1", source="statement", channel="sms", level=1, at=b_at), "200.00",
        datetime(2026, 11, 4, 10, tzinfo=DENVER))
    # Practice C: the same kinds of rows, never in A's or B's figures.
    message(c, gc, "c:1", kind=kind, channel="email", status="delivered", at=ct(3))
    pay(link(c, gc, "c:1", source="statement", channel="email", level=1, at=ct(3)), "999.00", ct(4))
    with time_machine.travel(ct(5, 16), tick=False):
        opt_out_record(practice=c, channel="sms", address="+13125550199", source="stop")
    return History({"p1": p1, "p5": p5, "p7": p7, "pr1": pr1, "pr2": pr2, "po1": po1, "pq1": pq1})


def page(client, **query):
    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse("payment_analytics"), {**RANGE, **query})
    assert response.status_code == 200
    return {t.key: t for t in response.context["tables"]}, response


def rows(table) -> list[list]:
    return [[str(v) if isinstance(v, Decimal) else v for v in row] for row in table.rows]


def test_collected_by_source_and_by_channel(client_of, world, history):
    tables, response = page(client_of(world.staff_a))
    assert rows(tables["sources"]) == [
        # source, payments, received, refunded, collected
        ["Statement, level 1", 2, "170.00", "0.00", "170.00"],  # $100 (m1) + $70 (m7)
        ["Statement, level 2", 1, "50.00", "20.00", "30.00"],  # m5, refunded $20
        ["On-demand", 1, "25.00", "0.00", "25.00"],
        ["Payment request", 1, "30.00", "0.00", "30.00"],
        ["Payment request follow-ups", 1, "40.00", "0.00", "40.00"],
        ["Front desk (QR code)", 1, "10.00", "0.00", "10.00"],
    ]
    assert [str(v) for v in tables["sources"].foot] == ["Total", "7", "325.00", "20.00", "305.00"]
    assert rows(tables["channels"]) == [
        ["Email", 4, "245.00", "20.00", "225.00"],  # m1, m5, m7, on-demand
        ["Text", 2, "70.00", "0.00", "70.00"],  # the request and its follow-up
        ["QR code", 1, "10.00", "0.00", "10.00"],
    ]
    # The Payments received screen says the same for the same days.
    totals = client_of(world.staff_a).get(reverse("payment_list"), RANGE).context["totals"]
    assert (totals.paid_count, totals.received, totals.refunded) == (7, Decimal("325.00"), Decimal("20.00"))
    # The chart draws the table's own numbers.
    chart = json.loads(response.content.decode().split('id="chart-sources" type="application/json">')[1]
                       .split("</script>")[0])
    assert chart["datasets"][0]["data"] == [170.0, 30.0, 25.0, 30.0, 40.0, 10.0]


def test_the_funnel_follows_the_messages_queued_in_the_range(client_of, world, history):
    tables, _ = page(client_of(world.staff_a))
    assert rows(tables["funnel"]) == [
        # source, channel, sent, delivered, opened, paid, delivered %, opened %, paid %
        ["Statement", "Email", 2, 1, 2, 2, "50.0", "100.0", "100.0"],  # m1 and m5 (sent) paid; m6 never sent
        ["Statement", "Text", 2, 1, 1, 0, "50.0", "50.0", "0.0"],  # m2 opened (twice); m3 undeliverable
        ["Statement", "Voice", 1, 1, 0, 0, "100.0", "0.0", "0.0"],
        ["On-demand", "Email", 1, 1, 1, 1, "100.0", "100.0", "100.0"],
        ["Payment request", "Text", 2, 2, 2, 2, "100.0", "100.0", "100.0"],
        ["Front desk (QR code)", "QR code", 0, 0, 1, 1, None, None, None],
    ]


def test_time_to_pay_median_and_distribution(client_of, world, history):
    tables, _ = page(client_of(world.staff_a))
    # From each paid message's send: 1 h (on-demand), 8 h (request), 24 h (follow-up), 26 h (m1),
    # 48 h (m5), 120 h (m7); the QR payment has no message. Median of six: (24 + 26) / 2 = 25 h.
    assert rows(tables["time_to_pay"]) == [
        ["Under a day", 2, "33.3"], ["1 to 2 days", 3, "50.0"], ["3 to 6 days", 1, "16.7"],
        ["1 to 2 weeks", 0, "0.0"], ["2 to 4 weeks", 0, "0.0"], ["4 to 8 weeks", 0, "0.0"],
        ["8 weeks or more", 0, "0.0"]]
    # 25 hours, in days to a tenth; six payments timed; the QR code's payment had no message.
    assert [(label, str(v)) for label, v in tables["time_to_pay"].summary] == [
        ("Median (days)", "1.0"), ("Payments timed", "6"), ("Payments with no message (front desk)", "1")]
    assert history.a_payments["pr2"].first_message_at == ct(14)


def test_delivery_health_by_day_and_channel(client_of, world, history):
    tables, _ = page(client_of(world.staff_a))
    assert rows(tables["delivery"]) == [
        # day, channel, sent, delivered, undeliverable, opted out, delivered %
        ["2026-11-02", "Email", 1, 1, 0, 0, "100.0"],
        ["2026-11-02", "Text", 1, 1, 0, 0, "100.0"],
        ["2026-11-05", "Text", 1, 0, 1, 1, "0.0"],  # m3, and the STOP
        ["2026-11-05", "Voice", 1, 1, 0, 0, "100.0"],
        ["2026-11-10", "Email", 1, 0, 0, 1, "0.0"],  # m5 (m6 never sent), and the unsubscribe
        ["2026-11-12", "Text", 1, 1, 0, 0, "100.0"],
        ["2026-11-14", "Text", 1, 1, 0, 0, "100.0"],
        ["2026-11-16", "Email", 1, 1, 0, 0, "100.0"],
    ]
    # Longer ranges go by week (Monday to Sunday), then by month.
    weekly, _ = page(client_of(world.staff_a), date_from="2026-10-19", date_to="2026-11-22")
    assert [r[:3] for r in rows(weekly["delivery"])] == [
        ["2026-10-26 to 2026-11-01", "Email", 1],  # m7, Oct 30
        ["2026-11-02 to 2026-11-08", "Email", 1], ["2026-11-02 to 2026-11-08", "Text", 2],
        ["2026-11-02 to 2026-11-08", "Voice", 1],
        ["2026-11-09 to 2026-11-15", "Email", 1], ["2026-11-09 to 2026-11-15", "Text", 2],
        ["2026-11-16 to 2026-11-22", "Email", 2]]  # on-demand Nov 16, s:8 Nov 19
    monthly, _ = page(client_of(world.staff_a), date_from="2026-08-15", date_to="2026-11-30")
    assert [(r[0], r[1], r[2]) for r in rows(monthly["delivery"])] == [
        ("2026-10-01 to 2026-10-31", "Email", 1), ("2026-11-01 to 2026-11-30", "Email", 4),
        ("2026-11-01 to 2026-11-30", "Text", 4), ("2026-11-01 to 2026-11-30", "Voice", 1)]


def test_all_my_offices_adds_only_the_users_own_offices(client_of, world, history):
    tables, response = page(client_of(world.admin_ab, office="lakeside"), offices="all")
    # A's figures and B's $200.
    assert [str(v) for v in tables["sources"].foot] == ["Total", "8", "525.00", "20.00", "505.00"]
    assert rows(tables["sources"])[0] == ["Statement, level 1", 3, "370.00", "0.00", "370.00"]
    assert rows(tables["funnel"])[1] == ["Statement", "Text", 3, 2, 2, 1, "66.7", "66.7", "33.3"]
    body = response.content.decode()
    assert "Hillcrest Dental" in body and "Other Town" not in body
    # Staff of A only: "all my offices" is A alone; C's staff see C alone.
    only_a, _ = page(client_of(world.staff_a), offices="all")
    assert only_a["sources"].foot[1] == 7
    c_tables, c_response = page(client_of(world.staff_c))
    assert [str(v) for v in c_tables["sources"].foot] == ["Total", "1", "999.00", "0.00", "999.00"]
    assert rows(c_tables["delivery"]) == [["2026-11-03", "Email", 1, 1, 0, 0, "100.0"],
                                          ["2026-11-05", "Text", 0, 0, 0, 1, None]]
    assert "Lakeside" not in c_response.content.decode()
    # Office B alone, in its own days.
    b_tables, _ = page(client_of(world.admin_ab, office="hillcrest"))
    assert [str(v) for v in b_tables["sources"].foot] == ["Total", "1", "200.00", "0.00", "200.00"]


def test_each_table_downloads_as_csv(client_of, world, history):
    client = client_of(world.staff_a)
    with time_machine.travel(NOW, tick=False):
        response = client.get(reverse("payment_analytics_csv"), {**RANGE, "table": "sources"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="sources-lakeside-20261101-20261118.csv"' in response["Content-Disposition"]
    parsed = list(csv.reader(io.StringIO(response.content.decode())))
    assert parsed[0] == ["Source", "Payments", "Received", "Refunded", "Collected"]
    assert parsed[1] == ["Statement, level 1", "2", "170.00", "0.00", "170.00"]
    assert parsed[-1] == ["Total", "7", "325.00", "20.00", "305.00"]
    for name, header in (("channels", "Channel"), ("funnel", "Source"), ("time_to_pay", "Paid after"),
                         ("delivery", "Day")):
        with time_machine.travel(NOW, tick=False):
            body = client.get(reverse("payment_analytics_csv"), {**RANGE, "table": name}).content.decode()
        assert body.splitlines()[0].startswith(header), name
    with time_machine.travel(NOW, tick=False):
        funnel = client.get(reverse("payment_analytics_csv"), {**RANGE, "table": "funnel"}).content.decode()
    assert "Front desk (QR code),QR code,0,0,1,1,,," in funnel
    with time_machine.travel(NOW, tick=False):
        waits = client.get(reverse("payment_analytics_csv"), {**RANGE, "table": "time_to_pay"})
    waits = waits.content.decode()
    assert waits.splitlines()[-3:] == ["Median (days),1.0", "Payments timed,6",
                                       "Payments with no message (front desk),1"]


def test_the_page_links_each_csv_with_the_range_it_shows(client_of, world, history):
    _, response = page(client_of(world.staff_a))
    body = response.content.decode()
    for name in ("sources", "channels", "funnel", "time_to_pay", "delivery"):
        assert (f"/payments/analytics/export.csv?date_from=2026-11-01&amp;date_to=2026-11-18&amp;table={name}"
                in body)
    assert 'data-chart="chart-funnel"' in body and 'src="/static/vendor/chart-4.6.1.umd.min.js"' in body


def test_an_office_with_no_outreach_sees_empty_states_and_empty_csvs(client_of, world):
    tables, response = page(client_of(world.staff_a))
    assert all(not t.rows and t.chart is None for t in tables.values())
    body = response.content.decode()
    for key in tables:
        assert f'data-testid="empty-{key}"' in body
    assert "chart-4.6.1" in body  # the script is there, with nothing to draw
    with time_machine.travel(NOW, tick=False):
        empty = client_of(world.staff_a).get(reverse("payment_analytics_csv"), {**RANGE, "table": "sources"})
    assert empty.content.decode().splitlines() == ["Source,Payments,Received,Refunded,Collected",
                                                   "Total,0,0.00,0.00,0.00"]


def test_the_default_range_is_the_last_30_days_in_office_time(client_of, world):
    with time_machine.travel(datetime(2026, 11, 18, 3, 0, tzinfo=ZoneInfo("UTC")), tick=False):
        response = client_of(world.staff_a).get(reverse("payment_analytics"))
    scope = response.context["scope"]
    # 03:00 UTC is still November 17 in Chicago.
    assert (scope.date_from.isoformat(), scope.date_to.isoformat()) == ("2026-10-19", "2026-11-17")
    assert scope.grain == "day"


@pytest.mark.parametrize(("query", "field", "words"), [
    ({"date_from": "2026-11-18", "date_to": "2026-11-01"}, "date_to", "before the start date"),
    ({"date_from": "2025-01-01", "date_to": "2026-11-01"}, "date_to", "at most 366 days"),
    ({"date_from": "1999-12-31"}, "date_from", "from 2000-01-01"),
    ({"date_to": "9999-12-31"}, "date_to", "to 2999-12-31"),
    ({"date_from": "2026-13-01"}, "date_from", "valid date"),
    ({"date_from": "2026-11-01\x00"}, "date_from", "valid date"),
    ({"date_to": "9" * 5000}, "date_to", "valid date"),
    ({"offices": "everyone"}, "offices", "valid choice"),
    ({"date_from": "2026-02-29"}, "date_from", "valid date"),  # not a leap year
    ({"date_from": "2026-11-01T00:00:00+14:00"}, "date_from", "valid date"),
    ({"date_to": str(2**64)}, "date_to", "valid date"),
    ({"date_from": "2000-01-01", "date_to": "2001-01-01"}, "date_to", "at most 366 days"),  # 367
    ({"offices": "all\x00"}, "offices", "valid choice"),
])
def test_a_bad_range_is_named_and_shows_no_figures(client_of, world, query, field, words):
    client = client_of(world.staff_a)
    response = client.get(reverse("payment_analytics"), query)
    assert response.status_code == 200 and response.context["scope"] is None
    assert words in " ".join(response.context["form"].errors[field])
    export = client.get(reverse("payment_analytics_csv"), {**query, "table": "sources"})
    assert export.status_code == 400 and f"{field}:" in export.content.decode()


@pytest.mark.parametrize(("query", "shown"), [
    ({"date_from": "2024-02-29", "date_to": "2025-02-28"}, ("2024-02-29", "2025-02-28")),  # 366 days
    ({"date_from": "2000-01-01", "date_to": "2000-12-31"}, ("2000-01-01", "2000-12-31")),  # leap year
    ({"date_from": "2999-12-31"}, ("2999-12-31", "2999-12-31")),  # 30 days, cut at the last day
    ({"date_to": "2000-01-05"}, ("2000-01-01", "2000-01-05")),  # 30 days, cut at the first day
])
def test_ranges_at_the_calendar_edges_are_shown(client_of, world, query, shown):
    response = client_of(world.staff_a).get(reverse("payment_analytics"), query)
    assert response.status_code == 200 and not response.context["form"].errors
    scope = response.context["scope"]
    assert (scope.date_from.isoformat(), scope.date_to.isoformat()) == shown


@pytest.mark.parametrize("table", ["", "payments", "sources\x00", "../sources", str(2**64)])
def test_an_unknown_table_is_refused_naming_the_field(client_of, world, table):
    response = client_of(world.staff_a).get(reverse("payment_analytics_csv"), {"table": table})
    assert response.status_code == 400 and "table:" in response.content.decode()


def test_a_text_cell_a_spreadsheet_would_run_is_quoted(client_of, world):
    from payments.analytics.tables import Column, Table, table_csv

    table = Table("t", "T", "", [Column("Name", "text"), Column("Payments")], [["=HYPERLINK(1)", -3]], "")
    assert table_csv(table).splitlines()[1] == "'=HYPERLINK(1),-3"


def test_page_openings_record_the_link_and_time_only(client_of, world, history):
    opening = QuickPayOpen.objects.order_by("pk").first()
    assert {f.name for f in QuickPayOpen._meta.concrete_fields} == {"id", "link", "opened_at"}
    assert opening.opened_at is not None
    assert OptOut.objects.filter(practice=world.practice_a).count() == 2


def test_the_embedded_default_on_sqlite_computes_the_same_figures(tmp_path):
    """SQLite has no interval type and counts through its own triggers: the figures above, run
    again in the embedded default's settings."""
    if connection.vendor == "sqlite":
        pytest.skip("this is the run on SQLite")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.embedded", "VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore", __file__,
         "-k", "collected_by_source or time_to_pay or delivery_health"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "3 passed" in result.stdout
