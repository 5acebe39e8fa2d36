"""Locust users for bench/load_portal.py: staff members signing in and paging the portal.

Run by load_portal.py (`locust -f bench/portal_users.py`), which passes the practice's logins
and guarantor ids in the environment. Each user signs in once, then, with one to five seconds
of reading between pages: pages through the patient list, through the notification history, opens
a guarantor's account, and now and then a trivial view (the sign-in page of a signed-out
browser) whose time is the floor the others are read against.
"""

import os
import random
import re
import threading

from locust import HttpUser, between, task

EMAILS = os.environ["LOAD_EMAILS"].split(",")
PASSWORD = os.environ["LOAD_PASSWORD"]
GUARANTORS = [int(x) for x in os.environ["LOAD_GUARANTORS"].split(",")]
NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_next_email = iter(EMAILS)
_lock = threading.Lock()


class StaffMember(HttpUser):
    wait_time = between(1.0, 5.0)  # reading a page of fifty rows before the next

    def on_start(self):
        with _lock:
            email = next(_next_email)
        page = self.client.get("/accounts/login/", name="sign in: form")
        token = CSRF.search(page.text).group(1)
        with self.client.post("/accounts/login/", name="sign in", catch_response=True,
                              data={"username": email, "password": PASSWORD, "csrfmiddlewaretoken": token},
                              headers={"Referer": self.host + "/accounts/login/"}) as answer:
            if answer.url.rstrip("/").endswith("/accounts/login"):
                answer.failure("still on the sign-in page")

    def _pages(self, url: str, name: str):
        for _ in range(random.randint(1, 4)):
            with self.client.get(url, name=name, catch_response=True) as page:
                if page.status_code != 200 or "/accounts/login/" in page.url:
                    page.failure(f"{page.status_code} at {page.url}")
                    return
                found = NEXT_LINK.search(page.text)
            if not found:
                return
            url = found.group(1).replace("&amp;", "&")
            if url.startswith("?"):
                url = url_path(page.url) + url

    @task(3)
    def patient_list(self):
        self._pages("/patients/", "patient list")

    @task(3)
    def notification_history(self):
        self._pages("/notifications/history/", "notification history")

    @task(2)
    def guarantor_account(self):
        self.client.get(f"/patients/guarantors/{random.choice(GUARANTORS)}/", name="guarantor account")

    @task(1)
    def trivial_view(self):
        # Without the session cookie: the sign-in form of a signed-out browser.
        self.client.get("/accounts/login/", name="trivial view (sign-in form)",
                        headers={"Cookie": ""})


def url_path(url: str) -> str:
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
