"""A batch outside any transaction, as the API and the CSV import take it on PostgreSQL: the payment
links and the superseding are written by two side connections (config/side_transaction.py),
committed just before and just after the batch. These tests commit for real (transaction=True):
the side connections see only committed rows."""

from datetime import UTC, datetime

import pytest
import time_machine

from config.side_transaction import SideTransaction, SideTransactionFailed, available
from notifications.models import Notification, NotificationDue, ReasonCode, Status
from payments.models import QuickPayLink
from payments.quickpay import DrawnLinks
from practices.models import AuditEvent
from statements import ingest
from statements.models import BALANCE_KIND, Statement, StatementBatch

from .conftest import item, make_guarantor, receive

pytestmark = pytest.mark.django_db(transaction=True)

OCT_1 = datetime(2026, 10, 1, 17, 0, tzinfo=UTC)


@pytest.fixture
def paying_office(office, monkeypatch):
    monkeypatch.setattr(ingest, "BESIDE_FROM", 1)  # these batches are small
    office.addon_online_payments = True
    office.save()
    return office


@pytest.fixture
def sides(monkeypatch):
    """The names of the side transactions the ingestion opens, in order."""
    opened = []

    class Counted(SideTransaction):
        def __init__(self, name, **kwargs):
            opened.append(name)
            super().__init__(name, **kwargs)

    monkeypatch.setattr(ingest, "SideTransaction", Counted)
    return opened


def statuses(batch):
    return sorted(Notification.objects.filter(tag=batch.tag).values_list("status", "reason_code"))


def test_a_small_batch_keeps_to_its_own_connection(office, sides):
    g = make_guarantor(office)
    assert receive(office, "s1", [item(g)]).batch.notifications_queued == 2
    assert sides == [] and ingest.BESIDE_FROM > 1


def test_side_transactions_are_used_only_outside_every_other_transaction(paying_office):
    from django.db import transaction

    assert available()
    with transaction.atomic():
        assert not available()


@time_machine.travel(OCT_1, tick=False)
def test_beside_the_batch_the_links_are_stored_and_the_older_messages_superseded(paying_office, sides):
    guarantors = [make_guarantor(paying_office, email=f"g{n}@example.test") for n in range(3)]
    first = receive(paying_office, "s1", [item(g, statement_date="2026-10-05") for g in guarantors]).batch
    assert first.notifications_queued == 6
    second = receive(paying_office, "s2", [item(g, statement_date="2026-10-06") for g in guarantors]).batch
    assert second.superseded == 6 and second.notifications_queued == 6
    assert StatementBatch.objects.get(pk=second.pk).superseded == 6  # counted once committed
    assert statuses(first) == [(Status.WILL_NOT_SEND, ReasonCode.SUPERSEDED)] * 6
    assert statuses(second) == [(Status.QUEUED, "")] * 6
    assert sides == ["statement-links", "statement-supersede"] * 2
    assert not NotificationDue.objects.filter(notification__tag=first.tag).exists()
    # Every message of either batch carries a link that was stored, under its own key.
    for notification in Notification.objects.filter(kind=BALANCE_KIND):
        link = QuickPayLink.objects.get(notification_key=notification.idempotency_key)
        assert link.guarantor_id == notification.recipient_id
        assert "/p/" in notification.body


@time_machine.travel(OCT_1, tick=False)
def test_a_batch_that_fails_after_the_sides_wrote_leaves_nothing_of_itself(paying_office, monkeypatch):
    g = make_guarantor(paying_office)
    first = receive(paying_office, "s1", [item(g, statement_date="2026-10-05")]).batch
    links_before = QuickPayLink.objects.count()
    finish = ingest._ChunkWriter.finish

    def finish_then_fail(self):
        assert self.supersede_side is not None and self.links_side is not None
        finish(self)
        self.supersede_side.wait()  # the superseding ran beside; its transaction is still open
        assert sum(future.result() for future in self.superseding) == 2
        raise RuntimeError("the database went away")

    monkeypatch.setattr(ingest._ChunkWriter, "finish", finish_then_fail)
    with pytest.raises(RuntimeError):
        receive(paying_office, "s2", [item(g, statement_date="2026-10-06")])
    assert not StatementBatch.objects.filter(batch_id="s2").exists()
    assert Statement.objects.filter(guarantor=g).count() == 1
    assert statuses(first) == [(Status.QUEUED, "")] * 2  # the superseding rolled back with it
    assert NotificationDue.objects.filter(notification__tag=first.tag).count() == 2
    assert QuickPayLink.objects.count() == links_before  # so did the links


@time_machine.travel(OCT_1, tick=False)
def test_a_link_that_cannot_be_stored_fails_the_whole_batch(paying_office, monkeypatch):
    g = make_guarantor(paying_office)
    first = receive(paying_office, "s1", [item(g, statement_date="2026-10-05")]).batch

    def refuse(self):
        raise ValueError("1 of 2 notification keys already had a payment link")

    monkeypatch.setattr(DrawnLinks, "store_all", refuse)
    with pytest.raises(ValueError, match="already had a payment link"):
        receive(paying_office, "s2", [item(g, statement_date="2026-10-06")])
    assert not StatementBatch.objects.filter(batch_id="s2").exists()
    assert statuses(first) == [(Status.QUEUED, "")] * 2


