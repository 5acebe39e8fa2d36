"""The portal under 50 staff members at once: errors and p95 per screen, beside a trivial view.

    .venv/bin/python bench/load_portal.py [--users 50] [--duration 120] [--patients 100000]
                                          [--notifications 1000000] [--web-workers 3]

Starts its own PostgreSQL and Redis (bin/services), migrates, and loads one practice with 50
staff logins, --patients patients in families (through the PMS import, with balances) and
--notifications rows of history addressed to its guarantors. Then runs gunicorn (the test
profile, connections kept as in production) and locust headless (bench/portal_users.py; the
`bench` extra installs it): every user signs in, then pages the patient list and the
notification history and opens guarantors' accounts for --duration seconds.

Prints, per screen, requests, errors, median and p95 (goal: no errors, p95 under 300 ms), beside
the same run's trivial view (the sign-in form): what the machine gives any page at that load.
"""

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "load-pass-2026"  # noqa: S105 - a throwaway database's logins
GOAL_MS = 300


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_locust():
    try:
        import locust  # noqa: F401
    except ImportError:
        subprocess.run(["bin/setup-venv", "bench"], cwd=ROOT, check=True)


def load(practice_slug: str, users: int, patients: int, notifications: int) -> list[int]:
    """The practice's logins, patients and history; returns guarantor ids for the accounts."""
    sys.path.insert(0, str(ROOT / "bench"))
    from django.db import connection
    from import_patients import api_record, generate_rows

    from patients.models import IS_GUARANTOR, Patient
    from patients.services import patients_bulk_upsert
    from practices.models import Membership, Practice, Role, User

    practice = Practice.objects.get(slug=practice_slug)
    for i in range(users):
        user = User.objects.create_user(email=f"staff{i}@load.test", password=PASSWORD)
        Membership.objects.create(user=user, practice=practice, role=Role.STAFF)
    log(f"importing {patients} patients")
    chunk = []
    for record in generate_rows(patients):
        chunk.append(api_record(record))
        if len(chunk) == 10_000:
            patients_bulk_upsert(practice=practice, items=chunk)
            chunk = []
    if chunk:
        patients_bulk_upsert(practice=practice, items=chunk)
    log(f"inserting {notifications} notifications")
    with connection.cursor() as cursor:
        # Texts and emails to the guarantors, newest a second apart, most delivered.
        cursor.execute(
            """
            WITH g AS (SELECT array_agg(id ORDER BY id) AS ids FROM patients_patient
                       WHERE practice_id = %s AND guarantor_id = id)
            INSERT INTO notifications_notification (
                practice_id, recipient_kind, recipient_id, recipient_name, recipient_time_zone,
                consent, channel, address, kind, reason, addon, subject, body, html_body,
                template_name, template_version, idempotency_key, send_at, first_due_at, status,
                reason_code, attempts, sender, provider_message_id, last_error, archived,
                created_at, updated_at, sent_at)
            SELECT %s, 'patient', g.ids[1 + n %% array_length(g.ids, 1)], 'Patient ' || n, '', true,
                   CASE WHEN n %% 4 = 0 THEN 'email' ELSE 'sms' END,
                   CASE WHEN n %% 4 = 0 THEN 'p' || n || '@example.test'
                        ELSE '+1555' || lpad((n %% 10000000)::text, 7, '0') END,
                   CASE WHEN n %% 3 = 0 THEN 'payment_request' ELSE 'balance_dunning' END,
                   'statement', '', 'Your balance', 'Bench Dental: you have a balance.', '',
                   'dunning', '1', 'load-' || n, now() - n * interval '1 second',
                   now() - n * interval '1 second',
                   CASE WHEN n %% 50 = 0 THEN 'undeliverable_permanent' ELSE 'delivered' END,
                   '', 1, '', 'SM' || md5(n::text), '', false,
                   now() - n * interval '1 second', now(), now() - n * interval '1 second'
            FROM generate_series(1, %s) AS n, g
            """, [practice.pk, practice.pk, notifications])
        cursor.execute("VACUUM ANALYZE")
    ids = list(Patient.objects.filter(IS_GUARANTOR, practice=practice).order_by("?")
               .values_list("pk", flat=True)[:2000])
    return ids


def read_stats(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=int, default=120, help="seconds of load")
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--notifications", type=int, default=1_000_000)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the services' directory and logs")
    args = parser.parse_args()
    ensure_locust()

    tmp = Path(tempfile.mkdtemp(prefix="bo-load-"))
    procs = []
    try:
        out = subprocess.run(["bin/services", "start", str(tmp)], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        env = {**os.environ, **dict(line.split("=", 1) for line in out.split()),
               "DJANGO_SETTINGS_MODULE": "config.settings.test", "DATABASE_CONN_MAX_AGE": "60",
               "EMAIL_BACKEND": "notifications.sandbox.SandboxEmailBackend"}
        os.environ.update(env)
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        slug = subprocess.run([sys.executable, "manage.py", "create_practice", "--name", "Bench Dental",
                               "--timezone", "America/Chicago"], cwd=ROOT, env=env, check=True,
                              capture_output=True, text=True).stdout.strip().splitlines()[-1]
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        started = time.monotonic()
        guarantors = load(slug, args.users, args.patients, args.notifications)
        log(f"loaded in {time.monotonic() - started:.0f} s")
        from django.db import connections

        connections.close_all()
        port = _free_port()
        web_log = open(tmp / "web.log", "w")  # noqa: SIM115 - lives as long as the process
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", str(args.web_workers), "-b",
             f"127.0.0.1:{port}", "--log-level", "warning"], cwd=ROOT, env=env, stdout=web_log,
            stderr=subprocess.STDOUT))
        time.sleep(3)
        log(f"{args.users} users for {args.duration} s against gunicorn ({args.web_workers} workers)")
        locust_env = {**env, "LOAD_EMAILS": ",".join(f"staff{i}@load.test" for i in range(args.users)),
                      "LOAD_PASSWORD": PASSWORD, "LOAD_GUARANTORS": ",".join(map(str, guarantors))}
        subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "portal_users.py"), "--headless",
             "-u", str(args.users), "-r", str(max(1, args.users // 5)), "-t", f"{args.duration}s",
             "--host", f"http://127.0.0.1:{port}", "--csv", str(tmp / "load"), "--only-summary",
             "--loglevel", "WARNING"], cwd=ROOT, env=locust_env, check=False, capture_output=True)
        rows = read_stats(tmp / "load_stats.csv")
        load_avg = os.getloadavg()
        print(f"{args.users} staff members (1-5 s between pages), {args.duration} s, "
              f"{args.patients} patients, {args.notifications} notifications; "
              f"load average {load_avg[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'screen':32} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7}")
        trivial = next((r for r in rows if r["Name"].startswith("trivial view")), None)
        for r in rows:
            p95 = float(r["95%"])
            mark = "" if r["Name"] == "Aggregated" or r is trivial else (
                "  ok" if p95 < GOAL_MS else f"  over {GOAL_MS} ms")
            print(f"{r['Name'][:32]:32} {r['Request Count']:>8} {r['Failure Count']:>6} "
                  f"{float(r['50%']):7.0f} {p95:7.0f}{mark}")
        failures = tmp / "load_failures.csv"
        for f in read_stats(failures) if failures.exists() else []:
            print(f"error: {f['Occurrences']} x {f['Method']} {f['Name']}: {f['Error'][:160]}")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)
        subprocess.run(["bin/services", "stop", str(tmp)], cwd=ROOT, check=False)
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
