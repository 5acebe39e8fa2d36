"""Benchmark: import 100,000 patients into PostgreSQL, from a CSV file and through the API.

    .venv/bin/python bench/import_patients.py [--rows 100000]

Uses DATABASE_URL when set (a database it may create tables in: it creates and drops a database
named <name>_bench beside it); otherwise starts a throwaway PostgreSQL of its own, as bin/test
does. Prints, for the same rows:

- The reference (the limit): PostgreSQL's COPY of the same patients, as stored, into the empty
  patients table with its indexes and foreign key. Every path is printed as a ratio of it.
- Extra: COPY of the CSV file into a bare table of the same columns (no indexes, no constraints).
- CSV import: the portal's import (whole-file validation, then the all-or-nothing import), and
  the same file imported again (every row unchanged).
- API: the same patients as 10,000-record requests to POST /api/v1/patients/bulk, twice.
- the peak resident memory of this process (it holds the benchmark, the file never).
"""

import argparse
import csv
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AREA_CODES = ["312", "773", "872", "630", "331", "847", "224", "708", "815", "779", "219", "414"]
FIRST = ["Ana", "Ben", "Chloe", "Dev", "Eli", "Farah", "Gus", "Hana", "Ivan", "Jade", "Kai", "Lena", "Milo",
         "Nora", "Omar", "Pia", "Quinn", "Rosa", "Sam", "Tara", "Uma", "Vic", "Wes", "Xena", "Yuri", "Zoe"]
LAST = ["Adams", "Brooks", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ibarra", "Jones",
        "Kowalski", "Lopez", "Murphy", "Nguyen", "Okafor", "Patel", "Quinn", "Rossi", "Singh", "Tanaka"]


def _phone(rng: random.Random) -> str:
    npa, nxx, line = rng.choice(AREA_CODES), rng.randint(200, 999), rng.randint(0, 9999)
    style = rng.random()
    if style < 0.4:
        return f"+1{npa}{nxx}{line:04d}"
    if style < 0.8:
        return f"({npa}) {nxx}-{line:04d}"
    return f"{npa}-{nxx}-{line:04d}"


def generate_rows(count: int, seed: int = 7):
    """Families of one to five: the guarantor's row after the children's half of the time."""
    rng = random.Random(seed)
    today = date(2026, 11, 1)
    n = 0
    family = 0
    while n < count:
        family += 1
        size = min(rng.randint(1, 5), count - n)
        last = rng.choice(LAST)
        g_id = f"P{family:07d}-0"
        members = []
        for i in range(size):
            is_g = i == 0
            age = rng.randint(25, 80) if is_g else rng.randint(1, 24)
            has_balance = is_g and rng.random() < 0.7
            buckets = [rng.randint(0, 40000) / 100 if rng.random() < 0.5 else 0 for _ in range(5)]
            total = sum(buckets)
            members.append({
                "external_id": f"P{family:07d}-{i}",
                "first_name": rng.choice(FIRST), "last_name": last,
                "date_of_birth": (today - timedelta(days=age * 365 + rng.randint(0, 364))).isoformat(),
                "email": f"{last.lower()}.{family}.{i}@example.test" if rng.random() < 0.8 else "",
                "mobile_phone": _phone(rng) if rng.random() < 0.85 else "",
                "home_phone": _phone(rng) if rng.random() < 0.3 else "",
                "time_zone": "America/Chicago" if rng.random() < 0.5 else "",
                "guarantor_external_id": "" if is_g else g_id,
                "consent_email": rng.random() < 0.8, "consent_sms": rng.random() < 0.7,
                "consent_voice": rng.random() < 0.3, "paperless": rng.random() < 0.4,
                "do_not_recall": rng.random() < 0.03,
                "last_visit_on": (today - timedelta(days=rng.randint(1, 900))).isoformat(),
                "balance": {
                    "total": f"{total:.2f}", "amount_due": f"{total - buckets[0]:.2f}",
                    "aging": dict(zip(["current", "d31_60", "d61_90", "d91_120", "over_120"],
                                      [f"{b:.2f}" for b in buckets], strict=True)),
                    "in_collections": buckets[4] > 300, "on_payment_plan": rng.random() < 0.1,
                    "outstanding_claims": rng.randint(0, 3), "as_of": "2026-11-01T06:00:00Z",
                } if has_balance else None,
            })
        if rng.random() < 0.5:
            members.reverse()
        for member in members:
            yield member
            n += 1


