"""Taking in statement batches: levels and offsets, send hours, superseding, balance paid, counts."""

import re
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from notifications.dispatch import drain_inline
from notifications.models import Notification, NotificationDue, OptOut, ReasonCode, SandboxMessage, Status
from patients.records import BalanceRecord, PatientRecord
from patients.upsert import patients_upsert
from payments.quickpay import quickpay_link_find
from statements.models import BALANCE_KIND, BatchStatus, Dunning, Statement, StatementBatch
from statements.profiles import profile_create, proof_approve, step_save

from .conftest import item, make_guarantor, receive

pytestmark = pytest.mark.django_db

CHICAGO = ZoneInfo("America/Chicago")
OCT_1 = datetime(2026, 10, 1, 17, 0, tzinfo=UTC)


def local(n):
    return n.send_at.astimezone(CHICAGO).replace(tzinfo=None)


def queued(guarantor):
    return list(Notification.objects.filter(recipient_id=guarantor.pk, kind=BALANCE_KIND,
                                            status=Status.QUEUED).order_by("send_at", "channel"))


def dunning(guarantor):
    return Dunning.objects.get(guarantor=guarantor).count


@time_machine.travel(OCT_1, tick=False)
def test_each_dunning_level_queues_its_steps_on_their_days_at_the_send_hour(office, write_path):
    g = make_guarantor(office, home="+13125550199", consent_voice=True)
    receive(office, "b1", [item(g, statement_date="2026-10-05", due_date="2026-10-30")])
    assert [(n.channel, local(n)) for n in queued(g)] == [
        ("email", datetime(2026, 10, 5, 10, 0)), ("sms", datetime(2026, 10, 15, 10, 0))]
    receive(office, "b2", [item(g, statement_date="2026-10-06", due_date="2026-10-30")])
    assert [(n.channel, local(n)) for n in queued(g)] == [
        ("email", datetime(2026, 10, 6, 10, 0)), ("sms", datetime(2026, 10, 11, 10, 0))]
    for number in (3, 4):  # the highest level defined (3) serves every higher count
        receive(office, f"b{number}", [item(g, statement_date=f"2026-10-0{number + 4}",
                                            due_date="2026-10-30")])
        day = number + 4
        assert [(n.channel, local(n)) for n in queued(g)] == [
            ("email", datetime(2026, 10, day, 10, 0)), ("sms", datetime(2026, 10, day + 3, 10, 0)),
            ("voice", datetime(2026, 10, day + 7, 10, 0))]
        assert dunning(g) == number
    statement = Statement.objects.filter(guarantor=g).order_by("-pk").first()
    assert statement.level == 4
    assert {n.idempotency_key for n in queued(g)} == set(statement.keys)
    assert all(k.startswith(f"statement:{statement.pk}:step:") for k in statement.keys)
    n = queued(g)[0]
    assert n.template_name == "Final notice email" and n.template_version == "1"
    assert "Hello Ana," in n.body and "$125.00" in n.body and "Oct 30, 2026" in n.body
    assert n.subject == "Final notice from Lakeside Dental"


@time_machine.travel(OCT_1, tick=False)
def test_steps_counted_from_the_due_date_before_and_after_it_at_their_own_time(office, world):
    g = make_guarantor(office)
    templates = {t.channel: t for t in _standard_templates(office)}
    profile = profile_create(practice=office, actor=world.admin_ab, name="Due-date reminders",
                             send_hour=time(9, 0))
    step_save(profile=profile, actor=world.admin_ab, level=1, anchor="due_date", offset_days=-3,
              at_time=None, channel="email", template=templates["email"])
    step_save(profile=profile, actor=world.admin_ab, level=1, anchor="due_date", offset_days=7,
              at_time=time(17, 30), channel="sms", template=templates["sms"])
    proof_approve(profile=profile, actor=world.admin_ab)
    receive(office, "due", [item(g, statement_date="2026-10-02", due_date="2026-10-20")],
            profile="due-date-reminders")
    assert [(n.channel, local(n)) for n in queued(g)] == [
        ("email", datetime(2026, 10, 17, 9, 0)), ("sms", datetime(2026, 10, 27, 17, 30))]


def _standard_templates(practice):
    from notifications.models import MessageTemplate

    return MessageTemplate.objects.filter(practice=practice, name__in=[
        "Statement email", "Statement reminder text"])


