"""On-demand balance notifications through their URLs: the send criteria, the form and its
preview, what a send writes (outbox row, QuickPay link, history, audit, no dunning change), the
add-on, other practices, hostile input."""

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from notifications.dispatch import drain_inline
from notifications.models import MessageTemplate, Notification, OptOut, Status
from patients.models import Balance, Patient
from payments.models import QuickPayLink
from payments.quickpay import PREVIEW_TOKEN, quickpay_link_find
from practices.models import AuditEvent
from statements.models import ON_DEMAND_KIND, Dunning, OnDemandMessage
from statements.on_demand import on_demand_templates_create

from .conftest import item, make_guarantor, receive

pytestmark = pytest.mark.django_db


@pytest.fixture
def office(office):
    """Office A with the on-demand and online-payments add-ons and the default on-demand templates."""
    office.addon_on_demand = True
    office.addon_online_payments = True
    office.phone = "+13125550100"
    office.save()
    on_demand_templates_create(office)
    return office


@pytest.fixture
def ana(office):
    """A guarantor owing $250.00 who has had a batched statement (dunning level 1)."""
    g = make_guarantor(office, "G-ANA", balance="250.00", time_zone="America/Chicago")
    Balance.objects.filter(guarantor=g).update(amount_due="125.00")
    receive(office, "2026-11-A", [item(g, statement_date=_today(office), due_date=_today(office, 25))])
    return g


@pytest.fixture
def mia(office, ana):
    """Ana's daughter, with a mobile number of her own and no email."""
    p = Patient.objects.create(practice=office, external_id="P-MIA", first_name="Mia", last_name="Reyes",
                               mobile_phone="+13125550177", consent_sms=True, guarantor=ana)
    return p


@pytest.fixture
def staff(client_of, world, office):
    return client_of(world.staff_a)


def _sent():
    return Notification.objects.filter(kind=ON_DEMAND_KIND)


def _links():
    return QuickPayLink.objects.filter(source="on_demand")


def _today(practice, days=0):
    return (timezone.localdate(timezone.now(), practice.tz) + timedelta(days=days)).isoformat()


def _form_url(patient):
    return reverse("on_demand_send", args=[patient.pk])


def _fields(client, patient, **changes):
    """The form's fields as the page gives them, then `changes`."""
    form = client.get(_form_url(patient)).context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    return {**data, "action": "send", **changes}


def _awake_zone() -> str:
    """A time zone where it is now between 10:00 and 19:00, so a text goes at once."""
    return _zone_where(lambda hour: 10 <= hour < 19)


def _asleep_zone() -> str:
    return _zone_where(lambda hour: 1 <= hour < 6)


def _zone_where(wanted) -> str:
    now = datetime.now(UTC)
    for offset in range(-12, 15):
        name = f"Etc/GMT{'-' if offset >= 0 else '+'}{abs(offset)}"  # Etc/GMT-3 is UTC+3
        if wanted(now.astimezone(ZoneInfo(name)).hour):
            return name
    raise AssertionError("no zone found")


# --- send criteria ---

def test_the_form_lists_the_guarantor_and_each_person_with_the_address_used(staff, ana, mia):
    page = staff.get(_form_url(mia))
    form = page.context["form"]
    assert form.fields["guarantor"].choices == [(str(ana.pk), "Ana Reyes · balance $250.00")]
    assert form.fields["send_to"].choices == [
        ("patient:sms", "Mia Reyes (patient): text to (312) 555-0177"),
        ("guarantor:sms", "Ana Reyes (guarantor): text to (312) 555-0142"),
        ("guarantor:email", "Ana Reyes (guarantor): email to ana@example.test")]
    assert [label for _, label in form.fields["template"].choices] == ["On-demand text (v1)",
                                                                      "None: write the message"]
    assert "Hi Mia, here is the link to pay your balance of $250.00" in page.content.decode()


def test_someone_without_a_mobile_number_or_email_is_not_listed(staff, ana, mia):
    Patient.objects.filter(pk=mia.pk).update(mobile_phone="")
    mia.refresh_from_db()
    choices = staff.get(_form_url(mia)).context["form"].fields["send_to"].choices
    assert [value for value, _ in choices] == ["guarantor:sms", "guarantor:email"]


def test_the_form_starts_on_someone_who_agreed_to_be_contacted_and_says_who_did_not(staff, ana, mia):
    Patient.objects.filter(pk=mia.pk).update(consent_sms=False)
    mia.refresh_from_db()
    page = staff.get(_form_url(mia))
    form = page.context["form"]
    assert form["send_to"].value() == "guarantor:sms"
    assert dict(form.fields["send_to"].choices)["patient:sms"] == (
        "Mia Reyes (patient): text to (312) 555-0177 (no consent to texts)")
    assert page.context["check"].forecast.action != "refuse"  # it may wait for quiet hours to end


def test_without_a_batched_statement_nothing_can_be_sent_and_the_reason_is_where_the_button_would_be(
        staff, office):
    ben = make_guarantor(office, "G-BEN", first_name="Ben", balance="80.00")
    reason = "has never had a batched statement"
    dashboard = staff.get(reverse("patient_detail", args=[ben.pk])).content.decode()
    assert reason in dashboard and 'data-testid="on-demand-send"' not in dashboard
    account = staff.get(reverse("guarantor_detail", args=[ben.pk])).content.decode()
    assert reason in account
    assert reason in staff.get(_form_url(ben)).content.decode()
    refused = staff.post(_form_url(ben), {"action": "send", "guarantor": ben.pk, "send_to": "guarantor:sms",
                                         "body": "{{ practice.name }}", "send_key": "a" * 32})
    assert refused.status_code == 409 and not _sent().exists()


def test_with_no_contact_on_the_account_nothing_can_be_sent(staff, office):
    g = make_guarantor(office, "G-NONE", email="", mobile="", balance="10.00")
    receive(office, "b", [item(g)])
    page = staff.get(reverse("patient_detail", args=[g.pk])).content.decode()
    assert "neither the patient nor the guarantor has a mobile number or an email address" in page


def test_the_dashboard_and_the_account_offer_the_button(staff, ana, mia):
    dashboard = staff.get(reverse("patient_detail", args=[mia.pk])).content.decode()
    assert f'href="{_form_url(mia)}" data-testid="on-demand-send"' in dashboard
    account = staff.get(reverse("guarantor_detail", args=[ana.pk])).content.decode()
    assert f'href="{_form_url(ana)}" data-testid="on-demand-send"' in account


# --- a send ---

def test_a_text_goes_through_the_outbox_with_a_link_attributed_to_it_and_no_dunning_change(
        staff, world, office, ana, mia):
    Patient.objects.filter(pk=mia.pk).update(time_zone=_awake_zone())
    before = Dunning.objects.get(guarantor=ana)
    response = staff.post(_form_url(mia), _fields(staff, mia))
    assert response.status_code == 302
    assert response.url.endswith(f"/patients/guarantors/{ana.pk}/#statements-h")

    n = _sent().get()
    assert (n.recipient_id, n.channel, n.address, n.addon, n.template_name, n.template_version) == (
        mia.pk, "sms", "+13125550177", "on_demand", "On-demand text", "1")
    token = re.search(r"/p/([A-Za-z0-9_-]{22}) ", n.body).group(1)
    link = quickpay_link_find(token=token)
    assert (link.guarantor_id, link.notification_key, link.source, link.channel, link.dunning_level) == (
        ana.pk, n.idempotency_key, "on_demand", "sms", None)
    assert n.body.startswith("Lakeside Dental: Hi Mia, here is the link to pay your balance of $250.00")
    after = Dunning.objects.get(guarantor=ana)
    assert (after.count, after.statement_id, before.count) == (before.count, before.statement_id, 1)

    message = OnDemandMessage.objects.get()
    assert (message.guarantor_id, message.recipient_id, message.sent_by, message.edited) == (
        ana.pk, mia.pk, world.staff_a, False)
    event = AuditEvent.objects.get(action="on_demand.sent")
    assert (event.actor, event.target) == (world.staff_a, f"guarantor {ana.pk}")
    assert event.detail["notification"] == n.pk
    history = staff.get(response.url).content.decode()
    assert 'data-testid="on-demand-history"' in history and f"/notifications/{n.pk}/" in history
    assert "Text to Mia Reyes queued. It goes now." in history


def test_after_a_text_went_the_form_counts_it_toward_the_cap(staff, ana):
    """The forecast reads the texts sent lately (the contact policy's cap window): on SQLite too,
    whose raw queries give times without their zone."""
    Patient.objects.filter(pk=ana.pk).update(time_zone=_awake_zone())
    assert staff.post(_form_url(ana), _fields(staff, ana)).status_code == 302
    drain_inline()
    assert _sent().get().status == Status.SENT
    page = staff.get(_form_url(ana))
    assert page.status_code == 200 and page.context["check"].forecast.action == "send"
    with override_settings(NOTIFICATIONS_FREQUENCY_CAP=1):
        capped = staff.get(_form_url(ana)).context["check"].forecast
    assert (capped.action, "cap 1" in capped.text) == ("refuse", True)


def test_the_embedded_default_on_sqlite_shows_and_sends_the_same_way(tmp_path):
    """The form, a send and its history, run again in the embedded default's settings (SQLite)."""
    if connection.vendor == "sqlite":
        pytest.skip("this is the run on SQLite")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.embedded", "VAR_DIR": str(tmp_path)}
    here = Path(__file__).resolve()
    chosen = ["test_the_form_lists_the_guarantor_and_each_person_with_the_address_used",
              "test_a_text_goes_through_the_outbox_with_a_link_attributed_to_it_and_no_dunning_change",
              "test_after_a_text_went_the_form_counts_it_toward_the_cap",
              "test_quiet_hours_still_apply_and_the_form_says_when_it_will_wait"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-W", "ignore",
         *(f"{here}::{name}" for name in chosen)],
        cwd=here.parents[2], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"{len(chosen)} passed" in result.stdout


def test_the_same_form_sent_twice_sends_once(staff, ana):
    data = _fields(staff, ana)
    first, second = staff.post(_form_url(ana), data), staff.post(_form_url(ana), data)
    assert first.status_code == second.status_code == 302
    assert _sent().count() == 1 == _links().count()
    assert "sent already" in staff.get(second.url).content.decode()


def test_an_edited_text_and_a_corrected_number_apply_to_this_send_only(staff, ana):
    data = _fields(staff, ana, address=" 312.555.0199 ",
                   body="{{ practice.name }}: {{ patient.first_name }}, as promised: {{ quickpay_link }}")
    staff.post(_form_url(ana), data)
    n = _sent().get()
    assert n.address == "+13125550199" and n.body.startswith("Lakeside Dental: Ana, as promised: http")
    assert n.template_version == "1 (edited)"
    message = OnDemandMessage.objects.get()
    assert message.address_corrected and message.edited
    ana.refresh_from_db()
    assert ana.mobile_phone == "+13125550142"


@pytest.mark.parametrize("address, why", [
    ("12", "not a valid phone number"), ("call me", "not a phone number"),
    ("+1 312 555 01", "not a valid phone number")])
def test_a_corrected_number_that_is_not_one_is_refused_naming_the_field(staff, ana, address, why):
    response = staff.post(_form_url(ana), _fields(staff, ana, address=address))
    assert response.status_code == 400 and why in " ".join(response.context["form"].errors["address"])
    assert not _sent().exists() and not _links().exists()


def test_a_corrected_email_is_checked_too(staff, ana):
    fields = _fields(staff, ana, send_to="guarantor:email", address="not-an-email")
    response = staff.post(_form_url(ana), fields)
    assert "not an email address" in " ".join(response.context["form"].errors["address"])


def test_choosing_another_channel_drops_the_address_typed_for_the_first(staff, ana):
    fields = _fields(staff, ana, action="preview", address="312.555.0199", send_to="guarantor:email")
    form = staff.post(_form_url(ana), fields).context["form"]
    assert form.value("address") == "" and not form.errors.get("address")
    kept = staff.post(_form_url(ana), _fields(staff, ana, action="preview", address="312.555.0199"))
    assert kept.context["form"].value("address") == "312.555.0199"


def test_an_email_uses_the_email_template_and_carries_its_link(staff, ana):
    fields = {**_fields(staff, ana), "action": "preview", "send_to": "guarantor:email"}
    refreshed = staff.post(_form_url(ana), fields)
    form = refreshed.context["form"]
    assert form.value("subject") == "Pay your balance at {{ practice.name }}"
    staff.post(_form_url(ana), {name: form[name].value() or "" for name in form.fields} | {"action": "send"})
    n = _sent().get()
    assert (n.channel, n.address) == ("email", "ana@example.test")
    assert n.subject == "Pay your balance at Lakeside Dental"
    assert "$250.00 ($125.00 due)" in n.body and "/unsubscribe/" in n.body
    assert _links().get().channel == "email"


def test_quiet_hours_still_apply_and_the_form_says_when_it_will_wait(staff, ana):
    Patient.objects.filter(pk=ana.pk).update(time_zone=_asleep_zone())
    page = staff.get(_form_url(ana)).content.decode()
    assert "Quiet hours: it will wait and go at 08:00" in page
    response = staff.post(_form_url(ana), _fields(staff, ana))
    assert "it will wait and go at 08:00" in staff.get(response.url).content.decode()
    assert _sent().get().status == Status.QUEUED


def test_an_opted_out_number_is_refused_before_anything_is_written(staff, office, ana):
    OptOut.objects.create(practice=office, channel="sms", address=ana.mobile_phone)
    assert "Will not send (opted out)" in staff.get(_form_url(ana)).content.decode()
    response = staff.post(_form_url(ana), _fields(staff, ana))
    assert response.status_code == 400 and "opted out" in " ".join(response.context["form"].errors["send_to"])
    assert not _sent().exists() and not OnDemandMessage.objects.exists()


def test_a_zero_balance_may_be_messaged_and_its_link_refuses_payment(staff, client, ana):
    Balance.objects.filter(guarantor=ana).update(total=0, amount_due=0)
    staff.post(_form_url(ana), _fields(staff, ana))
    n = _sent().get()
    assert "your balance of $0.00" in n.body
    path = re.search(r"(/p/[A-Za-z0-9_-]{22}) ", n.body).group(1)
    client.logout()
    page = client.get(path)
    assert page.status_code == 200 and page.context["page"].state == "nothing_to_pay"


def test_with_online_payments_off_the_message_gives_the_office_phone(staff, office, ana):
    office.addon_online_payments = False
    office.save()
    staff.post(_form_url(ana), _fields(staff, ana))
    assert "pay your balance of $250.00: (312) 555-0100 Reply" in _sent().get().body
    assert not _links().exists()


# --- templates, the preview ---

def test_only_on_demand_templates_of_the_channel_are_offered_and_a_balance_template_is_refused(
        staff, office, ana):
    form = staff.get(_form_url(ana)).context["form"]
    offered = {int(value) for value, _ in form.fields["template"].choices if value}
    assert offered == set(MessageTemplate.objects.filter(practice=office, purpose="on_demand", channel="sms")
                          .values_list("pk", flat=True))
    balance = MessageTemplate.objects.filter(practice=office, purpose="balance", channel="sms").first()
    response = staff.post(_form_url(ana), _fields(staff, ana, template=balance.pk, loaded=balance.pk))
    assert response.status_code == 400 and "template" in response.context["form"].errors
    assert not _sent().exists()


def test_a_balance_only_field_cannot_be_smuggled_into_the_text(staff, ana):
    response = staff.post(_form_url(ana), _fields(staff, ana, body="{{ practice.name }} {{ patient.ssn }}"))
    assert "is not a merge field" in " ".join(response.context["form"].errors["body"])


def test_the_preview_fills_the_fields_counts_segments_and_mints_nothing(staff, ana, settings):
    response = staff.post(_form_url(ana), {**_fields(staff, ana), "action": "preview",
                                           "body": "{{ practice.name }}: {{ quickpay_link }} ç"},
                          headers={"HX-Request": "true"})
    page = response.content.decode()
    assert 'id="od-form-body"' in page and "<html" not in page
    assert f"Lakeside Dental: {settings.PUBLIC_BASE_URL}/p/{PREVIEW_TOKEN} ç" in page
    assert "UCS-2" in page and not _links().exists()


SHORT = "{{ practice.name }}: pay {{ quickpay_link }}"


def test_choosing_another_template_puts_its_text_in_the_box(staff, office, ana):
    from notifications.message_templates import message_template_save

    other = message_template_save(practice=office, actor=None, purpose="on_demand", channel="sms",
                                  name="Short", subject="", body=SHORT)
    data = {**_fields(staff, ana), "action": "preview", "template": other.pk, "body": "typed by hand"}
    form = staff.post(_form_url(ana), data, headers={"HX-Request": "true"}).context["form"]
    assert (form.value("body"), form.value("loaded")) == (SHORT, str(other.pk))
    data["loaded"] = str(other.pk)
    kept = staff.post(_form_url(ana), data, headers={"HX-Request": "true"}).context["form"]
    assert kept.value("body") == "typed by hand"


def test_staff_see_no_manage_link_admins_do(staff, client_of, world, ana):
    assert 'data-testid="manage-templates"' not in staff.get(_form_url(ana)).content.decode()
    admin = client_of(world.admin_ab, office="lakeside")
    page = admin.get(_form_url(ana)).content.decode()
    assert 'href="/notifications/templates/?purpose=on_demand"' in page


def test_every_new_practice_gets_the_default_on_demand_templates_and_so_do_existing_ones(db):
    from importlib import import_module

    from django.apps import apps

    from practices.models import Practice
    from practices.services import practice_create

    new = practice_create(name="New Dental", time_zone="America/Chicago")
    older = Practice.objects.create(name="Older Dental", slug="older")
    migration = import_module("statements.migrations.0006_on_demand_templates_for_existing_practices")
    migration.forwards(apps, None)
    for practice in (new, older):
        assert sorted(MessageTemplate.objects.filter(practice=practice, purpose="on_demand")
                      .values_list("channel", "current_version")) == [("email", 1), ("sms", 1)]


# --- access ---

def test_with_the_add_on_off_the_form_is_closed_and_no_button_shows(staff, office, ana):
    office.addon_on_demand = False
    office.save()
    closed = staff.get(_form_url(ana))
    assert closed.status_code == 403 and "On-demand notifications is off" in closed.content.decode()
    assert staff.post(_form_url(ana), _fields_without_get(ana)).status_code == 403
    page = staff.get(reverse("guarantor_detail", args=[ana.pk])).content.decode()
    assert 'data-testid="on-demand-send"' not in page and not _sent().exists()


def _fields_without_get(ana):
    return {"action": "send", "guarantor": ana.pk, "send_to": "guarantor:sms", "template": "",
            "body": "{{ practice.name }}", "send_key": "b" * 32}


def test_another_practices_staff_cannot_open_or_send(client_of, world, office, ana):
    world.practice_c.addon_on_demand = True
    world.practice_c.save()
    other = client_of(world.staff_c)
    assert other.get(_form_url(ana)).status_code == 404
    assert other.post(_form_url(ana), _fields_without_get(ana)).status_code == 404
    assert not _sent().exists()


def test_another_practices_template_is_not_offered_nor_accepted(staff, world, ana):
    on_demand_templates_create(world.practice_c)
    theirs = MessageTemplate.objects.get(practice=world.practice_c, purpose="on_demand", channel="sms")
    response = staff.post(_form_url(ana), _fields(staff, ana, template=theirs.pk, loaded=theirs.pk))
    assert response.status_code == 400 and "template" in response.context["form"].errors


# --- hostile input ---

HUGE = [str(2**64), str(2**63), "9" * 5000]


@pytest.mark.parametrize("field, value", [
    *[(name, "\x00") for name in ("guarantor", "send_to", "address", "template", "loaded", "body", "subject",
                                  "send_key", "action")],
    *[(name, huge) for name in ("guarantor", "template", "loaded") for huge in HUGE],
    ("body", "{{ practice.name }} " + "x" * 1_000_000), ("address", "1" * 100_000),
    ("subject", "s" * 100_000),
    ("send_key", "../../etc"), ("body", "{{ practice.name }} \u202e {{ quickpay_link }}"),
    ("body", "{{ practice.name }} \x1b[2J\x07 {{ quickpay_link }}"), ("address", "+1 312 555\x070199"),
    ("address", "+1 312 555 0199 \x1b[0m"), ("address", "+99 1234"), ("address", "+1 312 555 0199 ext 9" * 3),
    ("guarantor", "-1"), ("guarantor", "1e5"), ("template", " 12 "), ("send_to", "guarantor:voice"),
])
def test_hostile_values_are_refused_by_field_never_a_server_error(staff, ana, field, value):
    data = _fields(staff, ana, **{field: value})
    for action in ("send", "preview"):
        response = staff.post(_form_url(ana), {**data, "action": action})
        assert response.status_code in (200, 302, 400), (action, response.status_code)
    sent = _sent()
    if field in ("action", "loaded") or value.startswith("{{ practice.name }} \u202e"):
        return  # harmless: a preview, a stale marker, or a text that is allowed
    assert not sent.exists(), field
    refused = staff.post(_form_url(ana), data)
    assert field in refused.context["form"].errors or field == "subject", refused.context["form"].errors


def test_ids_past_64_bits_in_the_path_are_not_found(staff):
    for huge in (2**63, 2**64, 10**30):
        assert staff.get(f"/statements/send/{huge}/").status_code == 404
