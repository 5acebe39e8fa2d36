"""Fixtures shared by the whole suite: personas, signed-in clients, a real Celery worker."""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

from practices.models import Practice, Role, User
from tests.factories import PASSWORD, MembershipFactory, PracticeFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run where
# a loop is running unless told it is safe, which it is here: the loop only drives the browser.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@dataclass
class World:
    """Three practices and four people.

    A and B are two offices of one group; C is another practice entirely.
    """

    practice_a: Practice
    practice_b: Practice
    practice_c: Practice
    admin_ab: User  # admin of offices A and B
    staff_a: User  # staff of A only
    staff_c: User  # staff of C only
    admin_c: User  # admin of C only
    password: str = PASSWORD


@pytest.fixture
def world(db) -> World:
    a = PracticeFactory(name="Lakeside Dental", slug="lakeside", time_zone="America/Chicago")
    b = PracticeFactory(name="Hillcrest Dental", slug="hillcrest", time_zone="America/Denver")
    c = PracticeFactory(name="Other Town Ortho", slug="other-town", time_zone="America/New_York")
    admin_ab = UserFactory(email="admin.ab@example.test")
    staff_a = UserFactory(email="staff.a@example.test")
    staff_c = UserFactory(email="staff.c@example.test")
    admin_c = UserFactory(email="admin.c@example.test")
    MembershipFactory(user=admin_ab, practice=a, role=Role.ADMIN)
    MembershipFactory(user=admin_ab, practice=b, role=Role.ADMIN)
    MembershipFactory(user=staff_a, practice=a, role=Role.STAFF)
    MembershipFactory(user=staff_c, practice=c, role=Role.STAFF)
    MembershipFactory(user=admin_c, practice=c, role=Role.ADMIN)
    return World(a, b, c, admin_ab, staff_a, staff_c, admin_c)


@pytest.fixture
def client_of(client):
    """Sign a user in on the test client: client_of(world.admin_ab, office="lakeside")."""

    def sign_in(user, office=None):
        client.force_login(user)
        if office:
            client.post(reverse("office_switch"), {"practice": office})
        return client

    return sign_in


def _test_database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


class WorkerProcess:
    """A real `celery worker` process on the test Redis and the test database."""

    def __init__(self, env_overrides=None, concurrency=1):
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": _test_database_url(),
            "EMAIL_BACKEND": "notifications.sandbox.SandboxEmailBackend",
            **(env_overrides or {}),
        }
        self.concurrency = concurrency
        self.proc = None
        self.log_path = None

    def start(self, tmp_path: Path):
        self.log_path = tmp_path / f"worker-{time.monotonic_ns()}.log"
        log = open(self.log_path, "w")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO",
             f"--concurrency={self.concurrency}", "--without-gossip", "--without-mingle",
             "--hostname", f"test-{os.getpid()}-{time.monotonic_ns()}@%h"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if "ready." in self.log_path.read_text():
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"worker did not start:\n{self.log_path.read_text()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path else ""


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    """Start a worker after the test's data exists: call the returned function to start it."""
    from django.core.cache import cache

    from config.celery_app import app
    from payments.alerts import KICK_KEY

    app.control.purge()
    cache.delete(KICK_KEY)  # the alert run an earlier test asked for went with the purge
    workers = []

    def start(**kwargs):
        worker = WorkerProcess(**kwargs).start(tmp_path)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_for(predicate, timeout=20.0, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture(scope="session")
def _embedded_migrated(tmp_path_factory) -> Path:
    """A var/ directory of the embedded profile with its SQLite database migrated, made once."""
    var = tmp_path_factory.mktemp("embedded-var")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.embedded", "VAR_DIR": str(var)})
    subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=300)
    return var


@pytest.fixture
def embedded_manage(_embedded_migrated, tmp_path):
    """Run manage.py with the embedded profile (SQLite) on a fresh copy of a migrated database:
    embedded_manage("shell", "-c", script) -> its output."""
    import shutil

    var = tmp_path / "var"
    shutil.copytree(_embedded_migrated, var)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.embedded", "VAR_DIR": str(var)})

    def manage(*args):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    return manage


# Browser tests: one headless Chromium (Debian's package) per session, a fresh context per test.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Debian's package) for the whole run, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.csp_errors = []
    page.on("console", lambda msg: msg.type == "error" and "Content Security Policy" in msg.text
            and page.csp_errors.append(msg.text))
    yield page
    context.close()