@time_machine.travel(OCT_1, tick=False)
def test_the_send_hour_stays_local_across_the_daylight_saving_change(office):
    # Clocks go back on 1 November 2026 in Chicago: 10:00 is 15:00 UTC before, 16:00 UTC after.
    g = make_guarantor(office)
    receive(office, "dst", [item(g, statement_date="2026-10-25", due_date="2026-11-20")])
    email, sms = queued(g)
    assert email.send_at == datetime(2026, 10, 25, 15, 0, tzinfo=UTC)
    assert sms.send_at == datetime(2026, 11, 4, 16, 0, tzinfo=UTC)
    assert local(email).time() == local(sms).time() == time(10, 0)


@time_machine.travel(OCT_1, tick=False)
def test_the_recipients_own_time_zone_sets_the_hour(office):
    g = make_guarantor(office, time_zone="America/Los_Angeles")
    receive(office, "tz", [item(g, statement_date="2026-10-05", due_date="2026-10-30")])
    email = queued(g)[0]
    assert email.send_at == datetime(2026, 10, 5, 17, 0, tzinfo=UTC)  # 10:00 in Los Angeles
    assert email.recipient_time_zone == "America/Los_Angeles"


def test_a_time_already_past_goes_at_once_and_quiet_hours_still_hold_texts(office):
    g = make_guarantor(office)
    # 22:30 in Chicago: both steps' times are past; the email goes, the text waits for 08:00.
    with time_machine.travel(datetime(2026, 10, 21, 3, 30, tzinfo=UTC), tick=False):
        receive(office, "late", [item(g, statement_date="2026-10-05", due_date="2026-10-30")])
        email, sms = Notification.objects.filter(recipient_id=g.pk).order_by("channel")
        assert email.send_at == sms.send_at == datetime(2026, 10, 21, 3, 30, tzinfo=UTC)
        drain_inline()
    email.refresh_from_db()
    sms.refresh_from_db()
    assert email.status == Status.SENT
    assert sms.status == Status.QUEUED and local(sms) == datetime(2026, 10, 21, 8, 0)


@time_machine.travel(OCT_1, tick=False)
def test_only_channels_the_guarantor_can_receive_are_queued_and_no_channel_is_counted(office, write_path):
    email_only = make_guarantor(office, mobile="")
    no_consent = make_guarantor(office, consent_email=False, consent_sms=False)
    outcome = receive(office, "ch", [item(email_only, statement_date="2026-10-05"),
                                     item(no_consent, statement_date="2026-10-05")])
    assert [n.channel for n in queued(email_only)] == ["email"]
    assert queued(no_consent) == []
    assert (outcome.batch.notifications_queued, outcome.batch.no_channel) == (1, 1)
    assert Statement.objects.get(guarantor=no_consent).steps == ""


@time_machine.travel(OCT_1, tick=False)
def test_voice_is_queued_only_with_the_voice_add_on(office):
    office.addon_voice = False
    office.save()
    g = make_guarantor(office, home="+13125550199", consent_voice=True)
    Dunning.objects.create(practice=office, guarantor=g, count=2, updated_at=OCT_1)
    receive(office, "v", [item(g, statement_date="2026-10-05")])
    assert [n.channel for n in queued(g)] == ["email", "sms"]


@time_machine.travel(OCT_1, tick=False)
def test_a_new_statement_supersedes_the_unsent_messages_of_the_older_one(office, write_path):
    g = make_guarantor(office)
    first = receive(office, "s1", [item(g, statement_date="2026-10-05")])
    old = set(Notification.objects.filter(tag=first.batch.tag).values_list("pk", flat=True))
    second = receive(office, "s2", [item(g, statement_date="2026-10-06")])
    assert second.batch.superseded == 2
    stopped = Notification.objects.filter(pk__in=old)
    assert {(n.status, n.reason_code) for n in stopped} == {(Status.WILL_NOT_SEND, ReasonCode.SUPERSEDED)}
    assert not NotificationDue.objects.filter(notification_id__in=old).exists()
    assert [e.status for e in stopped[0].events.all()] == [Status.QUEUED, Status.WILL_NOT_SEND]
    assert len(queued(g)) == 2 and dunning(g) == 2


@time_machine.travel(OCT_1, tick=False)
def test_a_statement_with_nothing_due_supersedes_but_queues_and_counts_nothing(office, write_path):
    g = make_guarantor(office)
    receive(office, "n1", [item(g, statement_date="2026-10-05")])
    outcome = receive(office, "n2", [item(g, statement_date="2026-10-06", amount_due="0.00",
                                          balance="40.00")])
    assert queued(g) == [] and outcome.batch.superseded == 2
    assert outcome.batch.notifications_queued == 0 and outcome.batch.no_channel == 0
    assert dunning(g) == 1
    assert Statement.objects.filter(guarantor=g).order_by("-pk").first().level == 0