@time_machine.travel(OCT_1, tick=False)
def test_a_superseding_that_fails_beside_leaves_the_batch_standing_and_is_logged(
        paying_office, monkeypatch, caplog):
    """The superseding commits after the batch: when it fails, the batch stands (its older
    messages are stopped by the "still wanted?" check when they fall due), counts none
    superseded, and the log says so without a value of the batch's."""
    g = make_guarantor(paying_office)
    first = receive(paying_office, "s1", [item(g, statement_date="2026-10-05")]).batch

    def refuse(self, keys):
        raise ValueError("the superseding failed")

    monkeypatch.setattr(ingest._ChunkWriter, "_supersede", refuse)
    with caplog.at_level("ERROR", logger="statements.ingest"):
        second = receive(paying_office, "s2", [item(g, statement_date="2026-10-06")]).batch
    stored = StatementBatch.objects.get(batch_id="s2")
    assert (second.superseded, stored.superseded, stored.notifications_queued) == (0, 0, 2)
    assert statuses(first) == [(Status.QUEUED, "")] * 2
    assert "did not commit (ValueError)" in caplog.text and g.external_id not in caplog.text


def _audit(practice, action):
    AuditEvent.objects.create(practice=practice, action=action, target="side")


def test_a_side_transaction_commits_when_told_and_rolls_back_otherwise(paying_office):
    with SideTransaction("test-commit") as side:
        side.submit(_audit, paying_office, "side.kept")
        side.wait()
        # Not visible outside the side's transaction until it commits.
        assert not AuditEvent.objects.filter(action="side.kept").exists()
        side.commit()
    assert AuditEvent.objects.filter(action="side.kept").count() == 1

    with SideTransaction("test-leave") as side:
        side.submit(_audit, paying_office, "side.left")
        side.wait()
    assert not AuditEvent.objects.filter(action="side.left").exists()


def test_a_failure_beside_rolls_the_side_back_and_is_raised_by_commit(paying_office):
    def fail():
        raise ValueError("refused")

    side = SideTransaction("test-fail")
    side.submit(_audit, paying_office, "side.before")
    failed = side.submit(fail)
    after = side.submit(_audit, paying_office, "side.after")
    with pytest.raises(ValueError, match="refused"):
        failed.result()
    with pytest.raises(SideTransactionFailed):
        after.result()
    with pytest.raises(ValueError, match="refused"):
        side.commit()
    assert not AuditEvent.objects.filter(action__startswith="side.").exists()
    with pytest.raises(RuntimeError):
        side.submit(_audit, paying_office, "side.late")


@time_machine.travel(OCT_1, tick=False)
def test_a_csv_batch_is_taken_in_outside_the_uploads_transaction(paying_office, sides, monkeypatch):
    # The CSV import's batch is the outermost transaction, so its superseding commits after it;
    # the upload is marked done once it has, its row locked only then.
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile

    from statements.csv_batches import statement_upload_confirm, statement_upload_create
    from statements.models import StatementProfile

    g = make_guarantor(paying_office)
    first = receive(paying_office, "s1", [item(g, statement_date="2026-10-05")]).batch
    sides.clear()
    inside = []
    ingest_batch = ingest.statement_batch_ingest

    def counted(**kwargs):
        from django.db import connection

        inside.append(len(connection.atomic_blocks))
        return ingest_batch(**kwargs)

    import statements.services

    monkeypatch.setattr(statements.services, "statement_batch_ingest", counted)
    data = io.StringIO()
    data.write("guarantor_external_id,statement_date,due_date,amount_due,balance\n")
    data.write(f"{g.external_id},2026-10-06,2026-10-25,130.00,250.00\n")
    upload = statement_upload_create(
        practice=paying_office, actor=None, batch_id="csv-2",
        profile=StatementProfile.objects.get(practice=paying_office, slug="standard"),
        upload=SimpleUploadedFile("b.csv", data.getvalue().encode(), "text/csv"))
    upload = statement_upload_confirm(upload=upload, actor=None, mode="all")
    assert upload.status == "done", upload.failure
    assert sides == ["statement-links", "statement-supersede"]
    assert inside == [0]  # no transaction of the upload's around the batch
    second = upload.received_batch
    assert (second.batch_id, second.superseded, second.notifications_queued) == ("csv-2", 2, 2)
    assert statuses(first) == [(Status.WILL_NOT_SEND, ReasonCode.SUPERSEDED)] * 2
    assert QuickPayLink.objects.filter(notification_key__startswith="statement:").count() == 4


