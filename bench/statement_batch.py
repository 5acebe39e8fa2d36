"""Benchmark: statement batches of 100,000 guarantors into PostgreSQL, through the API and a CSV file.

    .venv/bin/python bench/statement_batch.py [--guarantors 100000]

Starts its own PostgreSQL and Redis (bin/services) unless DATABASE_URL and REDIS_URL are set (it
creates and drops a database named <name>_bench beside DATABASE_URL's). It stores the guarantors,
then takes in, in this process, everything included (parsing, checks, statements, dunning counts,
rendering, the outbox rows with their first status events and due-list entries, the hand-over of
the messages due now to Celery on commit):

1. batch A through POST /api/v1/statement-batches: level 1, an email and a text each;
2. batch B as a CSV file (upload, whole-file check, confirm, import): level 2 for the same
   guarantors, superseding A's unsent messages;
3. batch C through the API again: level 3, superseding B's.

Before each batch the database settles (VACUUM ANALYZE, CHECKPOINT), as the weeks between two
statement runs would let it: the last batch's autovacuum pass is not timed with the next.

It prints, for each batch, statements/s and notifications/s (queued; with superseded) and the CPU
time this process spent, and the reference: PostgreSQL's own COPY of batch A's notification rows,
as stored, into the notifications table with its indexes and constraint (rolled back), in the
same run, measured beside each batch (after A; before B and before C, settled before and after)
into the table as that batch finds it: the machine is shared and its speed drifts from one
minute to the next, so each batch is set against COPY at that time. As an extra line, COPY into
an empty copy of the table. Each batch's notifications/s is printed as a ratio of its
reference (the goal is at least a third), with the peak memory of this
process (goal: under 300 MB; the memory a batch freed is handed back to the system before the
next) and the load average (the machine is shared: run it two or three times). BENCH_PROFILE=A
(or B, C) prints that batch's profile instead of timing it cleanly
(BENCH_SORT=tottime to sort by own time).
"""

import argparse
import contextlib
import csv
import os
import resource
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from itertools import islice
from pathlib import Path

from benchkit import services_start, services_stop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def log(message: str) -> None:
    print(message, flush=True)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def heap_trim() -> None:
    """Hand the memory freed by the last batch back to the system (glibc keeps it otherwise), so
    that the next batch's peak is its own rather than its own on top of that heap."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: the peak is then an upper bound
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def settle() -> None:
    """What the weeks between two statement runs give the database: the last batch's rows
    vacuumed and analysed, and its writes checkpointed. Otherwise autovacuum's pass over them
    (a batch leaves half a million new rows) and a checkpoint would run inside the next batch's
    time, on the same two cores."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")