@time_machine.travel(OCT_1, tick=False)
def test_a_zero_balance_statement_resets_the_count(office, write_path):
    g = make_guarantor(office)
    receive(office, "z1", [item(g, statement_date="2026-10-05")])
    receive(office, "z2", [item(g, statement_date="2026-10-06")])
    assert dunning(g) == 2
    receive(office, "z3", [item(g, statement_date="2026-10-07", amount_due="0.00", balance="0.00")])
    assert dunning(g) == 0
    receive(office, "z4", [item(g, statement_date="2026-10-08")])
    assert dunning(g) == 1 and queued(g)[0].template_name == "Statement email"


@pytest.mark.parametrize("method", ["copy", "orm"])
@time_machine.travel(OCT_1, tick=False)
def test_a_pms_import_that_brings_the_balance_to_zero_stops_the_dunning(office, method):
    g = make_guarantor(office, external_id="G-paid", balance="250.00")
    other = make_guarantor(office, external_id="G-owes", balance="90.00")
    receive(office, "p1", [item(g, statement_date="2026-10-05"), item(other, statement_date="2026-10-05",
                                                                      amount_due="90.00", balance="90.00")])
    mine = [n.pk for n in queued(g)]
    patients_upsert(practice=office, method=method, records=[
        _record(g, "0.00"), _record(other, "90.00")])
    paid = Notification.objects.filter(pk__in=mine)
    assert {(n.status, n.reason_code) for n in paid} == {(Status.WILL_NOT_SEND, ReasonCode.BALANCE_PAID)}
    assert "pms import" in paid[0].events.last().detail
    assert dunning(g) == 0 and dunning(other) == 1
    assert len(queued(other)) == 2


def _record(patient, total):
    from decimal import Decimal

    zero = Decimal("0.00")
    return PatientRecord(
        external_id=patient.external_id, first_name=patient.first_name, last_name=patient.last_name,
        date_of_birth=None, email=patient.email, mobile_phone=patient.mobile_phone,
        home_phone=patient.home_phone, time_zone=patient.time_zone, guarantor_external_id=patient.external_id,
        consent_email=patient.consent_email, consent_sms=patient.consent_sms,
        consent_voice=patient.consent_voice, paperless=False, do_not_recall=False, last_visit_on=None,
        balance=BalanceRecord(total=Decimal(total), amount_due=Decimal(total), aging_current=zero,
                              aging_31_60=zero, aging_61_90=zero, aging_91_120=zero, aging_over_120=zero,
                              in_collections=False, on_payment_plan=False, outstanding_claims=0, as_of=None))


def test_the_engine_asks_before_a_send_and_refuses_a_message_no_longer_wanted(office):
    g = make_guarantor(office)
    with time_machine.travel(datetime(2026, 10, 5, 17, 0, tzinfo=UTC), tick=False):
        receive(office, "w1", [item(g, statement_date="2026-10-05")])
        email = Notification.objects.get(recipient_id=g.pk, channel="email")
        # The statement stops being the newest without its messages being stopped (as if a
        # worker had claimed this one at that moment): the check before the send refuses it.
        newer = receive(office, "w2", [item(make_guarantor(office), statement_date="2026-10-05")])
        Dunning.objects.filter(guarantor=g).update(statement=Statement.objects.get(batch=newer.batch))
        drain_inline()
    email.refresh_from_db()
    assert (email.status, email.reason_code) == (Status.WILL_NOT_SEND, ReasonCode.SUPERSEDED)
    assert not SandboxMessage.objects.filter(to=g.email).exists()


@time_machine.travel(datetime(2026, 10, 5, 17, 0, tzinfo=UTC), tick=False)
def test_due_messages_are_sent_with_the_rendered_text_and_links(office, client):
    office.addon_online_payments = True
    office.save()
    g = make_guarantor(office)
    receive(office, "send", [item(g, statement_date="2026-10-05")])
    drain_inline()
    sent = next(m for m in mail.outbox if m.to == [g.email])
    token = re.search(r"/p/([A-Za-z0-9_-]{22})\b", sent.body).group(1)
    link = quickpay_link_find(token=token)
    email = Notification.objects.get(recipient_id=g.pk, channel="email")
    assert (link.guarantor_id, link.source) == (g.pk, "statement")
    assert link.notification_key == email.idempotency_key
    token = sent.body.split("/unsubscribe/")[1].split("/")[0]
    assert client.post(f"/unsubscribe/{token}/").status_code == 200
    assert OptOut.objects.filter(practice=office, channel="email", address=g.email).exists()


