"""Dashboard and recovery analytics benchmark: an office with 1,000,000 notifications and 50,000
QuickPay payments over a year, on PostgreSQL.

    .venv/bin/python bench/analytics.py [--notifications 1000000] [--payments 50000] [--runs 15]

Starts its own PostgreSQL and Redis (bin/services) unless DATABASE_URL and REDIS_URL are set.
Loads the year with set-based SQL (guarantors, notifications of every kind, channel and status,
the QuickPay links their emails and texts carried, page openings, payments, opt-outs, payment-plan
applications and alerts, weekly statement batches, today's bulk payment-request list), plus a
second office of 5% of that size for "all my offices". Then prints, each beside a plain
`SELECT count(*)` of the notifications in the same run:
- the dashboard's server time (goal: p50 under 100 ms);
- the analytics page's server time for the last 30 days, the last year, and the last year of
  both offices (goal: p50 under 300 ms), and a CSV export;
- each page's SQL statements with PostgreSQL's plan: their number, the slowest, and any
  sequential scan of a large table (there should be none).
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from benchkit import services_start, services_stop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LARGE_TABLES = ("notifications_notification", "payments_quickpaylink", "payments_payment",
                "payments_quickpayopen", "patients_patient", "notifications_notificationcount")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- the year's data ----------------------------------------------------------------------------

def load_office(cursor, practice_id: int, *, notifications: int, payments: int, prefix: str) -> None:
    """One office's year, newest rows last: created_at runs back a year from now."""
    guarantors = max(1000, notifications // 10)
    step = 365 * 86400 / notifications  # seconds between notifications
    log(f"{prefix}: {guarantors:,} guarantors")
    cursor.execute(
        """
        INSERT INTO patients_patient (practice_id, external_id, first_name, last_name, email,
            mobile_phone, home_phone, time_zone, consent_email, consent_sms, consent_voice, paperless,
            do_not_recall, created_at, updated_at)
        SELECT %s, %s || '-' || g, 'Pat', 'Guarantor ' || g, 'g' || g || '@example.test',
               '+1555' || lpad(g::text, 7, '0'), '', '', true, true, true, false, false, now(), now()
        FROM generate_series(1, %s) AS g
        """, [practice_id, prefix, guarantors])
    cursor.execute("UPDATE patients_patient SET guarantor_id = id WHERE practice_id = %s", [practice_id])
    cursor.execute("SELECT min(id) FROM patients_patient WHERE practice_id = %s", [practice_id])
    first_patient = cursor.fetchone()[0]
    log(f"{prefix}: {notifications:,} notifications")
    # kind: 70% statements, 15% payment requests, 5% on-demand, 5% receipts, 5% staff alerts;
    # status: 70% delivered, 10% sent, 6% errors (half archived), 5% will not send, 3% cancelled,
    # the newest 5% of rows partly still queued.
    cursor.execute(
        """
        INSERT INTO notifications_notification (
            practice_id, recipient_kind, recipient_id, recipient_name, recipient_time_zone, consent,
            channel, address, kind, reason, addon, subject, body, html_body, template_name,
            template_version, idempotency_key, send_at, first_due_at, status, reason_code, attempts,
            sender, provider_message_id, last_error, archived, created_at, updated_at, sent_at, tag)
        SELECT %(practice)s, 'patient', %(first)s + g %% %(guarantors)s,
               'Pat Guarantor ' || g %% %(guarantors)s, '', true,
               c.channel, CASE WHEN c.channel = 'email' THEN 'g' || g %% %(guarantors)s || '@example.test'
                               ELSE '+1555' || lpad((g %% %(guarantors)s)::text, 7, '0') END,
               k.kind, '', '', '', 'Bench Dental: a balance.', '', 'bench', '1',
               %(prefix)s || ':' || g, t.at, t.at, s.status, '', 1, '', '', '',
               s.status IN ('undeliverable_permanent', 'undeliverable_retry', 'delivery_error',
                            'queueing_error') AND g %% 2 = 0,
               t.at, t.at,
               CASE WHEN s.status IN ('sent', 'delivered', 'undeliverable_permanent',
                                      'undeliverable_retry', 'delivery_error') THEN t.at END, ''
        FROM generate_series(1, %(n)s) AS g
        CROSS JOIN LATERAL (SELECT now() - ((%(n)s - g) * %(step)s) * interval '1 second' AS at) t
        CROSS JOIN LATERAL (SELECT CASE WHEN g %% 20 < 14 THEN 'balance_notification'
                                        WHEN g %% 20 < 17 THEN 'payment_request'
                                        WHEN g %% 20 = 17 THEN 'balance_on_demand'
                                        WHEN g %% 20 = 18 THEN 'payment_receipt'
                                        ELSE 'application_alert' END AS kind) k
        CROSS JOIN LATERAL (SELECT CASE WHEN k.kind IN ('payment_receipt', 'application_alert') THEN 'email'
                                        WHEN g %% 7 < 3 THEN 'email' WHEN g %% 7 < 6 THEN 'sms'
                                        ELSE 'voice' END AS channel) c
        CROSS JOIN LATERAL (SELECT CASE WHEN g %% 100 < 70 THEN 'delivered' WHEN g %% 100 < 80 THEN 'sent'
                                        WHEN g %% 100 < 84 THEN 'undeliverable_permanent'
                                        WHEN g %% 100 = 84 THEN 'undeliverable_retry'
                                        WHEN g %% 100 = 85 THEN 'delivery_error'
                                        WHEN g %% 100 < 91 THEN 'will_not_send'
                                        WHEN g %% 100 < 94 THEN 'cancelled'
                                        WHEN g %% 100 = 94 THEN 'queueing_error'
                                        WHEN g > %(n)s * 0.95 THEN 'queued' ELSE 'delivered' END AS status) s
        """, {"practice": practice_id, "first": first_patient, "guarantors": guarantors, "prefix": prefix,
              "n": notifications, "step": step})
    log(f"{prefix}: QuickPay links of the emails and texts, openings, payments")
    cursor.execute(
        """
        INSERT INTO payments_quickpaylink (practice_id, guarantor_id, token_hash, notification_key, source,
            channel, dunning_level, created_at, expires_at, dob_failures)
        SELECT practice_id, recipient_id, md5(idempotency_key) || md5(idempotency_key || 'x'),
               idempotency_key, CASE kind WHEN 'balance_notification' THEN 'statement'
                                         WHEN 'balance_on_demand' THEN 'on_demand' ELSE kind END,
               channel, CASE WHEN kind = 'balance_notification' THEN 1 + id %% 3 END,
               created_at, created_at + interval '60 days', 0
        FROM notifications_notification
        WHERE practice_id = %s AND kind IN ('balance_notification', 'payment_request', 'balance_on_demand')
          AND channel IN ('email', 'sms')
        """, [practice_id])
    cursor.execute("SELECT count(*) FROM payments_quickpaylink WHERE practice_id = %s", [practice_id])
    links = cursor.fetchone()[0]
    every = max(1, links // payments)  # one link in `every` is paid; one in 5 of the rest opened
    cursor.execute(
        """
        UPDATE payments_quickpaylink SET
            first_opened_at = created_at + (id %% 40) * interval '1 hour',
            paid_at = CASE WHEN id %% %s = 0 THEN created_at + (id %% 40 + 1) * interval '1 hour' END
        WHERE practice_id = %s AND (id %% 5 = 0 OR id %% %s = 0) AND created_at < now() - interval '2 days'
        """, [every, practice_id, every])
    cursor.execute(
        """
        INSERT INTO payments_quickpayopen (link_id, opened_at)
        SELECT id, first_opened_at FROM payments_quickpaylink
        WHERE practice_id = %s AND first_opened_at IS NOT NULL
        """, [practice_id])
    cursor.execute(
        """
        INSERT INTO payments_payment (practice_id, guarantor_id, link_id, attempt, amount, amount_refunded,
            currency, status, gateway, stripe_account_id, checkout_url, payment_intent_id, charge_id,
            payer_email, failure_reason, balance_effect, created_at, updated_at, succeeded_at,
            first_message_at, source, channel, dunning_level, follow_up)
        SELECT practice_id, guarantor_id, id, 'bench-' || id, 20 + id %% 300,
               CASE WHEN id %% 50 = 0 THEN 10 ELSE 0 END, 'usd',
               CASE WHEN id %% 50 = 0 THEN 'partially_refunded' ELSE 'succeeded' END, 'sandbox', '', '',
               'pi_' || id, '', '', '', '{}', paid_at, paid_at, paid_at, created_at, source, channel,
               dunning_level, source = 'payment_request' AND id %% 3 > 0
        FROM payments_quickpaylink WHERE practice_id = %s AND paid_at IS NOT NULL
        """, [practice_id])
    cursor.execute(
        """
        INSERT INTO notifications_optout (practice_id, channel, address, source, created_at)
        SELECT %s, CASE WHEN g %% 3 = 0 THEN 'email' ELSE 'sms' END, 'optout-' || g, 'stop',
               now() - (g %% 365) * interval '1 day' - (g %% 24) * interval '1 hour'
        FROM generate_series(1, %s) AS g
        """, [practice_id, max(100, notifications // 200)])
    log(f"{prefix}: payment-plan applications and their alerts")
    cursor.execute(
        """
        INSERT INTO payments_application (practice_id, external_id, patient_external_id, patient_first_name,
            patient_last_name, state, state_at, created_at, updated_at)
        SELECT %s, 'app-' || g, 'p-' || g, 'Maria', 'Applicant ' || g,
               (ARRAY['started', 'completed', 'declined', 'approved', 'activated',
                      'prequalified'])[1 + g %% 6],
               now() - (g %% 365) * interval '1 day', now(), now()
        FROM generate_series(1, %s) AS g
        """, [practice_id, max(100, notifications // 200)])
    cursor.execute(
        """
        INSERT INTO payments_alerttimer (practice_id, application_id, alert, due_at, status, fired_at)
        SELECT practice_id, id, 'declined', state_at, 'fired', state_at
        FROM payments_application WHERE practice_id = %s
        """, [practice_id])


def load_requests(cursor, practice_id: int, *, size: int) -> None:
    """Today's bulk payment-request list of `size` guarantors with balances: 10% already asked (an
    open campaign), 1% undeliverable, 2% snoozed until today (pending again) and 2% for a month."""
    log(f"requests: today's list of {size:,}")
    cursor.execute(
        """
        CREATE TEMPORARY TABLE bench_listed AS
        SELECT id, row_number() OVER (ORDER BY id) AS n FROM patients_patient
        WHERE practice_id = %s ORDER BY id LIMIT %s
        """, [practice_id, size])
    cursor.execute(
        """
        INSERT INTO patients_balance (practice_id, guarantor_id, total, amount_due, aging_current,
            aging_31_60, aging_61_90, aging_91_120, aging_over_120, in_collections, on_payment_plan,
            outstanding_claims, as_of, updated_at)
        SELECT %s, id, t.total, t.total, 0, 0, 0, 0, t.total, false, false, 0, now(), now()
        FROM bench_listed CROSS JOIN LATERAL (SELECT 100 + n %% 900 AS total) t
        """, [practice_id])
    cursor.execute(
        """
        INSERT INTO payments_paymentrequestcampaign (practice_id, guarantor_id, started_at, started_on,
            state, state_at, channel, address, attempt, reminders, fixed_number, undeliverable_reason,
            undeliverable_detail, request_at, ends_at)
        SELECT %s, id, now() - interval '2 days', CURRENT_DATE - 2,
               CASE WHEN n %% 100 = 10 THEN 'undeliverable' ELSE 'active' END, now(), 'sms', '', 1, 2, false,
               CASE WHEN n %% 100 = 10 THEN 'unreachable' ELSE '' END, '', now() - interval '2 days',
               CASE WHEN n %% 100 = 10 THEN NULL ELSE now() + interval '6 days' END
        FROM bench_listed WHERE n %% 100 < 11
        """, [practice_id])
    cursor.execute(
        """
        INSERT INTO payments_snooze (practice_id, guarantor_id, until, reason, note, created_at, ended_reason)
        SELECT %s, id, CASE WHEN n %% 100 < 13 THEN CURRENT_DATE ELSE CURRENT_DATE + 30 END, 'hsa_card', '',
               now(), ''
        FROM bench_listed WHERE n %% 100 BETWEEN 11 AND 14
        """, [practice_id])
    cursor.execute(
        """
        INSERT INTO payments_requestlist (practice_id, day, due_at, made_at, size)
        VALUES (%s, CURRENT_DATE, now(), now(), %s) RETURNING id
        """, [practice_id, size])
    list_id = cursor.fetchone()[0]
    cursor.execute("INSERT INTO payments_requestlistentry (request_list_id, guarantor_id, position) "
                   "SELECT %s, id, n FROM bench_listed", [list_id])
    cursor.execute("DROP TABLE bench_listed")


def load(opts) -> tuple:
    from django.db import connection
    from django.utils import timezone

    from practices.models import Membership, Practice, Role, User
    from statements.models import StatementBatch
    from statements.profiles import standard_profile_create

    if opts.reuse and Practice.objects.filter(slug="bench").exists():
        log("reusing the data of an earlier run")
        return (Practice.objects.get(slug="bench"), Practice.objects.get(slug="bench-north"),
                User.objects.get(email="bench@example.test"))
    main = Practice.objects.create(name="Bench Dental", slug="bench", time_zone="America/Chicago",
                                   addon_balance_notifications=True, addon_online_payments=True)
    north = Practice.objects.create(name="Bench North", slug="bench-north", time_zone="America/Denver",
                                    addon_balance_notifications=True, addon_online_payments=True)
    user = User.objects.create(email="bench@example.test")
    for practice in (main, north):
        Membership.objects.create(user=user, practice=practice, role=Role.ADMIN)
        profile = standard_profile_create(practice)
        StatementBatch.objects.bulk_create(
            StatementBatch(practice=practice, batch_id=f"week-{week}", profile=profile, source="api",
                           status="queued", received_at=timezone.now() - timedelta(days=7 * week),
                           content_hash=f"{week}", received=2000, accepted=2000)
            for week in range(52))
    with connection.cursor() as cursor:
        load_office(cursor, main.pk, notifications=opts.notifications, payments=opts.payments, prefix="main")
        load_office(cursor, north.pk, notifications=opts.notifications // 20, payments=opts.payments // 20,
                    prefix="north")
        load_requests(cursor, main.pk, size=opts.request_list)
    from notifications.counts import notification_counts_compact

    t = time.perf_counter()
    folded = notification_counts_compact()["folded"]
    log(f"counts: {folded:,} changes folded in {time.perf_counter() - t:.1f} s; VACUUM ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return main, north, user


# -- timing -------------------------------------------------------------------------------------

def timed(request, runs: int) -> list[float]:
    times = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        response = request()
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, response.status_code
    return times[1:]  # the first request warms caches and the connection


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(label: str, times: list[float], goal: float | None = None) -> None:
    p50 = statistics.median(times)
    verdict = "" if goal is None else f"  goal p50 < {goal:.0f} ms: {'met' if p50 < goal else 'NOT MET'}"
    print(f"{label}: p50 {p50:.1f} ms, p95 {p95(times):.1f} ms server time{verdict}")


def plans(request, every: bool = False) -> None:
    """Each statement the request runs, explained (and run) by PostgreSQL."""
    from django.db import connection

    statements = []

    def capture(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        request()
    slowest, scans = (0.0, ""), []
    with connection.cursor() as cursor:
        for sql, params in statements:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT TEXT) {sql}", params)
            lines = [row[0] for row in cursor.fetchall()]
            ms = float(lines[-1].split(":")[1].split()[0])
            if every:
                print(f"    {ms:7.1f} ms  {' / '.join(line.strip() for line in lines[:2])[:160]}")
            if ms > slowest[0]:
                slowest = (ms, " / ".join(line.strip() for line in lines[:3])[:300])
            scans += [line.strip() for line in lines
                      if "Seq Scan" in line and any(table in line for table in LARGE_TABLES)]
    print(f"  {len(statements)} statements; slowest {slowest[0]:.1f} ms: {slowest[1]}")
    print(f"  sequential scans of large tables: {scans or 'none'}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--notifications", type=int, default=1_000_000)
    parser.add_argument("--payments", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--request-list", type=int, default=5000, help="guarantors on today's request list")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the data of an earlier run on the same DATABASE_URL")
    parser.add_argument("--statements", action="store_true", help="print every statement's plan time")
    opts = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    started_services = services_start(workdir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.urls import reverse

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        main_office, _north, user = load(opts)
        log(f"loaded in {time.perf_counter() - started:.0f} s")
        from notifications.models import Notification
        from payments.models import Payment, QuickPayLink

        print(f"data: {Notification.objects.count():,} notifications, {QuickPayLink.objects.count():,} "
              f"QuickPay links, {Payment.objects.count():,} payments "
              f"({Notification.objects.filter(practice=main_office).count():,} notifications and "
              f"{Payment.objects.filter(practice=main_office).count():,} payments in the office measured)")

        def count_all():
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM notifications_notification")
                return cursor.fetchone()

        count_times = []
        for _ in range(opts.runs + 1):
            t = time.perf_counter()
            count_all()
            count_times.append((time.perf_counter() - t) * 1000)
        report("plain SELECT count(*) FROM notifications_notification (for comparison)", count_times[1:])

        client = Client()
        client.force_login(user)
        client.post(reverse("office_switch"), {"practice": main_office.slug})

        def ok(url):
            return lambda: client.get(url)

        dashboard = reverse("dashboard")
        report("dashboard", timed(ok(dashboard), opts.runs), goal=100)
        plans(ok(dashboard), opts.statements)
        analytics = reverse("payment_analytics")
        from django.utils import timezone

        today = timezone.localdate(timezone.now(), main_office.tz)
        year = f"?date_from={(today - timedelta(days=365)).isoformat()}&date_to={today.isoformat()}"
        for label, query in [("analytics, last 30 days (the default)", ""),
                             ("analytics, the last year by month", year),
                             ("analytics, the last year, both offices", year + "&offices=all")]:
            report(label, timed(ok(analytics + query), max(5, opts.runs // 2)), goal=300)
            plans(ok(analytics + query), opts.statements)
        export = reverse("payment_analytics_csv") + year + "&table=funnel"
        report("CSV export of the year's funnel", timed(ok(export), max(5, opts.runs // 2)))
        report("a page that reads nothing (sign-in and middleware, for comparison)",
               timed(ok(reverse("messaging_settings")), opts.runs))
        report("plain SELECT count(*) again, after the pages", [
            (lambda t: (count_all(), (time.perf_counter() - t) * 1000)[1])(time.perf_counter())
            for _ in range(opts.runs)])
    finally:
        if started_services:
            services_stop(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
