"""Dispatch benchmark: 100,000 due notifications through Redis and Celery to a loopback fake of
Twilio's REST API, on PostgreSQL; then the claim time and the history page's server time with
1,000,000 rows of history.

    .venv/bin/python bench/dispatch.py [--count 100000] [--history 1000000] [--concurrency 2]

Starts its own PostgreSQL and Redis (bin/services) unless DATABASE_URL and REDIS_URL are set.
Prints:
- the plain-loop limit: the same number of provider calls made in a plain loop, one HTTP
  connection per process, as many processes as the worker has;
- messages/s through the engine (claim -> Celery chunk tasks -> contact policy -> rate bucket
  -> Twilio client -> fake), and its ratio to the limit;
- the time of one claim of 500 due rows with the history in the table, and of one run of the
  due-list sweep (waiting rows that lost their entry) over the same table;
- the history page's server time (first page, a filtered page) and the two figures that must
  stay under 20 ms at 1,000,000 rows: the counts per status (no filter, and filtered), and a
  recipient search (posted; its page and its counts in one answer).
"""

import argparse
import http.client
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from benchkit import free_port, services_start, services_stop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def daytime_zone() -> str:
    """A fixed-offset zone where it is now early afternoon, so quiet hours never interfere."""
    offset = 13 - datetime.now(UTC).hour
    offset = (offset + 12) % 24 - 12
    if offset == 0:
        return "UTC"
    # Etc/GMT signs are inverted: Etc/GMT-3 is three hours ahead of UTC.
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


# -- the plain-loop limit ----------------------------------------------------------------------

def _plain_loop(args) -> int:
    port, count, account = args
    conn = http.client.HTTPConnection("127.0.0.1", port)
    path = f"/2010-04-01/Accounts/{account}/Messages.json"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    for i in range(count):
        body = urlencode({"To": f"+1555{i:07d}", "From": "+13125550100", "Body": f"plain {i}",
                          "StatusCallback": "http://127.0.0.1:8000/webhooks/twilio/status?n=1"})
        conn.request("POST", path, body, headers)
        response = conn.getresponse()
        json.loads(response.read())
        if response.status != 201:
            raise RuntimeError(f"fake answered {response.status}")
    conn.close()
    return count


def plain_loop_limit(port: int, total: int, processes: int, account: str) -> float:
    per = total // processes
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        done = sum(pool.map(_plain_loop, [(port, per, account)] * processes))
    return done / (time.perf_counter() - started)