@time_machine.travel(OCT_1, tick=False)
def test_with_the_add_on_off_statements_are_stored_and_nothing_is_queued(office):
    office.addon_balance_notifications = False
    office.save()
    g = make_guarantor(office)
    outcome = receive(office, "off", [item(g)])
    batch = outcome.batch
    assert batch.status == BatchStatus.STORED and "add-on is off" in batch.note
    assert (batch.accepted, batch.notifications_queued) == (1, 0)
    assert not Notification.objects.filter(kind=BALANCE_KIND).exists()
    assert dunning(g) == 1


@time_machine.travel(OCT_1, tick=False)
def test_an_edit_after_approval_sends_the_approved_version_until_it_is_approved(office, world):
    from notifications.message_templates import message_template_save
    from statements.models import StatementProfile

    profile = StatementProfile.objects.get(practice=office, slug="standard")
    email = next(t for t in _standard_templates(office) if t.channel == "email")
    message_template_save(practice=office, actor=world.admin_ab, template=email,
                          subject="New subject for {{ practice.name }}",
                          body="Hi {{ patient.first_name }}, pay {{ quickpay_link }}")
    step = profile.steps.get(level=1, channel="sms")
    step.delete()  # the draft loses its level-1 text
    g = make_guarantor(office)
    receive(office, "before", [item(g, statement_date="2026-10-05")])
    assert [(n.channel, n.template_version) for n in queued(g)] == [("email", "1"), ("sms", "1")]
    assert queued(g)[0].subject == "Your statement from Lakeside Dental"
    proof_approve(profile=profile, actor=world.admin_ab)
    h = make_guarantor(office)
    receive(office, "after", [item(h, statement_date="2026-10-05")])
    assert [(n.channel, n.template_version) for n in queued(h)] == [("email", "2")]
    assert queued(h)[0].subject == "New subject for Lakeside Dental"


@time_machine.travel(OCT_1, tick=False)
def test_a_profile_without_an_approved_proof_queues_nothing_and_says_so(office, world):
    standard = office and __import__("statements.models", fromlist=["StatementProfile"]).StatementProfile
    profile = profile_create(practice=office, actor=world.admin_ab, name="Draft only",
                             copy_from=standard.objects.get(practice=office, slug="standard"))
    g = make_guarantor(office)
    outcome = receive(office, "draft", [item(g)], profile=profile.slug)
    assert outcome.batch.notifications_queued == 0 and "no approved proof" in outcome.batch.note
    assert StatementBatch.objects.get(batch_id="draft").status == BatchStatus.STORED


@time_machine.travel(OCT_1, tick=False)
def test_a_batch_large_enough_to_be_staged_goes_through_both_write_paths_alike(office, write_path):
    people = [make_guarantor(office) for _ in range(130)]
    first = receive(office, "big-1", [item(p, statement_date="2026-10-05") for p in people])
    second = receive(office, "big-2", [item(p, statement_date="2026-10-06") for p in people])
    assert (first.batch.notifications_queued, second.batch.superseded, second.batch.notifications_queued) == (
        260, 260, 260)
    assert Dunning.objects.filter(guarantor__in=people, count=2).count() == 130
    assert Notification.objects.filter(tag=second.batch.tag, status=Status.QUEUED).count() == 260


def test_the_quick_check_of_a_statement_decides_as_the_full_check():
    from decimal import Decimal

    from statements.records import _record_check, record_check

    base = {"guarantor_external_id": "G-1", "statement_date": "2026-10-05", "due_date": "2026-10-30",
            "amount_due": "125.00", "balance": "250.00"}
    variants = [{}, {"guarantor_external_id": " G-1"}, {"guarantor_external_id": "G 1"},
                {"guarantor_external_id": "x" * 65}, {"statement_date": "2026-02-29"},
                {"statement_date": "1999-12-31"}, {"statement_date": "2099-01-01"},
                {"due_date": "2026-10-04"}, {"due_date": "2027-10-07"}, {"amount_due": "250.01"},
                {"amount_due": "-1.00"}, {"balance": "-5.00", "amount_due": "0.00"}, {"amount_due": "1e2"},
                {"amount_due": "0125.00"}, {"balance": "12345678901.00"}, {"amount_due": 5}]
    for change in variants:
        item = {**base, **change}
        quick, full = record_check(3, item), _record_check(3, item)
        assert (quick[0] is None) == (full[0] is None), change
        if quick[0] is not None:
            assert quick[0] == full[0], change
            assert isinstance(quick[0].amount_due, Decimal)
        else:
            assert [f for f, _ in quick[1]] == [f for f, _ in full[1]], change