def csv_line_values(record: dict) -> list:
    b = record["balance"] or {}
    aging = b.get("aging", {})

    def flag(value):
        return "true" if value else "false"

    return [
        record["external_id"], record["first_name"], record["last_name"], record["date_of_birth"],
        record["email"], record["mobile_phone"], record["home_phone"], record["time_zone"],
        record["guarantor_external_id"], flag(record["consent_email"]), flag(record["consent_sms"]),
        flag(record["consent_voice"]), flag(record["paperless"]), flag(record["do_not_recall"]),
        record["last_visit_on"], b.get("total", ""), b.get("amount_due", ""), aging.get("current", ""),
        aging.get("d31_60", ""), aging.get("d61_90", ""), aging.get("d91_120", ""), aging.get("over_120", ""),
        flag(b.get("in_collections")) if b else "", flag(b.get("on_payment_plan")) if b else "",
        b.get("outstanding_claims", "") if b else "", b.get("as_of", ""),
    ]


def api_record(record: dict) -> dict:
    out = {k: record[k] for k in ("external_id", "first_name", "last_name", "date_of_birth", "email",
                                  "mobile_phone", "home_phone", "time_zone", "do_not_recall",
                                  "last_visit_on")}
    out["guarantor_external_id"] = record["guarantor_external_id"] or None
    out["consents"] = {"email": record["consent_email"], "sms": record["consent_sms"],
                       "voice": record["consent_voice"], "paperless": record["paperless"]}
    if record["balance"]:
        out["balance"] = record["balance"]
    return out