def guarantor_records(count: int):
    from decimal import Decimal

    from patients.records import BalanceRecord, PatientRecord

    zero = Decimal("0.00")
    first = ["Ana", "Ben", "Chloe", "Dev", "Eli", "Farah", "Gus", "Hana", "Ivan", "Jade", "Kai", "Lena"]
    last = ["Adams", "Brooks", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ibarra", "Jones"]
    for i in range(count):
        yield PatientRecord(
            external_id=f"G{i:07d}", first_name=first[i % 12], last_name=last[i % 10], date_of_birth=None,
            email=f"g{i}@example.test", mobile_phone=f"+1312555{i % 10000:04d}", home_phone="",
            time_zone="America/Denver" if i % 5 == 0 else "", guarantor_external_id=f"G{i:07d}",
            consent_email=i % 50 != 0, consent_sms=i % 25 != 0, consent_voice=False, paperless=True,
            do_not_recall=False, last_visit_on=None,
            balance=BalanceRecord(total=Decimal("250.00"), amount_due=Decimal("125.00"), aging_current=zero,
                                  aging_31_60=Decimal("125.00"), aging_61_90=zero, aging_91_120=zero,
                                  aging_over_120=zero, in_collections=False, on_payment_plan=False,
                                  outstanding_claims=0, as_of=None))


def statements(count: int, statement_date: date, amount: str):
    due = (statement_date + timedelta(days=25)).isoformat()
    day = statement_date.isoformat()
    for i in range(count):
        yield {"guarantor_external_id": f"G{i:07d}", "statement_date": day, "due_date": due,
               "amount_due": amount, "balance": "250.00"}


def run(count: int, workdir: Path) -> None:
    import psycopg

    base_url = os.environ["DATABASE_URL"]
    bench_db = base_url.rsplit("/", 1)[1].split("?")[0] + "_bench"
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{bench_db}"')
        admin.execute(f'CREATE DATABASE "{bench_db}"')
    os.environ["DATABASE_URL"] = base_url.rsplit("/", 1)[0] + "/" + bench_db
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["VAR_DIR"] = str(workdir / "var")
    import django
    from django.conf import settings

    django.setup()
    settings.MEDIA_ROOT = workdir / "media"
    settings.STATEMENT_UPLOAD_INLINE_BYTES = 1 << 40  # check and import the file in this process
    settings.STATEMENT_UPLOAD_INLINE_ROWS = 1 << 40
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    try:
        measure(count, workdir)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(base_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{bench_db}"')


CPU: dict[str, float] = {}


def profiled(name: str, call):
    """`call()`, under cProfile when BENCH_PROFILE names this batch (its top functions printed);
    the CPU time this process spent on it is kept in CPU."""
    if os.environ.get("BENCH_PROFILE") != name:
        started = time.process_time()
        try:
            return call()
        finally:
            CPU[name] = time.process_time() - started
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    result = profiler.runcall(call)
    pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(40)
    return result


def _batch_line(name: str, seconds: float, batch, reference: float) -> None:
    moved = batch.notifications_queued + batch.superseded
    rate = batch.notifications_queued / seconds
    cpu = CPU.get(name[0], 0.0)
    log(f"{name:<28} {seconds:6.1f} s ({cpu:4.1f} s in this process)  "
        f"{batch.accepted / seconds:8,.0f} statements/s  "
        f"{rate:8,.0f} notifications/s ({batch.notifications_queued:,} queued, {batch.superseded:,} "
        f"superseded: {moved / seconds:,.0f} rows/s)  {rate / reference:4.2f}x COPY  peak {peak_mb():.0f} MB")


def measure(count: int, workdir: Path) -> None:
    from django.core.files import File
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from notifications.models import Notification
    from patients.upsert import patients_upsert
    from practices.services import api_key_create, practice_create
    from statements.csv_batches import statement_upload_confirm, statement_upload_create
    from statements.models import StatementBatch, StatementProfile

    practice = practice_create(name="Bench Dental", time_zone="America/Chicago", phone="+13125550100")
    practice.addon_balance_notifications = True
    practice.addon_online_payments = True
    practice.save()
    profile = StatementProfile.objects.get(practice=practice, slug="standard")
    started = time.perf_counter()
    patients_upsert(practice=practice, records=guarantor_records(count))
    log(f"{count:,} guarantors stored in {time.perf_counter() - started:.1f} s; peak {peak_mb():.0f} MB")
    settle()
    _, secret = api_key_create(practice=practice, label="bench")
    client = Client()
    today = timezone.localdate(timezone.now(), practice.tz)

    def post(batch_id, statement_date, amount):
        import orjson

        # Written a thousand statements at a time: a list of 100,000 dicts would weigh more in
        # this process than the ingestion it measures (and so would 100,000 small dumps, each
        # keeping orjson's whole buffer).
        items = statements(count, statement_date, amount)
        parts = []
        while part := list(islice(items, 1000)):
            parts.append(orjson.dumps(part)[1:-1])
        head = orjson.dumps({"batch_id": batch_id, "profile": profile.slug})[:-1]
        payload = b"".join([head, b',"statements":[', b",".join(parts), b"]}"])
        del parts
        started = time.perf_counter()
        response = profiled(batch_id, lambda: client.post(
            "/api/v1/statement-batches", payload, content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}"))
        seconds = time.perf_counter() - started
        assert response.status_code == 201, response.content[:500]
        return seconds, StatementBatch.objects.get(practice=practice, batch_id=batch_id)

    a_seconds, a = post("A", today, "125.00")
    heap_trim()

    # The reference: PostgreSQL's COPY of batch A's rows, as stored (each key given a suffix
    # to keep it unique), into the notifications table with its indexes and its practice
    # constraint (checked as it goes), then rolled back; measured beside each batch, into the
    # table as that batch finds it (after A; before B and C, each settled before and after).
    # Extra line: into an empty copy of the table (LIKE ... INCLUDING ALL: the indexes, no
    # foreign key).
    columns = [f.column for f in Notification._meta.concrete_fields if f.column != "id"]
    exported = ", ".join("idempotency_key || ':copy'" if c == "idempotency_key" else c for c in columns)
    # The rows go through a file (not this process's memory, which the peak measures).
    rows_file = workdir / "batch-a.copy"
    with connection.cursor() as cursor, open(rows_file, "wb") as out, cursor.cursor.copy(
            f"COPY (SELECT {exported} FROM notifications_notification "  # noqa: S608
            f"WHERE tag = '{a.tag}') TO STDOUT") as copy:
        for block in copy:
            out.write(block)

    def copy_into(table: str) -> float:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
            started = time.perf_counter()
            with open(rows_file, "rb") as f, cursor.cursor.copy(
                    f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                while block := f.read(1 << 20):
                    copy.write(block)
            return time.perf_counter() - started

    def reference(label: str) -> float:
        with transaction.atomic():
            connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE")
            seconds = copy_into("notifications_notification")
            transaction.set_rollback(True)
        rate = a.notifications_queued / seconds
        log(f"{'COPY into the table ' + label:<28} {seconds:6.1f} s  {rate:8,.0f} rows/s (the reference)")
        return rate

    a_reference = reference("(A)")
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_copy (LIKE notifications_notification INCLUDING ALL)")
    bare_seconds = copy_into("bench_copy")
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_copy")
    bare = a.notifications_queued / bare_seconds
    log(f"{'COPY into an empty copy':<28} {bare_seconds:6.1f} s  {bare:8,.0f} rows/s "
        f"(extra: {bare / a_reference:.1f}x the reference)")
    _batch_line("A: API, level 1", a_seconds, a, a_reference)

    path = workdir / "b.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["guarantor_external_id", "statement_date", "due_date", "amount_due", "balance"])
        for s in statements(count, today, "130.00"):
            writer.writerow(s.values())
    def csv_batch():
        with open(path, "rb") as f:
            upload = statement_upload_create(practice=practice, actor=None, upload=File(f, name="b.csv"),
                                             batch_id="B", profile=profile)
        return statement_upload_confirm(upload=upload, actor=None, mode="all")

    settle()
    b_reference = reference("(B)")
    settle()
    started = time.perf_counter()
    upload = profiled("B", csv_batch)
    b_seconds = time.perf_counter() - started
    heap_trim()
    assert upload.received_batch_id, upload.failure or upload.file_error
    _batch_line("B: CSV, level 2, supersedes", b_seconds, upload.received_batch, b_reference)

    settle()
    c_reference = reference("(C)")
    settle()
    c_seconds, c = post("C", today, "135.00")
    _batch_line("C: API, level 3, supersedes", c_seconds, c, c_reference)
    rows = Notification.objects.filter(practice=practice).count()
    load = os.getloadavg()
    log(f"{rows:,} notification rows in all; peak memory {peak_mb():.0f} MB; "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--guarantors", type=int, default=100_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bo-statements-bench-"))
    os.chmod(workdir, 0o755)  # noqa: S103 - the postgres user must reach the data folder
    started_services = False
    try:
        started_services = services_start(workdir)
        if started_services:
            log("PostgreSQL and Redis started for the benchmark")
        run(args.guarantors, workdir)
    finally:
        if started_services:
            services_stop(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