def _chunked_batch(practice, monkeypatch):
    """Nine statements in chunks of two: a bad amount (2), a guarantor named again in a later
    chunk (5, first at 0), an unknown guarantor (7)."""
    monkeypatch.setattr(ingest, "CHUNK", 2)
    guarantors = [make_guarantor(practice, email=f"c{n}@example.test") for n in range(6)]
    items = [item(g, statement_date="2026-10-05") for g in guarantors[:5]]
    items[2]["amount_due"] = "12.345"
    items.insert(5, item(guarantors[0], statement_date="2026-10-05"))
    items += [item(guarantors[5], statement_date="2026-10-05"), item("nobody"), item(guarantors[1])]
    items[8] = item(guarantors[2], statement_date="2026-10-05", amount_due="10.00")
    return guarantors, items


@pytest.mark.parametrize("beside", [True, False], ids=["beside", "one-connection"])
@time_machine.travel(OCT_1, tick=False)
def test_a_batch_is_checked_and_written_a_chunk_at_a_time_with_the_same_outcome(
        paying_office, monkeypatch, beside):
    from statements.ingest import BatchConflict

    if not beside:  # as inside another transaction, or on another database
        monkeypatch.setattr(ingest, "available", lambda: False)
    read_on = []
    read = ingest._ChunkWriter._guarantors

    def recorded(self, external_ids):
        import threading

        read_on.append(threading.current_thread().name)
        return read(self, external_ids)

    monkeypatch.setattr(ingest._ChunkWriter, "_guarantors", recorded)
    guarantors, items = _chunked_batch(paying_office, monkeypatch)
    outcome = receive(paying_office, "chunked", items)
    batch = outcome.batch
    assert [(r["index"], r["field"]) for r in outcome.rejected] == [
        (2, "amount_due"), (5, "guarantor_external_id"), (7, "guarantor_external_id")]
    assert "appears again (first at 0)" in outcome.rejected[1]["message"]
    assert (batch.received, batch.accepted, batch.rejected_count) == (9, 6, 3)
    assert batch.notifications_queued == 12
    assert sorted(Statement.objects.filter(batch=batch).values_list("guarantor__external_id", flat=True)) \
        == sorted([g.external_id for g in guarantors])
    # After the first chunk, each chunk's guarantors were read ahead on the links' connection.
    assert read_on[0] == "MainThread"
    assert set(read_on[1:]) == ({"statement-links"} if beside else {"MainThread"})
    # The same statements in another order are a repeat; a changed one is a conflict.
    again = receive(paying_office, "chunked", list(reversed(items)))
    assert again.repeat and again.batch.pk == batch.pk and again.batch.accepted == 6
    items[3]["balance"] = "251.00"
    with pytest.raises(BatchConflict):
        receive(paying_office, "chunked", items)
    assert StatementBatch.objects.filter(batch_id="chunked").count() == 1
    assert Statement.objects.filter(batch=batch).count() == 6


@time_machine.travel(OCT_1, tick=False)
def test_a_csv_batch_run_twice_or_failed_by_the_sweep_meanwhile_ends_done_once(paying_office, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from statements import csv_batches
    from statements.models import StatementProfile, StatementUpload

    g = make_guarantor(paying_office)
    data = (f"guarantor_external_id,statement_date,due_date,amount_due,balance\n"
            f"{g.external_id},2026-10-06,2026-10-25,130.00,250.00\n").encode()
    monkeypatch.setattr("django.conf.settings.STATEMENT_UPLOAD_INLINE_ROWS", 0)  # run by "the worker"
    upload = csv_batches.statement_upload_create(
        practice=paying_office, actor=None, batch_id="csv-twice", upload=SimpleUploadedFile("b.csv", data),
        profile=StatementProfile.objects.get(practice=paying_office, slug="standard"))
    upload = csv_batches.statement_upload_confirm(upload=upload, actor=None, mode="all")
    assert upload.status == "queued"
    receive_batch = csv_batches._receive

    def swept_meanwhile(row, progress):
        outcome = receive_batch(row, progress)
        StatementUpload.objects.filter(pk=row.pk).update(status="failed", failure="did not finish in time")
        return outcome

    monkeypatch.setattr(csv_batches, "_receive", swept_meanwhile)
    upload = csv_batches.statement_upload_run(upload_id=upload.pk)
    assert (upload.status, upload.failure) == ("done", "")  # the rows are in: done after all
    batch = upload.received_batch
    assert (batch.batch_id, batch.accepted, batch.notifications_queued) == ("csv-twice", 1, 2)
    # A second delivery of the task that had read the upload as queued: a repeat, nothing changes.
    monkeypatch.setattr(csv_batches, "_receive", receive_batch)
    StatementUpload.objects.filter(pk=upload.pk).update(status="queued")
    upload = csv_batches.statement_upload_run(upload_id=upload.pk)
    assert upload.status == "done" and upload.received_batch_id == batch.pk
    assert StatementBatch.objects.filter(batch_id="csv-twice").count() == 1
    assert Statement.objects.filter(guarantor=g).count() == 1
    assert Notification.objects.filter(tag=batch.tag).count() == 2