# --- a throwaway PostgreSQL, as bin/test starts one ---

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_postgres(workdir: Path):
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bins:
        sys.exit("PostgreSQL is not installed: run bin/test once (it installs it) or set DATABASE_URL.")
    pg_bin = bins[-1]
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data = workdir / "pg"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run([*as_postgres, pg_bin / "initdb", "-D", data, "-U", "postgres", "-A", "trust",
                    "--no-sync"], check=True, stdout=subprocess.DEVNULL)
    port = _free_port()
    options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {workdir} -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=256MB")
    subprocess.run([*as_postgres, pg_bin / "pg_ctl", "-D", data, "-l", workdir / "pg.log", "-w", "-o",
                    options, "start"], check=True, stdout=subprocess.DEVNULL)

    def stop():
        subprocess.run([*as_postgres, pg_bin / "pg_ctl", "-D", data, "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

    return f"postgres://postgres@127.0.0.1:{port}/postgres", stop


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bo-bench-"))
    os.chmod(workdir, 0o755)  # noqa: S103 - the postgres user must reach the data folder
    stop = None
    try:
        base_url = os.environ.get("DATABASE_URL")
        if not base_url:
            base_url, stop = start_postgres(workdir)
            print("PostgreSQL started for the benchmark", flush=True)
        run(base_url, workdir, args.rows)
    finally:
        if stop:
            stop()
        shutil.rmtree(workdir, ignore_errors=True)


def run(base_url: str, workdir: Path, rows: int):
    import psycopg

    bench_db = base_url.rsplit("/", 1)[1].split("?")[0] + "_bench"
    with psycopg.connect(base_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{bench_db}"')
        admin.execute(f'CREATE DATABASE "{bench_db}"')
    os.environ["DATABASE_URL"] = base_url.rsplit("/", 1)[0] + "/" + bench_db
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")  # not used: see CACHES below
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ["VAR_DIR"] = str(workdir / "var")
    import django
    from django.conf import settings

    django.setup()
    # Import progress goes to the cache; a local one keeps the benchmark free of Redis.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.MEDIA_ROOT = workdir / "media"
    settings.PATIENT_IMPORT_INLINE_BYTES = 1 << 40  # validate and import in this process
    settings.PATIENT_IMPORT_INLINE_ROWS = 1 << 40
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    try:
        measure(workdir, rows)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(base_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{bench_db}"')


def measure(workdir: Path, rows: int):
    from django.core.files import File
    from django.db import connection
    from django.test import Client

    from patients.models import Patient
    from patients.records import CSV_COLUMN_NAMES
    from patients.services import patient_import_confirm, patient_import_create
    from practices.services import api_key_create, practice_create

    path = workdir / "patients.csv"
    started = time.perf_counter()
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMN_NAMES)
        for record in generate_rows(rows):
            writer.writerow(csv_line_values(record))
    size_mb = path.stat().st_size / 1e6
    elapsed = time.perf_counter() - started
    print(f"generated {rows:,} rows, {size_mb:.1f} MB CSV in {elapsed:.1f}s", flush=True)

    # 1. An extra figure: COPY of the same file into a bare table with the same columns.
    types = {"date_of_birth": "date", "last_visit_on": "date", "balance_as_of": "timestamptz",
             "outstanding_claims": "integer"}
    for name in ("consent_email", "consent_sms", "consent_voice", "paperless", "do_not_recall",
                 "in_collections", "on_payment_plan"):
        types[name] = "boolean"
    for name in ("balance_total", "balance_amount_due", "aging_current", "aging_31_60", "aging_61_90",
                 "aging_91_120", "aging_over_120"):
        types[name] = "numeric(12,2)"
    columns = ", ".join(f"{c} {types.get(c, 'text')}" for c in CSV_COLUMN_NAMES)
    copy_times = []
    for _ in range(2):
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_copy")
            cursor.execute(f"CREATE TABLE bench_copy ({columns})")
            t0 = time.perf_counter()
            statement = "COPY bench_copy FROM STDIN (FORMAT csv, HEADER true)"
            with open(path, "rb") as f, cursor.cursor.copy(statement) as copy:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            copy_times.append(time.perf_counter() - t0)
            cursor.execute("DROP TABLE bench_copy")
    copy_s = min(copy_times)
    copy_rate = rows / copy_s
    print(f"Extra: COPY into a bare table: {copy_rate:>9,.0f} rows/s  {copy_s:6.2f}s", flush=True)

    # 2. The CSV import: whole-file validation, then the import, as the portal runs them.
    practice = practice_create(name="Bench CSV", time_zone="America/Chicago")

    def csv_import(label):
        with open(path, "rb") as f:
            upload = File(f, name="patients.csv")
            t0 = time.perf_counter()
            checked = patient_import_create(practice=practice, actor=None, upload=upload)
            t1 = time.perf_counter()
        assert checked.status == "validated", (checked.status, checked.errors[:3])
        assert checked.error_count == 0, checked.errors[:3]
        done = patient_import_confirm(patient_import=checked, actor=None, mode="all")
        t2 = time.perf_counter()
        assert done.status == "done", (done.status, done.failure)
        total = t2 - t0
        print(f"CSV import ({label}): {rows / total:>9,.0f} rows/s  {total:6.2f}s "
              f"(validate {t1 - t0:.2f}s, import {t2 - t1:.2f}s; created {done.created:,}, "
              f"updated {done.updated:,}, unchanged {done.unchanged:,})  peak {peak_mb():.0f} MB", flush=True)
        return rows / total, rows / (t2 - t1)

    reference_rate = copy_into_patients(workdir, path, rows, empty=True)
    first_rate, import_rate = csv_import("first time")
    again_rate, _ = csv_import("same file again")
    assert Patient.objects.filter(practice=practice).count() == rows
    full_rate = copy_into_patients(workdir, path, rows, empty=False)

    # 3. The API: the same patients in 10,000-record requests.
    api_practice = practice_create(name="Bench API", time_zone="America/Chicago")
    _key, secret = api_key_create(practice=api_practice)
    client = Client()

    def api_import(label):
        totals = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
        elapsed = 0.0
        batch: list = []

        def send():
            nonlocal elapsed
            body = json.dumps({"patients": batch})
            t0 = time.perf_counter()
            response = client.post("/api/v1/patients/bulk", body, content_type="application/json",
                                   HTTP_AUTHORIZATION=f"Bearer {secret}")
            elapsed += time.perf_counter() - t0
            assert response.status_code == 200, response.content[:500]
            result = response.json()
            for k in ("created", "updated", "unchanged"):
                totals[k] += result[k]
            totals["rejected"] += len(result["rejected"])

        # A family's guarantor may sit in the next request: send guarantors first, as a PMS would.
        for want_guarantors in (True, False):
            for record in generate_rows(rows):
                if (record["guarantor_external_id"] == "") == want_guarantors:
                    batch.append(api_record(record))
                    if len(batch) == 10_000:
                        send()
                        batch = []
        if batch:
            send()
        print(f"API ({label}):    {rows / elapsed:>9,.0f} rows/s  {elapsed:6.2f}s  {totals}  "
              f"peak {peak_mb():.0f} MB", flush=True)
        return rows / elapsed

    api_first = api_import("first time")
    api_again = api_import("same again")

    print(f"\nReferences (the limit): COPY of the same patients into patients_patient: "
          f"A = into the empty table {reference_rate:,.0f} rows/s, B = beside {rows:,} stored patients "
          f"{full_rate:,.0f} rows/s. The first CSV import meets the empty table (A); the others "
          f"meet a table holding {rows:,} patients (B).")
    for label, rate, ref in (("CSV check + import, first time", first_rate, "A"),
                             ("CSV check + import, same file again", again_rate, "B"),
                             ("CSV import step alone, first time", import_rate, "A"),
                             ("API, first time", api_first, "B"), ("API, same again", api_again, "B")):
        limit = reference_rate if ref == "A" else full_rate
        print(f"  {label:<36} {rate:>9,.0f} rows/s = {rate / reference_rate:.3f} of A, "
              f"{rate / full_rate:.3f} of B; against {ref}: "
              f"{'meets' if rate * 3 >= limit else 'BELOW'} a third")
    print(f"Extra: COPY into a bare table of text/number columns (no indexes or constraints): "
          f"{copy_rate:,.0f} rows/s")
    load = os.getloadavg()
    print(f"Peak memory {peak_mb():.0f} MB (goal: under 300 MB); load average {load[0]:.2f} {load[1]:.2f} "
          f"{load[2]:.2f} on {os.cpu_count()} cores")

def copy_into_patients(workdir: Path, path: Path, rows: int, *, empty: bool) -> float:
    """The reference: PostgreSQL's COPY of the same patients, in their stored form (E.164 phones,
    lower-cased email), into the patients table with its indexes and its foreign key to the
    practice (checked at commit, as for an import). Patients only: no balances, visits or guarantor
    links. `empty`: into the empty table (as the first CSV import meets it), else beside the rows
    already there (as the API's imports meet it). The best of two runs, the rows removed after
    each; returns rows/s."""
    from django.db import connection

    from patients.csv_import import csv_rows
    from patients.models import Patient
    from patients.records import record_from_csv
    from patients.upsert import copy_csv_writer
    from practices.services import practice_create

    practice = practice_create(name=f"Bench COPY reference {'empty' if empty else 'full'}",
                               time_zone="America/Chicago")
    columns = ("practice_id, external_id, first_name, last_name, date_of_birth, email, mobile_phone, "
               "home_phone, time_zone, consent_email, consent_sms, consent_voice, paperless, do_not_recall, "
               "last_visit_on, created_at, updated_at")
    now = "2026-11-23T07:00:00+00:00"
    stored = workdir / "patients.copy.csv"
    with open(path, "rb") as binary, open(stored, "w", encoding="utf-8", newline="") as out:
        writer = copy_csv_writer(out)
        for row in csv_rows(binary):
            r, errors = record_from_csv(row.values)
            assert r is not None, errors
            writer.writerow((practice.pk, r.external_id, r.first_name, r.last_name, r.date_of_birth, r.email,
                             r.mobile_phone, r.home_phone, r.time_zone, r.consent_email, r.consent_sms,
                             r.consent_voice, r.paperless, r.do_not_recall, r.last_visit_on, now, now))
    before = Patient.objects.count()
    assert (before == 0) == empty

    def remove(cursor):
        if empty:
            cursor.execute("TRUNCATE patients_patient CASCADE")
        else:
            cursor.execute("DELETE FROM patients_patient WHERE practice_id = %s", [practice.pk])
            cursor.execute("VACUUM patients_patient")

    times = []
    for _ in range(2):
        with connection.cursor() as cursor:
            t0 = time.perf_counter()
            # Autocommit: the COPY is its own transaction, so its deferred foreign-key checks run.
            with open(stored, "rb") as f, cursor.cursor.copy(
                    f"COPY patients_patient ({columns}) FROM STDIN (FORMAT csv)") as copy:
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            times.append(time.perf_counter() - t0)
            cursor.execute("SELECT count(*) FROM patients_patient")
            assert cursor.fetchone()[0] == before + rows
            remove(cursor)
    stored.unlink()
    best = min(times)
    where = "the empty patients_patient" if empty else f"patients_patient holding {before:,} rows"
    print(f"Reference: COPY into {where} (indexes, FK to practice): {rows / best:>9,.0f} rows/s  "
          f"{best:6.2f}s (runs: {', '.join(f'{t:.2f}s' for t in times)})", flush=True)
    return rows / best


if __name__ == "__main__":
    main()
