"""The QuickPay page and Stripe's webhook under concurrent clients, beside a trivial view.

    .venv/bin/python bench/quickpay.py [--clients 16] [--page-requests 4000] [--webhooks 1000]

Starts its own PostgreSQL and Redis (bin/services) and gunicorn on the test profile (plus a
trivial view that touches no database, through the same middleware). It creates an office with
online payments on, one guarantor per webhook with a balance, a QuickPay link each and a pending
checkout each. Then, from --clients threads:

1. the trivial view, then the QuickPay page (GET /p/<token>: link, balance, one open recorded);
2. one `checkout.session.completed` event per guarantor, signed as Stripe signs them, in a
   shuffled order; then every one of them again (Stripe's retries), which must change nothing.

Prints requests/s and the server's own time per request (gunicorn's %(D)s: from the request
read to the response written, without the wait in the listen queue), p50 and p95, and checks
every payment: succeeded once, balance lowered by exactly its amount, one receipt, one change
number each. Goals: the page's p95 under 50 ms; the webhooks done in under 10 s.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchkit import free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.payments.fake_stripe import event, sign  # noqa: E402 - after the path is set

PAGE_P95_GOAL_MS = 50
WEBHOOK_GOAL_S = 10


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def request(port: int, method: str, path: str, body: bytes = b"", headers=None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body, headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


class App:
    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="bo-bench-qp-"))
        self.env = dict(os.environ)
        self.port = free_port()
        self.access_log = self.tmp / "access.log"
        self.proc = None

    def start(self):
        out = subprocess.run(["bin/services", "start", str(self.tmp)], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            name, _, value = line.partition("=")
            if name in ("DATABASE_URL", "REDIS_URL"):
                self.env[name] = value
        self.env.update({"DJANGO_SETTINGS_MODULE": "bench.quickpay_settings", "DATABASE_CONN_MAX_AGE": "60",
                         "PYTHONPATH": str(ROOT), "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}"})
        os.environ.update(self.env)
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=self.env,
                       check=True, capture_output=True)

    def serve(self):
        log = open(self.tmp / "web.log", "w")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-w", str(self.args.web_workers),
             "-b", f"127.0.0.1:{self.port}", "--backlog", "256", "--log-level", "warning",
             "--access-logfile", str(self.access_log), "--access-logformat", "%(m)s %(U)s %(s)s %(D)s"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if request(self.port, "GET", "/bench/trivial") == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("gunicorn did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        subprocess.run(["bin/services", "stop", str(self.tmp)], cwd=ROOT, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


def seed(count: int):
    """An office, `count` guarantors with balances, a link and a pending checkout each."""
    from decimal import Decimal

    from patients.models import Balance, Patient
    from payments.models import Payment, PaymentSettings
    from payments.quickpay import LinkRequest, quickpay_link_find, quickpay_links_mint
    from practices.services import practice_create

    practice = practice_create(name="Bench Dental", time_zone="America/Chicago", phone="+13125550100")
    practice.addon_online_payments = True
    practice.save()
    PaymentSettings.objects.create(practice=practice, stripe_account_id="acct_1BenchDental")
    Patient.objects.bulk_create([Patient(practice=practice, external_id=f"B-{n}", first_name="Pat",
                                         last_name=f"Bench{n}") for n in range(count)])
    patients = list(Patient.objects.filter(practice=practice).order_by("pk"))
    Patient.objects.filter(practice=practice).update(guarantor_id=models_f("id"))
    Balance.objects.bulk_create([Balance(practice=practice, guarantor=p, total=Decimal("300.00"),
                                         amount_due=Decimal("120.00"), aging_current=Decimal("300.00"))
                                 for p in patients])
    urls = quickpay_links_mint(practice=practice, items=[
        LinkRequest(guarantor_id=p.pk, notification_key=f"bench:{p.pk}", source="statement", channel="sms",
                    dunning_level=1) for p in patients])
    tokens = [url.rsplit("/", 1)[1] for url in urls]
    links = [quickpay_link_find(token=t) for t in tokens]
    rng = random.Random(7)
    amounts = [Decimal(rng.randint(100, 30000)) / 100 for _ in patients]
    Payment.objects.bulk_create([
        Payment(practice=practice, guarantor=p, link=link, attempt=f"bench-{n}", amount=amount,
                gateway="stripe", stripe_account_id="acct_1BenchDental", checkout_session_id=f"cs_bench_{n}",
                payer_email=f"payer{n}@example.test")
        for n, (p, link, amount) in enumerate(zip(patients, links, amounts, strict=True))])
    return practice, tokens, amounts


def models_f(name):
    from django.db.models import F

    return F(name)


def run(port: int, clients: int, jobs: list) -> tuple[float, list[int]]:
    statuses: list[int] = []
    lock = threading.Lock()

    def one(job):
        status = request(port, *job)
        with lock:
            statuses.append(status)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, jobs))
    return time.perf_counter() - t0, statuses


def server_times(log: Path, start_line: int) -> dict[str, list[float]]:
    times = defaultdict(list)
    lines = log.read_text().splitlines()[start_line:]
    for line in lines:
        _method, path, _status, micros = line.split()
        kind = "page" if path.startswith("/p/") else "webhook" if path.startswith("/webhooks/") else "trivial"
        times[kind].append(int(micros) / 1000)
    return times


def log_lines(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def report(name: str, wall: float, statuses: list[int], ms: list[float]):
    bad = sum(1 for s in statuses if s >= 300)
    print(f"{name:<22} {len(statuses):>6} requests in {wall:6.2f} s = {len(statuses) / wall:7.0f} req/s   "
          f"server time p50 {percentile(ms, 50):6.1f} ms  p95 {percentile(ms, 95):6.1f} ms   "
          f"(answers >= 300: {bad})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--page-requests", type=int, default=4000)
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--web-workers", type=int, default=4)
    args = parser.parse_args()

    app = App(args)
    try:
        app.start()
        import django

        django.setup()
        from django.conf import settings
        from django.db.models import Sum

        from notifications.models import Notification
        from patients.models import Balance
        from payments.models import GatewayEvent, Payment

        practice, tokens, amounts = seed(args.webhooks)
        app.serve()
        print(f"{args.clients} clients, gunicorn with {args.web_workers} sync workers on PostgreSQL; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
        # Warm-up: each worker's connection and templates.
        run(app.port, args.clients, [("GET", f"/p/{tokens[n % len(tokens)]}") for n in range(200)])
        run(app.port, args.clients, [("GET", "/bench/trivial")] * 200)

        mark = log_lines(app.access_log)
        wall, statuses = run(app.port, args.clients, [("GET", "/bench/trivial")] * args.page_requests)
        time.sleep(0.5)
        report("trivial view", wall, statuses, server_times(app.access_log, mark)["trivial"])
        mark = log_lines(app.access_log)
        jobs = [("GET", f"/p/{tokens[n % len(tokens)]}") for n in range(args.page_requests)]
        wall, statuses = run(app.port, args.clients, jobs)
        time.sleep(0.5)
        page_ms = server_times(app.access_log, mark)["page"]
        report("QuickPay page", wall, statuses, page_ms)

        secret = settings.STRIPE_WEBHOOK_SECRET
        deliveries = []
        for n, amount in enumerate(amounts):
            session = {"id": f"cs_bench_{n}", "object": "checkout.session", "amount_total": int(amount * 100),
                       "currency": "usd", "payment_status": "paid", "status": "complete",
                       "payment_intent": f"pi_bench_{n}",
                       "customer_details": {"email": f"payer{n}@example.test"}}
            completed = event("checkout.session.completed", session, account="acct_1BenchDental")
            payload = json.dumps(completed).encode()
            deliveries.append(payload)
        random.Random(11).shuffle(deliveries)
        jobs = [("POST", "/webhooks/stripe", payload,
                 {"Content-Type": "application/json", "Stripe-Signature": sign(payload, secret)})
                for payload in deliveries]
        before = Balance.objects.filter(practice=practice).aggregate(s=Sum("total"))["s"]
        mark = log_lines(app.access_log)
        wall, statuses = run(app.port, args.clients, jobs)
        time.sleep(0.5)
        report("webhook", wall, statuses, server_times(app.access_log, mark)["webhook"])
        # Stripe delivers again (a retry, a replay): every event once more, in another order.
        random.Random(12).shuffle(jobs)
        mark = log_lines(app.access_log)
        again, statuses = run(app.port, args.clients, jobs)
        time.sleep(0.5)
        report("webhook, replayed", again, statuses, server_times(app.access_log, mark)["webhook"])

        succeeded = Payment.objects.filter(practice=practice, status="succeeded")
        after = Balance.objects.filter(practice=practice).aggregate(s=Sum("total"))["s"]
        paid = sum(amounts)
        seqs = sorted(succeeded.values_list("change_seq", flat=True))
        receipts = Notification.objects.filter(practice=practice, kind="payment_receipt").count()
        lowered_once = Balance.objects.filter(practice=practice).count() - sum(
            1 for total, amount in zip(Balance.objects.filter(practice=practice).order_by("guarantor_id")
                                       .values_list("total", flat=True), amounts, strict=True)
            if total == 300 - amount)
        contiguous = seqs == list(range(1, len(seqs) + 1))
        print(f"payments: {succeeded.count()} of {args.webhooks} succeeded; events recorded "
              f"{GatewayEvent.objects.count()}; balances lowered by {before - after} (paid {paid}); "
              f"balances not lowered exactly once: {lowered_once}; receipts {receipts}; change numbers "
              f"{f'1..{len(seqs)} each once' if contiguous else 'NOT contiguous'}")
        ok_page = percentile(page_ms, 95) < PAGE_P95_GOAL_MS
        ok_hooks = (wall < WEBHOOK_GOAL_S and succeeded.count() == args.webhooks and before - after == paid
                    and lowered_once == 0 and receipts == args.webhooks)
        print(f"goal: page p95 < {PAGE_P95_GOAL_MS} ms: {'met' if ok_page else 'MISSED'}; "
              f"{args.webhooks} webhooks < {WEBHOOK_GOAL_S} s with no lost or double-counted "
              f"payment: {'met' if ok_hooks else 'MISSED'}")
    finally:
        app.stop()


if __name__ == "__main__":
    main()