def fake_stats(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/_fake/stats")
    return json.loads(conn.getresponse().read())


# -- main --------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=2)
    opts = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-dispatch-"))
    started_services = services_start(workdir)
    fake_port = free_port()
    fake = subprocess.Popen([sys.executable, "-m", "tests.notifications.fake_providers", "twilio",
                             str(fake_port)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    fake.stdout.readline()
    account = "AC" + "0" * 32
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "MESSAGING_SANDBOX": "false",
        "TWILIO_API_BASE_URL": f"http://127.0.0.1:{fake_port}",
        "TWILIO_ACCOUNT_SID": account,
        # The engine's own sender rate is not what is measured here.
        "NOTIFICATIONS_RATE_SMS": "1000000",
        # Workers keep their database connection between tasks, as in production.
        "DATABASE_CONN_MAX_AGE": "60",
    })
    worker = None
    try:
        log(f"plain loop: {opts.count} calls over {opts.concurrency} processes")
        limit = plain_loop_limit(fake_port, opts.count, opts.concurrency, account)
        baseline = fake_stats(fake_port)["messages"]

        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        from notifications import dispatch
        from notifications.models import Notification, Status
        from practices.models import Practice

        practice, _ = Practice.objects.update_or_create(
            slug="bench", defaults={"name": "Bench Dental", "time_zone": daytime_zone(),
                                    "addon_balance_notifications": True})
        log(f"inserting {opts.count} due notifications")
        _insert_rows(connection, practice.pk, opts.count, status="queued", prefix="due")
        from config.celery_app import app

        app.control.purge()
        worker_log = open(workdir / "worker.log", "w")  # noqa: SIM115 - lives with the worker
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING",
             f"--concurrency={opts.concurrency}", "--without-gossip", "--without-mingle",
             "--hostname", f"bench-{os.getpid()}@%h"], cwd=ROOT, env=os.environ.copy(),
            stdout=worker_log, stderr=subprocess.STDOUT)
        time.sleep(4)  # let the worker connect before the clock starts
        log("draining")
        began = time.perf_counter()
        claimed = 0
        while True:
            summary = dispatch.dispatch_due()  # what beat runs every minute
            claimed += summary["claimed"]
            sent = Notification.objects.filter(practice=practice, status=Status.SENT).count()
            if sent >= opts.count:
                break
            if worker.poll() is not None:
                raise RuntimeError(f"worker died:\n{(workdir / 'worker.log').read_text()[-3000:]}")
            if time.perf_counter() - began > 1800:
                raise RuntimeError(f"only {sent} sent after 30 minutes")
            time.sleep(1.0)
        elapsed = time.perf_counter() - began
        rate = opts.count / elapsed
        provider_calls = fake_stats(fake_port)["messages"] - baseline
        not_sent = Notification.objects.filter(practice=practice).exclude(status=Status.SENT).count()
        print(f"dispatch: {opts.count} notifications in {elapsed:.1f} s = {rate:,.0f} messages/s "
              f"(worker concurrency {opts.concurrency}); plain-loop limit {limit:,.0f} calls/s; "
              f"ratio {rate / limit:.2f}")
        print(f"  provider calls {provider_calls} for {opts.count} notifications "
              f"(duplicates: {provider_calls - opts.count}); not sent: {not_sent}")
        worker.terminate()
        worker.wait(30)
        worker = None

        log(f"inserting {opts.history} history rows")
        _insert_rows(connection, practice.pk, opts.history, status="delivered", prefix="hist",
                     email_share=5)
        from notifications.counts import notification_counts_compact
        from notifications.due import due_list_repair

        t = time.perf_counter()
        folded = notification_counts_compact()["folded"]  # beat's minute job does this
        log(f"counts: {folded} changes folded in {time.perf_counter() - t:.1f} s")
        with connection.cursor() as cursor:
            for table in ("notification", "notificationdue", "notificationrecipient",
                          "notificationcount"):
                cursor.execute(f"VACUUM ANALYZE notifications_{table}")
        claims = []
        for i in range(7):
            _insert_rows(connection, practice.pk, 500, status="queued", prefix=f"claim{i}")
            t = time.perf_counter()
            ids = dispatch.claim_due(limit=500)
            claims.append((time.perf_counter() - t) * 1000)
            assert len(ids) == 500, len(ids)
        total_rows = Notification.objects.count()
        print(f"claim of 500 due rows with {total_rows:,} rows in the table: median "
              f"{statistics.median(claims):.1f} ms, best {min(claims):.1f} ms, "
              f"worst {max(claims):.1f} ms")
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN SELECT notification_id FROM notifications_notificationdue "
                           "WHERE due_at <= now() ORDER BY due_at LIMIT 500 FOR UPDATE SKIP LOCKED")
            plan = " / ".join(row[0].strip() for row in cursor.fetchall())
        print(f"  plan: {plan}")
        sweeps = []
        for _ in range(5):
            t = time.perf_counter()
            repaired = due_list_repair()["repaired"]
            sweeps.append((time.perf_counter() - t) * 1000)
        waiting = Notification.objects.filter(status=Status.QUEUED).count()
        print(f"due-list sweep with {total_rows:,} rows ({waiting:,} waiting): median "
              f"{statistics.median(sweeps):.1f} ms, repaired {repaired}")
        _history_timing(practice)
    finally:
        if worker is not None:
            worker.kill()
        fake.terminate()
        if started_services:
            services_stop(workdir)
        if os.environ.get("BENCH_KEEP_LOGS"):
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _insert_rows(connection, practice_id: int, count: int, *, status: str, prefix: str,
                 email_share: int = 0) -> None:
    """Insert rows with one INSERT ... SELECT generate_series (the API's per-row path is not
    what is measured)."""
    sent = status != "queued"
    every = email_share or 10**12  # one row in `every` is an email, the others texts
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO notifications_notification (
                practice_id, recipient_kind, recipient_id, recipient_name, recipient_time_zone,
                consent, channel, address, kind, reason, addon, subject, body, html_body,
                template_name, template_version, idempotency_key, send_at, first_due_at, status,
                reason_code, attempts, sender, provider_message_id, last_error, archived,
                created_at, updated_at, sent_at)
            SELECT %s, 'patient', g, 'Patient ' || g, '', true,
                   CASE WHEN g %% %s = 0 THEN 'email' ELSE 'sms' END,
                   CASE WHEN g %% %s = 0 THEN 'p' || g || '@example.test'
                        ELSE '+1555' || lpad(g::text, 7, '0') END,
                   CASE WHEN g %% 3 = 0 THEN 'payment_request' ELSE 'balance_dunning' END,
                   '', '', 'Your balance', 'Bench Dental: you have a balance. ' || %s || g, '',
                   'dunning', '1', %s || '-' || g,
                   now() - (g || ' seconds')::interval, now() - (g || ' seconds')::interval, %s,
                   '', %s, '', CASE WHEN %s THEN 'SM' || md5(%s || g) ELSE '' END, '', false,
                   now() - (g || ' seconds')::interval, now(),
                   CASE WHEN %s THEN now() - (g || ' seconds')::interval END
            FROM generate_series(1, %s) AS g
            """,
            [practice_id, every, every, prefix, prefix, status, 1 if sent else 0, sent, prefix, sent, count])
        if not sent:
            # Waiting rows are on the due list, as notification_schedule leaves them.
            cursor.execute(
                "INSERT INTO notifications_notificationdue (notification_id, due_at) "
                "SELECT id, send_at FROM notifications_notification WHERE status = 'queued' "
                "ON CONFLICT (notification_id) DO NOTHING")


def _history_timing(practice) -> None:
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    from practices.models import Membership, Role, User

    user, _ = User.objects.get_or_create(email="bench@example.test")
    Membership.objects.get_or_create(user=user, practice=practice, defaults={"role": Role.ADMIN})
    client = Client()
    client.force_login(user)
    try:
        url = reverse("notification_history")
    except NoReverseMatch:
        print("history page: no notification_history URL")
        return
    def timed(request, runs=6) -> list[float]:
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            response = request()
            times.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, response.status_code
        return times[1:]  # the first request warms caches and the connection

    def report(label, times):
        print(f"{label}: median {statistics.median(times):.1f} ms server time "
              f"(best {min(times):.1f} ms)")

    for label, query in [("first page", ""), ("filtered sms+delivered", "?channel=sms&status=delivered")]:
        report(f"history page, {label}", timed(lambda q=query: client.get(url + q)))
    counts = reverse("notification_counts")
    since = (datetime.now(UTC).date() - timedelta(days=7)).isoformat()
    report("counts per status, no filter (every row)",
           timed(lambda: client.get(counts + "?view=history")))
    report("counts per status, sms+delivered in the last week",
           timed(lambda: client.get(f"{counts}?view=history&channel=sms&status=delivered&date_from={since}")))
    body = client.post(url, {"recipient": "Patient 4242"}).content.decode()
    found = body.count("data-notification=")
    total = re.search(r'data-status="total">.*?</span> (\d+)', body).group(1)
    report(f"recipient search 'Patient 4242' (posted: page of {found} and counts of {total})",
           timed(lambda: client.post(url, {"recipient": "Patient 4242"})))
    report("recipient search by address (posted)",
           timed(lambda: client.post(url, {"recipient": "+15550424242"})))
    report("a page that reads nothing (the same sign-in and middleware, for comparison)",
           timed(lambda: client.get(reverse("messaging_settings"))))
    _selector_timing(practice, since)


def _selector_timing(practice, since) -> None:
    """The same two figures without the request around them: the selectors alone."""
    from zoneinfo import ZoneInfo

    from notifications import selectors
    from notifications.forms import NotificationFilterForm

    def filters(**data):
        form = NotificationFilterForm(data)
        assert form.is_valid(), form.errors
        return form.filters(ZoneInfo(practice.time_zone))

    cases = [("counts, no filter", "history", filters()),
             ("counts, sms+delivered in the last week", "history",
              filters(channel="sms", status="delivered", date_from=since)),
             ("recipient search counts", "history", filters(recipient="Patient 4242"))]
    for label, view, chosen in cases:
        times = []
        for _ in range(6):
            t = time.perf_counter()
            selectors.status_counts(practice=practice, view=view, filters=chosen)
            times.append((time.perf_counter() - t) * 1000)
        print(f"  selector alone, {label}: median {statistics.median(times[1:]):.1f} ms")
    times = []
    for _ in range(6):
        t = time.perf_counter()
        qs = selectors.notification_list(practice=practice, view="history",
                                         filters=filters(recipient="Patient 4242"))
        list(selectors.notification_page(qs).rows)
        times.append((time.perf_counter() - t) * 1000)
    print(f"  selector alone, recipient search page: median {statistics.median(times[1:]):.1f} ms")
    # A guarantor's account reads one recipient's latest rows: by the recipient index, at this size.
    kind, recipient_id = selectors.notification_list(
        practice=practice, view="history", filters=filters()).values_list("recipient_kind", "recipient_id")[0]
    rows = selectors.notifications_for_recipient(practice=practice, kind=kind, recipient_id=recipient_id)
    times = []
    for _ in range(6):
        t = time.perf_counter()
        list(rows.all())
        times.append((time.perf_counter() - t) * 1000)
    plan = rows.explain()
    used = "notif_recipient_idx" if "notif_recipient_idx" in plan else "NOT notif_recipient_idx"
    print(f"  selector alone, one recipient's history: median {statistics.median(times[1:]):.1f} ms ({used})")


if __name__ == "__main__":
    main()