def test_a_new_practice_starts_with_the_approved_standard_profile_and_so_do_existing_ones(db):
    from importlib import import_module

    from django.apps import apps

    from notifications.models import MessageTemplate
    from practices.models import Practice
    from practices.services import practice_create
    from statements.models import StatementProfile

    practice = practice_create(name="New Dental", time_zone="America/Chicago")
    standard = StatementProfile.objects.get(practice=practice)
    assert (standard.slug, standard.is_default, standard.approved_version.number) == ("standard", True, 1)
    assert [(s["level"], s["offset_days"], s["channel"]) for s in standard.approved_version.steps] == [
        (1, 0, "email"), (1, 10, "sms"), (2, 0, "email"), (2, 5, "sms"), (3, 0, "email"), (3, 3, "sms"),
        (3, 7, "voice")]
    older = Practice.objects.create(name="Older Dental", slug="older")  # as if from before profiles
    import_module("statements.migrations.0002_standard_profile_for_existing_practices").forwards(apps, None)
    migrated = StatementProfile.objects.get(practice=older)
    assert (migrated.slug, migrated.is_default, migrated.approved_version.number) == ("standard", True, 1)
    assert sorted(s["id"] for s in migrated.approved_version.steps) == \
        sorted(migrated.steps.values_list("pk", flat=True))
    assert MessageTemplate.objects.filter(practice=older, purpose="balance").count() == 7
    assert StatementProfile.objects.filter(practice=practice).count() == 1  # not made twice


@time_machine.travel(OCT_1, tick=False)
def test_a_payment_that_covers_the_balance_stops_the_dunning_through_the_hook(office):
    from patients.models import Balance
    from patients.services import balances_changed_notify

    g = make_guarantor(office, balance="250.00")
    receive(office, "pay", [item(g, statement_date="2026-10-05")])
    Balance.objects.filter(guarantor=g).update(total=0)
    balances_changed_notify(practice_id=office.pk, guarantor_ids=[g.pk], source="payment")
    assert queued(g) == [] and dunning(g) == 0
    assert Notification.objects.filter(recipient_id=g.pk, reason_code=ReasonCode.BALANCE_PAID).count() == 2


@time_machine.travel(OCT_1, tick=False)
def test_the_next_batch_rewrites_dunning_rows_without_touching_their_indexes(office):
    """On PostgreSQL the dunning table leaves room on its pages, so that a batch's rewrite of its
    guarantors' rows is a HOT update (no index written); the counts still rise."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL storage setting")
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'statements_dunning'")
        assert cursor.fetchone()[0] == ["fillfactor=50"]
    guarantors = [make_guarantor(office) for _ in range(30)]
    receive(office, "room-1", [item(g) for g in guarantors])

    def updates():  # (rows updated, of which HOT) in this transaction so far
        with connection.cursor() as cursor:
            cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                           "WHERE relname = 'statements_dunning'")
            return cursor.fetchone()

    before = updates()
    receive(office, "room-2", [item(g, statement_date="2026-10-20") for g in guarantors])
    after = updates()
    assert {dunning(g) for g in guarantors} == {2}
    assert (after[0] - before[0], after[1] - before[1]) == (30, 30)


@time_machine.travel(OCT_1, tick=False)
def test_the_cyclic_garbage_collector_rests_while_a_batch_goes_in_whatever_its_door(office):
    """A batch makes millions of small objects and no cycle: the collector is paused for the
    batch (the CSV import's too, which nothing else paused), and resumes after it."""
    import gc

    from statements.models import BatchSource
    from statements.services import statement_batch_receive

    guarantors = [make_guarantor(office) for _ in range(3)]
    during = []
    assert gc.isenabled()
    statement_batch_receive(practice=office, batch_id="gc-1", profile_slug=None, source=BatchSource.CSV,
                            items=enumerate(item(g) for g in guarantors),
                            progress=lambda done: during.append((done, gc.isenabled())))
    assert during == [(3, False)] and gc.isenabled()
