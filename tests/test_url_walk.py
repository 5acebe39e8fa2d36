"""Walk every URL pattern of the portal.

The staff member of practice C must never get a 200 on an office-A object, and an anonymous
visitor must be sent to sign in. A new URL with a new kind of argument fails here until the
argument is added to OBJECT_ARGS, so no screen escapes the check.
"""

import os
import subprocess
import sys
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.http import QueryDict
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.datastructures import MultiValueDict

from practices.models import Membership
from practices.services import api_key_create, team_invite

# URL names that are public by design (sign-in pages, the API with its own key auth).
PUBLIC = {
    "login", "logout", "password_reset", "password_reset_done", "password_reset_confirm",
    "password_reset_complete",
    "twilio_status", "twilio_inbound", "email_unsubscribe",  # signed by the provider / the link
    "invitation_open", "invitation_accept",  # the emailed link's token
    "stripe_webhook", "quickpay", "quickpay_paid", "sandbox_checkout",  # signed / an unguessable token
}
PUBLIC_PREFIXES = ("api-v1:", "anymail:")


def _patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from _patterns(entry, namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield prefix + entry.name, entry


def _object_args(world):
    key, _ = api_key_create(practice=world.practice_a, label="a")
    from notifications.models import SandboxMessage
    from payments.models import Application

    outbox = SandboxMessage.objects.create(practice=world.practice_a, channel="email",
                                           to="x@example.test", subject="A's message")
    from notifications.services import Recipient, notification_schedule

    notification = notification_schedule(
        practice=world.practice_a, recipient=Recipient(kind="patient", id=1, name="A's patient"),
        channel="email", address="a-patient@example.test", kind="test", body="A's message",
        idempotency_key="url-walk")
    application = Application.objects.create(
        practice=world.practice_a, external_id="app-a", patient_external_id="p-a",
        patient_first_name="Ann", patient_last_name="Lakeside", state="started", state_at=key.created_at)
    from patients.models import Patient, PatientImport

    patient = Patient.objects.create(practice=world.practice_a, external_id="A-1", first_name="Ann",
                                     last_name="Lakeside")
    patient.guarantor = patient
    patient.save()
    patient_import = PatientImport.objects.create(practice=world.practice_a, file="patient-imports/a.csv",
                                                  original_name="a.csv")
    from payments.quickpay import LinkRequest, quickpay_links_mint

    [link_url] = quickpay_links_mint(practice=world.practice_a, items=[LinkRequest(
        guarantor_id=patient.pk, notification_key="url-walk", source="manual", channel="qr")])
    from payments.models import ContactFix, PaymentRequestCampaign
    from payments.quickpay import quickpay_link_find

    campaign = PaymentRequestCampaign.objects.create(
        practice=world.practice_a, guarantor=patient, started_at=key.created_at,
        started_on=key.created_at.date(),
        state="undeliverable", state_at=key.created_at, undeliverable_reason="no_contact")
    fix = ContactFix.objects.create(practice=world.practice_a, guarantor=patient, mobile_phone="+13125550199")
    from statements.models import BatchSource, StatementUpload
    from statements.profiles import standard_profile_create
    from statements.services import statement_batch_receive

    profile = standard_profile_create(world.practice_a)
    batch = statement_batch_receive(practice=world.practice_a, batch_id="walk", profile_slug=None,
                                    items=enumerate([{"guarantor_external_id": "A-1"}]),
                                    source=BatchSource.API).batch
    statement_upload = StatementUpload.objects.create(
        practice=world.practice_a, file="statement-uploads/a.csv", original_name="a.csv", batch_id="up",
        profile=profile)
    return {
        "batch_id": batch.pk,
        "upload_id": statement_upload.pk,
        "profile_id": profile.pk,
        "step_id": profile.steps.first().pk,
        "template_id": profile.steps.first().template_id,
        "notification_id": notification.pk,
        "application_id": application.pk,
        "member_id": Membership.objects.get(practice=world.practice_a, user=world.staff_a).pk,
        "api_key_id": key.pk,
        "message_id": outbox.pk,
        "patient_id": patient.pk,
        "guarantor_id": patient.pk,
        "import_id": patient_import.pk,
        "invitation_id": team_invite(practice=world.practice_a, email="new@example.test",
                                     role="staff", actor=world.admin_ab).pk,
        "link_id": quickpay_link_find(token=link_url.rsplit("/", 1)[1]).pk,
        "campaign_id": campaign.pk,
        "fix_id": fix.pk,
    }


def _portal_urls(world):
    args = _object_args(world)
    urls = []
    for name, pattern in _patterns():
        if name in PUBLIC or name.startswith(PUBLIC_PREFIXES):
            continue
        params = list(pattern.pattern.converters)
        missing = [p for p in params if p not in args]
        assert not missing, f"URL {name!r} takes {missing}: add them to OBJECT_ARGS in this test"
        urls.append((name, reverse(name, kwargs={p: args[p] for p in params})))
    return urls


def test_every_portal_url_is_found(world):
    names = {name for name, _ in _portal_urls(world)}
    assert {"dashboard", "team", "api_keys", "dev_outbox", "team_member_remove"} <= names


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    for name, url in _portal_urls(world):
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 302, (name, method, response.status_code)
            assert response["Location"].startswith(reverse("login")), (name, method)


@pytest.mark.parametrize("method", ["get", "post"])
def test_practice_c_staff_never_gets_office_a_objects(client_of, world, method):
    client = client_of(world.staff_c)
    for name, url in _portal_urls(world):
        response = getattr(client, method)(url)
        body = response.content.decode(errors="replace")
        has_object_args = bool(list(get_resolver().resolve(url).kwargs))
        if has_object_args:
            assert response.status_code != 200, (name, method)
            assert response.status_code in (302, 403, 404, 405), (name, method, response.status_code)
        assert "Lakeside Dental" not in body, (name, method)
        assert "staff.a@example.test" not in body, (name, method)
    assert Membership.objects.filter(practice=world.practice_a).count() == 2


# --- hostile query strings and form values ---

HOSTILE = [
    "\x00", "\x1b[2J\r\n\t\u202e\u2066", str(2**63), "9" * 5000, "1e999999999", "\uff19\uff19",
    "0001-01-01", "9999-12-31", "0001-01-01T00:00:00+05:00_1",
    "9999-12-31T23:59:59-05:00_18446744073709551616",
]
HUGE_IDS = [2**63, 2**64, 10**30]
# Marks of the two sources a view reads: the query string, and the form body.
QUERY_MARK, BODY_MARK = "walk-query", "walk-body"


@contextmanager
def _names_read():
    """(source, name) for each name a view reads from its query string ("query") or its form
    body ("body"), told apart by the mark each carries."""
    read: set[tuple[str, str]] = set()
    originals = {name: getattr(MultiValueDict, name) for name in ("get", "getlist", "__getitem__")}

    def recording(method):
        def wrapper(self, key, *args, **kwargs):
            if isinstance(self, QueryDict) and key not in (QUERY_MARK, BODY_MARK):
                if dict.__contains__(self, QUERY_MARK):
                    read.add(("query", key))
                elif dict.__contains__(self, BODY_MARK):
                    read.add(("body", key))
            return originals[method](self, key, *args, **kwargs)
        return wrapper

    for method in originals:
        setattr(MultiValueDict, method, recording(method))
    try:
        yield read
    finally:
        for method, original in originals.items():
            setattr(MultiValueDict, method, original)


def _discover(client, urls):
    """url name -> (url, [(method, source, name)]): what each URL reads, each name once (a form
    that reads the query string on GET and the body on POST is tried on GET)."""
    found = {}
    for name, url in urls:
        inputs = []
        for method in ("get", "post"):
            with _names_read() as read:
                getattr(client, method)(f"{url}?{QUERY_MARK}=1", {BODY_MARK: "1"} if method == "post" else {})
            inputs += [(method, source, key) for source, key in sorted(read)
                       if key not in {k for _, _, k in inputs}]
        found[name] = (url, inputs)
    # URLs that read exactly the same names share the code that reads them (the queue, history
    # and errors lists): the first is tried. A name most URLs read (the middleware's) is tried on
    # the first URL that reads it.
    seen_sets = set()
    for _, inputs in found.values():
        names = frozenset(key for _, _, key in inputs)
        if names in seen_sets:
            inputs.clear()
        seen_sets.add(names)
    counts = Counter(key for _, inputs in found.values() for _, _, key in inputs)
    shared = {key for key, n in counts.items() if n > len(found) // 2}
    done: set[str] = set()
    for _, inputs in found.values():
        kept = []
        for method, source, key in inputs:
            if key in shared:
                if key in done:
                    continue
                done.add(key)
            kept.append((method, source, key))
        inputs[:] = kept
    return found


def test_no_portal_url_answers_500_to_hostile_values_in_what_it_reads(client_of, world):
    """Each URL, signed in as an admin of the office that owns its objects: first a GET and a POST
    to learn which names it reads (from the query string or the form body), then every hostile
    value in each of them alone; ids past 64 bits in the path. It never answers 500."""
    from practices.models import Practice

    # The office furthest east of UTC: its midnight of 0001-01-01 is in the year 0 in UTC.
    # Online payments on: the screens behind that add-on read their inputs too.
    Practice.objects.filter(pk=world.practice_a.pk).update(time_zone="Pacific/Kiritimati",
                                                           addon_online_payments=True)
    client = client_of(world.admin_ab, office="lakeside")
    client.raise_request_exception = False
    errors, tried = [], set()
    for name, (url, inputs) in _discover(client, _portal_urls(world)).items():
        for method, source, key in inputs:
            for value in HOSTILE:
                if source == "query":
                    response = getattr(client, method)(f"{url}?{urlencode({key: value})}")
                else:
                    response = client.post(url, {key: value})
                tried.add((name, key))
                if response.status_code >= 500:
                    errors.append((name, method, key, value[:40], response.status_code))
        kwargs = get_resolver().resolve(url).kwargs
        for arg in kwargs:
            for huge in HUGE_IDS:
                response = client.get(reverse(name, kwargs={**kwargs, arg: huge}))
                if response.status_code >= 500:
                    errors.append((name, "get", arg, huge, response.status_code))
    names_tried = {key for _, key in tried}
    assert {"q", "after", "date_to", "date_from", "ids", "page", "twilio_messaging_service_sid",
            "time_zone"} <= names_tried
    assert not errors, errors


def test_the_embedded_default_on_sqlite_answers_no_500_to_the_same_values(tmp_path):
    """SQLite converts every time to UTC in Python and refuses integers past 64 bits: the walk
    above, run again in the embedded default's settings."""
    if connection.vendor == "sqlite":
        pytest.skip("this is the run on SQLite")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.embedded", "VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore",
         f"{__file__}::test_no_portal_url_answers_500_to_hostile_values_in_what_it_reads"],
        cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout
