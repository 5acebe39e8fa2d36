"""The statements screens through their URLs: dashboard and panel, batch page, CSV upload,
profiles (steps, proof, approval, test sends, preview), the template editor, the account page."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from notifications.dispatch import drain_inline
from notifications.models import MessageTemplate, Notification, SandboxMessage, Status
from notifications.services import notifications_cancel_many
from statements.models import BatchSource, Statement, StatementBatch, StatementProfile, StatementUpload

from .conftest import item, make_guarantor, receive

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def november(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def admin(client_of, world, office):
    return client_of(world.admin_ab, office="lakeside")


@pytest.fixture
def standard(office):
    return StatementProfile.objects.get(practice=office, slug="standard")


def test_dashboard_lists_batches_and_the_notifications_panel(admin, office):
    g = make_guarantor(office)
    receive(office, "2026-11-A", [item(g), item("nobody")])
    page = admin.get(reverse("statements")).content.decode()
    assert "2026-11-A" in page and 'data-testid="notifications-panel"' in page
    assert 'data-status="queued"' in page and "100.0%" in page
    assert "?kind=balance_notification" in page  # All notifications / Manage errors


def test_with_the_add_on_off_the_dashboard_and_batch_say_why_and_profiles_are_closed(admin, office, standard):
    office.addon_balance_notifications = False
    office.save()
    batch = receive(office, "off", [item(make_guarantor(office))]).batch
    assert "add-on is off" in admin.get(reverse("statements")).content.decode()
    page = admin.get(reverse("statement_batch", args=[batch.pk])).content.decode()
    assert 'data-testid="batch-note"' in page and "no notification was queued" in page
    assert 'data-testid="batch-queue"' not in page
    closed = admin.get(reverse("statement_profile", args=[standard.pk]))
    assert closed.status_code == 403
    assert "Balance notifications is off for Lakeside Dental" in closed.content.decode()


def test_a_batch_page_pages_its_statements_and_links_its_notifications(admin, office):
    people = [make_guarantor(office) for _ in range(53)]
    batch = receive(office, "big", [item(p) for p in people] + [item("nobody")]).batch
    response = admin.get(reverse("statement_batch", args=[batch.pk]))
    page = response.content.decode()
    assert len(response.context["statements"]) == 50 and response.context["next_after"]
    assert f"?tag={batch.tag.replace(':', '%3A')}" in page and "unknown guarantor" in page
    rest = admin.get(reverse("statement_batch", args=[batch.pk]), {"after": response.context["next_after"]},
                     HTTP_HX_REQUEST="true")
    assert len(rest.context["statements"]) == 3 and "<html" not in rest.content.decode()
    queue = admin.get(reverse("notifications"), {"tag": batch.tag}).content.decode()
    assert "the messages of batch big (Standard)" in queue
    assert queue.count("data-notification=") == 50  # the first page of its 106 messages


@pytest.mark.parametrize("cursor", ["-1", "abc", str(2**64), "1\x00"])
def test_hostile_page_cursors_start_from_the_first_page_with_a_message(admin, office, cursor):
    batch = receive(office, "c", [item(make_guarantor(office))]).batch
    pages = ((reverse("statements"), "before"), (reverse("statement_batch", args=[batch.pk]), "after"))
    for url, name in pages:
        response = admin.get(url, {name: cursor})
        assert response.status_code == 200 and f"page link ({name}) is not valid" in response.content.decode()


def _csv(rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["guarantor_external_id", "statement_date", "due_date", "amount_due", "balance"])
    writer.writerows(rows)
    return out.getvalue().encode()


def _upload(client, batch_id, profile, data):
    return client.post(reverse("statement_upload"), {
        "batch_id": batch_id, "profile": profile.pk, "file": SimpleUploadedFile("b.csv", data, "text/csv")})


def test_a_csv_batch_is_checked_previewed_and_taken_in(admin, office, standard):
    make_guarantor(office, "g-1")
    make_guarantor(office, "g-2")
    data = _csv([["g-1", "2026-11-02", "2026-11-25", "125.00", "250.00"],
                 ["g-2", "2026-11-02", "2026-11-25", "12.345", "20.00"],
                 ["nobody", "2026-11-02", "2026-11-25", "5.00", "5.00"],
                 ["g-1", "2026-11-02", "2026-11-25", "5.00", "5.00"]])
    response = _upload(admin, "csv-1", standard, data)
    upload = StatementUpload.objects.get()
    assert response["Location"] == reverse("statement_upload_detail", args=[upload.pk])
    page = admin.get(response["Location"]).content.decode()
    assert "Import the 1 valid row" in page and "more than two decimal places" in page
    assert "unknown guarantor" in page and "appears again (first at row 2)" in page
    assert not StatementBatch.objects.exists()
    done = admin.post(reverse("statement_upload_confirm", args=[upload.pk]), {"mode": "valid"})
    batch = StatementBatch.objects.get(batch_id="csv-1")
    assert done["Location"] == reverse("statement_batch", args=[batch.pk])
    assert (batch.source, batch.accepted, batch.rejected_count, batch.notifications_queued) == (
        BatchSource.CSV, 1, 3, 2)
    assert {r["index"] for r in batch.rejected} == {3, 4, 5}  # rows of the file
    again = _upload(admin, "csv-1", standard, data)
    assert "already received" in admin.get(again["Location"]).content.decode()


def test_the_check_looks_guarantors_up_a_few_rows_at_a_time_while_it_reads_on(office, standard, monkeypatch):
    from statements import csv_batches

    monkeypatch.setattr(csv_batches, "_LOOKUP", 2)  # four look-ups, the last of one row
    guarantor = make_guarantor(office, "g-1")
    make_guarantor(office, "g-2")
    kid = make_guarantor(office, "k-1")
    kid.guarantor = guarantor
    kid.save()
    rows = [["g-1"], ["nobody"], ["g-2"], ["k-1"], ["g-1"], ["ghost"], ["g-2"], ["x-9"], ["g-1"], ["z-1"]]
    data = _csv([[e, "2026-11-02", "2026-11-25", "5.00", "5.00"] for e, in rows])
    upload = csv_batches.statement_upload_create(
        practice=office, actor=None, batch_id="looked-up", profile=standard,
        upload=SimpleUploadedFile("b.csv", data, "text/csv"))
    messages = {e["row"]: e["message"] for e in upload.errors}
    assert messages == {3: "unknown guarantor 'nobody'", 5: "'k-1' is not a guarantor (their own guarantor)",
                        6: "'g-1' appears again (first at row 2)", 7: "unknown guarantor 'ghost'",
                        8: "'g-2' appears again (first at row 4)", 9: "unknown guarantor 'x-9'",
                        10: "'g-1' appears again (first at row 2)", 11: "unknown guarantor 'z-1'"}
    assert (upload.total_rows, upload.valid_rows) == (10, 2)


@pytest.mark.parametrize("data, expected", [
    (b"", "empty"),
    (b"guarantor_external_id,amount\n", "missing required columns"),
    ("\ufeffguarantor_external_id".encode("utf-16"), "UTF-16"),
    (_csv([]), "no statement rows"),
])
def test_a_refused_csv_file_says_why(admin, standard, data, expected):
    response = _upload(admin, "r", standard, data)
    body = admin.get(response["Location"]).content.decode() if response.status_code == 302 else \
        response.content.decode()
    assert expected in body


@pytest.mark.parametrize("batch_id, message", [
    ("", "required"), ("x" * 65, "at most 64"), ("a\x00b", "Null characters"),
    ("a\x01b", "control character")])
def test_a_bad_batch_id_is_refused_on_the_form(admin, standard, batch_id, message):
    response = _upload(admin, batch_id, standard, _csv([["g", "x"]]))
    assert response.status_code == 200 and message.lower() in response.content.decode().lower()


def test_staff_cannot_upload_or_edit_profiles(client_of, world, office, standard):
    staff = client_of(world.staff_a)
    assert staff.get(reverse("statement_upload")).status_code == 403
    assert staff.get(reverse("statement_profile", args=[standard.pk])).status_code == 403
    assert staff.get(reverse("statements")).status_code == 200


def test_profiles_are_created_edited_made_default_and_approved(admin, office, standard, world):
    response = admin.post(reverse("statement_profiles"), {"name": "Gentle", "send_hour": "09:30",
                                                          "copy_from": standard.pk})
    gentle = StatementProfile.objects.get(slug="gentle")
    assert response["Location"] == reverse("statement_profile", args=[gentle.pk])
    assert gentle.steps.count() == 7 and gentle.approved_version is None
    taken = admin.post(reverse("statement_profiles"), {"name": "Gentle", "send_hour": "09:30"})
    assert "taken" in taken.content.decode()
    page = admin.get(reverse("statement_profile", args=[gentle.pk])).content.decode()
    assert "Not approved yet" in page and 'data-testid="approve"' in page
    sms = MessageTemplate.objects.get(practice=office, name="Final notice text")
    step = gentle.steps.get(level=1, channel="sms")
    admin.post(reverse("statement_step", args=[gentle.pk, step.pk]), {
        "level": 4, "channel": "sms", "anchor": "due_date", "offset_days": -3, "at_time": "17:45",
        "template": sms.pk})
    step.refresh_from_db()
    assert (step.level, step.anchor, step.offset_days, str(step.at_time)) == (4, "due_date", -3, "17:45:00")
    wrong = admin.post(reverse("statement_step_new", args=[gentle.pk]), {
        "level": 1, "channel": "email", "anchor": "statement_date", "offset_days": 0, "template": sms.pk})
    assert "That template is for SMS" in wrong.content.decode()
    bad = admin.post(reverse("statement_step_new", args=[gentle.pk]), {
        "level": 99, "channel": "sms", "anchor": "statement_date", "offset_days": -5, "template": sms.pk})
    assert bad.status_code == 200 and gentle.steps.count() == 7
    admin.post(reverse("statement_step_delete", args=[gentle.pk, step.pk]))
    assert gentle.steps.count() == 6
    admin.post(reverse("statement_profile_approve", args=[gentle.pk]))
    gentle.refresh_from_db()
    assert gentle.approved_version.number == 1 and gentle.approved_version.approved_by == world.admin_ab
    assert len(gentle.approved_version.steps) == 6
    admin.post(reverse("statement_profile_default", args=[gentle.pk]))
    assert StatementProfile.objects.get(is_default=True, practice=office) == gentle
    saved = admin.post(reverse("statement_profile", args=[gentle.pk]), {"name": "Gentle reminders",
                                                                       "send_hour": "08:15", "active": "on"})
    assert saved.status_code == 302
    gentle.refresh_from_db()
    assert (gentle.name, str(gentle.send_hour)) == ("Gentle reminders", "08:15:00")
    refused = admin.post(reverse("statement_profile", args=[gentle.pk]), {"name": "G", "send_hour": "08:15"})
    assert "stays active" in refused.content.decode()


def test_the_proof_renders_every_step_for_a_guarantor_with_the_cadence_preview(admin, office, standard):
    g = make_guarantor(office, "PMS-7", first_name="Zoë", home="+13125550199", consent_voice=False)
    page = admin.get(reverse("statement_profile", args=[standard.pk])).content.decode()
    assert page.count('class="proof-message"') == 7 and "Hello Ana" in page  # sample values
    response = admin.post(reverse("statement_profile_guarantor", args=[standard.pk]), {"guarantor": "PMS-7"},
                          HTTP_HX_REQUEST="true")
    part = response.content.decode()
    assert "<html" not in part and "Hello Zoë" in part
    assert "Not sent to this guarantor: no consent for calls" in part
    lines = response.context["cadence"].lines
    assert [(line.channel, line.outcome) for line in lines] == [("email", "sends"), ("sms", "sends")]
    unknown = admin.post(reverse("statement_profile_guarantor", args=[standard.pk]), {"guarantor": "nope"})
    assert "No guarantor with that PMS id" in unknown.content.decode()
    assert g.pk  # the chosen guarantor's id never appears in a URL: it was posted


def test_a_test_of_a_step_goes_to_the_admins_own_email_or_phone(admin, office, standard, world):
    email_step = standard.steps.get(level=1, channel="email")
    sms_step = standard.steps.get(level=1, channel="sms")
    admin.post(reverse("statement_step_test", args=[standard.pk, email_step.pk]))
    drain_inline()
    assert [m.to for m in mail.outbox] == [[world.admin_ab.email]]
    assert "Hello Ana" in mail.outbox[0].body  # sample values, never a patient's
    refused = admin.post(reverse("statement_step_test", args=[standard.pk, sms_step.pk]), {"phone": "12"},
                         follow=True)
    assert "Enter your mobile number" in refused.content.decode()
    admin.post(reverse("statement_step_test", args=[standard.pk, sms_step.pk]), {"phone": "(312) 555-0177"})
    drain_inline()
    test = Notification.objects.get(kind="statement_test", channel="sms")
    assert (test.address, test.recipient_kind) == ("+13125550177", "user")
    assert test.recipient_id == world.admin_ab.pk
    assert SandboxMessage.objects.filter(to="+13125550177").exists()


def test_the_template_editor_refuses_unknown_fields_and_counts_segments_as_one_types(admin, office):
    check = admin.post(reverse("message_template_check"), {
        "purpose": "balance", "channel": "sms", "body": "{{ practice.name }}: hi {{ patient.nickname }}"})
    assert "{{ patient.nickname }} is not a merge field" in check.content.decode()
    ok = admin.post(reverse("message_template_check"), {
        "purpose": "balance", "channel": "sms", "body": "{{ practice.name }}: " + "ç" * 80}).content.decode()
    assert "UCS-2" in ok and "<strong>2</strong> segments" in ok
    long = admin.post(reverse("message_template_check"), {
        "purpose": "balance", "channel": "sms", "body": "{{ practice.name }} " + "x" * 400}).content.decode()
    assert 'data-testid="sms-warning"' in long
    created = admin.post(reverse("message_template_new"), {
        "name": "Short text", "purpose": "balance", "channel": "sms",
        "body": "{{ practice.name }}: {{ statement.amount_due }} due. {{ quickpay_link }}"})
    template = MessageTemplate.objects.get(name="Short text")
    assert created["Location"] == reverse("message_template_edit", args=[template.pk])
    refused = admin.post(reverse("message_template_edit", args=[template.pk]), {
        "body": "{{ practice.name }} {{ patient.last_name }}"})
    assert "may not be used in a text message" in refused.content.decode()
    back = admin.post(reverse("message_template_edit", args=[template.pk]) + "?next=/statements/", {
        "body": "{{ practice.name }}: pay {{ quickpay_link }}", "next": "https://evil.example/"})
    assert back["Location"] == reverse("message_template_edit", args=[template.pk])
    template.refresh_from_db()
    assert template.current_version == 2
    hostile = admin.post(reverse("message_template_check"), {"purpose": "x\x00", "channel": "fax",
                                                             "body": "\x00"})
    assert hostile.status_code == 200 and "purpose must be one of" in hostile.content.decode()


def test_the_account_page_shows_statements_their_messages_and_what_comes(client_of, world, office):
    g = make_guarantor(office, first_name="Ana")
    receive(office, "s1", [item(g, statement_date="2026-10-20")])
    receive(office, "s2", [item(g, statement_date="2026-11-02")])
    page = client_of(world.staff_a).get(reverse("guarantor_detail", args=[g.pk])).content.decode()
    assert 'data-testid="statement-history"' in page and "level 2" in page and "level 1" in page
    assert "Superseded" in page and "Second notice email v1" in page
    assert 'data-testid="account-preview"' in page and "Second notice text" in page
    newest = Statement.objects.filter(guarantor=g).order_by("-pk").first()
    notifications_cancel_many(practice=office, reason_code="cancelled_by_staff", keys=newest.keys)
    assert "Nothing in the next 90 days" in client_of(world.staff_a).get(
        reverse("guarantor_detail", args=[g.pk])).content.decode()
    assert Notification.objects.filter(status=Status.CANCELLED).count() == 2


def test_the_batch_template_downloads_with_its_columns_and_example_rows(admin):
    response = admin.get(reverse("statement_upload_template"))
    assert response["Content-Disposition"] == 'attachment; filename="statements-template.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["guarantor_external_id", "statement_date", "due_date", "amount_due", "balance"]
    assert len(rows) == 3 and all(len(r) == 5 for r in rows)


def test_the_panel_filters_the_history_by_profile(admin, office, standard, world):
    from statements.profiles import profile_create, proof_approve

    other = profile_create(practice=office, actor=world.admin_ab, name="Gentle", copy_from=standard)
    proof_approve(profile=other, actor=world.admin_ab)
    receive(office, "s", [item(make_guarantor(office, first_name="Sam"))])
    receive(office, "g", [item(make_guarantor(office, first_name="Gia"))], profile="gentle")
    page = admin.get(reverse("statements")).content.decode()
    assert 'data-testid="panel-profiles"' in page
    history = admin.get(reverse("notification_history"), {"kind": "balance_notification",
                                                           "tag": f"statements:profile:{other.pk}:"})
    body = history.content.decode()
    assert "Gia Reyes" in body and "Sam Reyes" not in body
    assert "the messages of profile Gentle" in body


def test_an_error_row_leaves_manage_errors_once_a_later_send_to_that_recipient_succeeds(admin, office):
    g = make_guarantor(office, first_name="Wren")
    receive(office, "e1", [item(g)])
    failed = Notification.objects.get(recipient_id=g.pk, channel="sms")
    Notification.objects.filter(pk=failed.pk).update(status=Status.UNDELIVERABLE_PERMANENT)
    errors = reverse("notification_errors")
    assert f'data-notification="{failed.pk}"' in admin.get(errors).content.decode()
    with time_machine.travel(NOW + timedelta(days=40), tick=False):
        receive(office, "e2", [item(g, statement_date="2026-12-10", due_date="2026-12-30")])
        later = Notification.objects.filter(recipient_id=g.pk, channel="sms").exclude(pk=failed.pk).get()
        Notification.objects.filter(pk=later.pk).update(status=Status.SENT, address="+13125550199")
        assert f'data-notification="{failed.pk}"' not in admin.get(errors).content.decode()


@pytest.mark.parametrize("data", [
    {"name": "x\x00y", "send_hour": "10:00"}, {"name": "ok", "send_hour": "25:61"},
    {"name": "x" * 5000, "send_hour": "10:00"}, {"name": "ok", "slug": "é\x01", "send_hour": "10:00"},
    {"name": "ok", "send_hour": "10:00", "copy_from": str(2**70)},
])
def test_hostile_profile_forms_are_refused_naming_the_field(admin, standard, data):
    response = admin.post(reverse("statement_profiles"), data)
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    assert StatementProfile.objects.count() == 1


@pytest.mark.parametrize("data", [
    {"level": str(2**70)}, {"level": "-1"}, {"offset_days": "999999999999999999999"},
    {"offset_days": "121"}, {"anchor": "due_date", "offset_days": "-31"}, {"at_time": "24:00"},
    {"template": str(2**70)}, {"channel": "fax"}, {"anchor": "\x00"},
])
def test_hostile_step_forms_are_refused_naming_the_field(admin, office, standard, data):
    template = MessageTemplate.objects.get(practice=office, name="Statement email")
    post = {"level": "1", "channel": "email", "anchor": "statement_date", "offset_days": "0",
            "template": template.pk, **data}
    response = admin.post(reverse("statement_step_new", args=[standard.pk]), post)
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    assert standard.steps.count() == 7
