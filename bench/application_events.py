"""Application events over HTTP to emails handed to the mail backend: throughput and latency.

    .venv/bin/python bench/application_events.py [--events 10000] [--concurrency 8] [--members 2]

Starts its own PostgreSQL and Redis (bin/services), migrates, creates an office with team members
and an API key, and runs the app under gunicorn with a real Celery worker, both on the test
profile with the sandbox mail backend (one row per email, stamped when the backend gets it).
Then it posts the events (declined, activated and pre-qualified in turn: each alerts every
member at once) from a pool of client threads and waits for every email.

Prints events/s accepted by the API and the time from the start of each API call to each of
its emails reaching the mail backend (p50, p95, p99, max). The outbox's per-sender email rate
(NOTIFICATIONS_RATE_EMAIL, a provider limit) is raised to --email-rate, since the sandbox
backend has no rate to honour; lower it to see the provider's pacing instead.

The machine may be shared, so it also prints the CPU time each part used per event (web,
worker, PostgreSQL, Redis, this client) and the load average: read figures taken on a busy
machine beside those.
"""

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from benchkit import free_port

ROOT = Path(__file__).resolve().parent.parent
TYPES = ("declined", "activated", "prequalified")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class App:
    """The services, the web server and the worker this benchmark starts (and stops)."""

    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="bo-bench-"))
        self.procs: list[subprocess.Popen] = []
        self.env = dict(os.environ)
        self.port = free_port()

    def manage(self, *argv) -> str:
        return subprocess.run([sys.executable, "manage.py", *argv], cwd=ROOT, env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def start(self) -> tuple[str, str]:
        out = subprocess.run(["bin/services", "start", str(self.tmp)], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            name, _, value = line.partition("=")
            if name in ("DATABASE_URL", "REDIS_URL"):
                self.env[name] = value
        self.env.update({
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "EMAIL_BACKEND": "notifications.sandbox.SandboxEmailBackend",
            "NOTIFICATIONS_RATE_EMAIL": str(self.args.email_rate),
            "DATABASE_CONN_MAX_AGE": "60",  # connections kept, as production keeps them
        })
        os.environ.update(self.env)
        self.manage("migrate", "--noinput")
        slug = self.manage("create_practice", "--name", "Bench Dental", "--timezone",
                           "America/Chicago").strip().splitlines()[-1]
        for i in range(self.args.members):
            self.manage("add_team_member", "--practice", slug, "--email", f"member{i}@bench.test",
                        "--role", "staff", "--password", "bench-pass-2026")
        key = self.manage("create_api_key", "--practice", slug).strip().splitlines()[-1]
        logs = self.tmp / "logs"
        logs.mkdir()
        self._spawn([sys.executable, "-m", "gunicorn", "config.wsgi", "-w", str(self.args.web_workers),
                     "-b", f"127.0.0.1:{self.port}", "--log-level", "warning"], logs / "web.log")
        self._spawn([sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=WARNING",
                     f"--concurrency={self.args.worker_concurrency}", "--without-gossip",
                     "--without-mingle", "--hostname", f"bench-{os.getpid()}@%h"], logs / "worker.log")
        return slug, key

    def _spawn(self, argv, log_path):
        log = open(log_path, "w")  # noqa: SIM115 - lives as long as the process
        self.procs.append(subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log,
                                           stderr=subprocess.STDOUT))

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of the web server, the worker, PostgreSQL and Redis."""
        postmaster = int((self.tmp / "pg" / "postmaster.pid").read_text().split()[0])
        redis = int((self.tmp / "redis.pid").read_text().split()[0])
        web, worker = self.procs
        return {"web": tree_cpu(web.pid), "worker": tree_cpu(worker.pid), "postgres": tree_cpu(postmaster),
                "redis": tree_cpu(redis), "client": os.times().user + os.times().system}

    def stop(self):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(["bin/services", "stop", str(self.tmp)], cwd=ROOT, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


def post(port: int, key: str, body: dict) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/api/v1/applications/events", json.dumps(body),
                           {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def event(n: int) -> dict:
    return {"event_id": f"bench-{n}", "application_id": f"app-{n}", "type": TYPES[n % len(TYPES)],
            "occurred_at": datetime.now(UTC).isoformat(),
            "patient": {"external_id": f"p-{n}", "first_name": "Pat", "last_name": "Bench"}}


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds of the process and of its children it has waited for)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), sum(int(x) for x in fields[11:15]) / CLOCK_TICKS


def tree_cpu(root: int) -> float:
    """CPU seconds used by a process and all its descendants, living or exited."""
    stats = {int(p): _stat(int(p)) for p in os.listdir("/proc") if p.isdigit()}
    children: dict[int, list[int]] = {}
    for pid, stat in stats.items():
        if stat:
            children.setdefault(stat[0], []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if stats.get(pid):
            total += stats[pid][1]
            todo += children.get(pid, [])
    return total


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise SystemExit(f"timed out waiting for {what}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8, help="client threads posting events")
    parser.add_argument("--members", type=int, default=2, help="team members alerted per event")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--worker-concurrency", type=int, default=4,
                        help="with 2, the worker fell behind the API on this machine")
    parser.add_argument("--email-rate", type=float, default=100_000.0)
    parser.add_argument("--rate", type=float, default=0.0,
                        help="pace the calls at this many events/s (0: as fast as the threads go)")
    args = parser.parse_args()

    app = App(args)
    try:
        _, key = app.start()
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from notifications.models import Notification, SandboxMessage
        from payments.models import Application

        wait_until(lambda: _reachable(app.port, key), 60, "the web server")
        # Warm-up: one event through the whole path proves the worker is consuming.
        assert post(app.port, key, event(-1)) == 202
        wait_until(lambda: SandboxMessage.objects.count() >= args.members, 60, "the warm-up email")
        baseline = SandboxMessage.objects.count()

        started: dict[int, float] = {}
        failures = []
        lock = threading.Lock()

        def send(n: int):
            body = event(n)
            if args.rate:
                delay = t0 + n / args.rate - time.time()
                if delay > 0:
                    time.sleep(delay)
            t = time.time()
            status = post(app.port, key, body)
            with lock:
                started[n] = t
                if status != 202:
                    failures.append(status)

        print(f"posting {args.events} events from {args.concurrency} threads to gunicorn "
              f"({args.web_workers} workers), Celery worker concurrency {args.worker_concurrency}, "
              f"{args.members} members per office"
              f"{f', paced at {args.rate:g} events/s' if args.rate else ''} ...", flush=True)
        cpu_before = app.cpu()
        t0 = time.time()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(send, range(args.events)))
        posted = time.time() - t0
        expected = baseline + args.events * args.members
        wait_until(lambda: SandboxMessage.objects.count() >= expected, 900, "every email")
        drained = time.time() - t0
        cpu_after = app.cpu()
        load = os.getloadavg()

        numbered = Application.objects.filter(external_id__regex=r"^app-\d+$")
        app_index = {pk: int(ext.split("-", 1)[1]) for pk, ext in numbered.values_list("pk", "external_id")}
        key_of = dict(Notification.objects.values_list("pk", "idempotency_key"))
        latencies = []
        for metadata, handed_at in SandboxMessage.objects.values_list("metadata", "created_at"):
            idem = key_of.get(int(metadata.get("notification", 0)), "")
            parts = idem.split(":")
            n = app_index.get(int(parts[1])) if len(parts) == 4 and parts[0] == "app-alert" else None
            if n is not None and n in started:
                latencies.append(handed_at.timestamp() - started[n])

        print(f"events: {args.events} posted in {posted:.1f} s = {args.events / posted:.0f} events/s "
              f"(non-202 answers: {len(failures)})")
        print(f"emails: {len(latencies)} handed to the mail backend; all done {drained:.1f} s after "
              f"the first call = {len(latencies) / drained:.0f} emails/s")
        ms = {p: percentile(latencies, p) * 1000 for p in (50, 95, 99)}
        print("API call -> email handed to the mail backend: "
              f"p50 {ms[50]:.0f} ms, p95 {ms[95]:.0f} ms, p99 {ms[99]:.0f} ms, "
              f"max {max(latencies) * 1000:.0f} ms")
        used = {part: (cpu_after[part] - cpu_before[part]) * 1000 / args.events for part in cpu_after}
        print("CPU per event: " + ", ".join(f"{part} {ms:.1f} ms" for part, ms in used.items())
              + f" (total {sum(used.values()):.1f} ms); load average {load[0]:.1f} "
              f"on {os.cpu_count()} CPUs at the end")
    finally:
        app.stop()


def _reachable(port: int, key: str) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/api/v1/practice", headers={"Authorization": f"Bearer {key}"})
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False


if __name__ == "__main__":
    main()
