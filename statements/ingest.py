"""Taking in a statement batch from the PMS (API request or CSV file), set-based.

1. Check every statement on its own (records.py) and note repeated guarantors; digest the
   statements as sent, whatever their order. This goes a chunk at a time, a chunk ahead of
   the one written (StatementChecker), so that a large batch is never held twice.
2. Under a per-practice lock (PostgreSQL advisory lock; SQLite has one writer anyway): the same
   batch_id with the same digest is a repeat (its stored counts are the answer), with another
   digest a conflict (the statements are all checked first). Otherwise the batch row is
   written, and its digest and count received when the last chunk is.
3. Then, by chunks of CHUNK statements, each chunk a handful of statements to the database:
   a. read the chunk's guarantors with their dunning count and current statement (one query);
      unknown guarantors and patients who are not guarantors are rejected one by one;
   b. the new count: an amount due above zero raises it by one, a balance at or below zero
      sets it to zero, otherwise it stays; the statement's level is the new count when
      something is due;
   c. write the statements (one INSERT ... RETURNING) and the dunning rows (one upsert);
   d. stop the unsent messages of the guarantors' previous statements as superseded (one
      set-based cancel): the newest statement speaks, whatever it says;
   e. queue the messages of the profile's approved proof at each statement's level, one per
      step whose channel the guarantor can receive (scheduling.py), rendered with their payment
      links and written by one set-based schedule.
   Nothing is queued when the balance-notifications add-on is off, or the profile is inactive
   or has no approved proof: the statements and counts are kept and the batch says why.

Five things run side by side (the machine's cores are the limit, not the database's waits):
- this thread writes the statements, dunning rows and messages;
- a second thread does the Python alone: a and b for the next chunk, and the texts of this one,
  while this thread writes the messages of the chunk before; a third checks the chunk after;
- on PostgreSQL outside any other transaction, two side connections (config/side_transaction.py)
  read the next chunk's guarantors and store the payment links (committed just before the
  batch: a message never carries a link that was not stored; a link left by a crash in between
  is one nobody has) and run d (committed just after: a crash in between leaves older messages
  queued, and the "still wanted?" check stops them as superseded before they are sent).
  Elsewhere all is done in line. (The CSV import takes its batch outside its upload's
  transaction for this: csv_batches.py.)

Memory: what the caller holds of the request (the API's parsed body; a CSV file is read as it
goes), a digest of each guarantor named so far, and a few chunks' rows.
"""

import logging
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from config.side_transaction import SideTransaction, available
from notifications.models import ReasonCode
from notifications.schedule_many import (
    NotificationIds,
    json_chunks,
    json_list,
    notifications_cancel_many,
    notifications_copy_new,
    notifications_copy_prepare,
    notifications_schedule_many,
)
from notifications.sql import among, run
from notifications.staging import stage, staged_source
from patients.records import collector_paused
from practices.services import audit_record

from .links import message_link_settings
from .models import (
    BatchStatus,
    Dunning,
    Statement,
    StatementBatch,
    StatementProfile,
    statement_key,
)
from .records import ContentDigest, StatementRecord, record_check
from .scheduling import Addressee, links_drawn, outgoing, plan_statement, proof_steps

logger = logging.getLogger(__name__)

CHUNK = 2500
BESIDE_FROM = 2000  # statements: a smaller batch writes everything on its own connection (< CHUNK)
MAX_STATEMENTS = 100_000
KEPT_REJECTIONS = 1000
ZERO = Decimal("0.00")
_STATEMENTS = Statement._meta.db_table
_DUNNING = Dunning._meta.db_table


class ProfileUnknown(Exception):
    def __init__(self, slug: str):
        super().__init__(f"No statement profile {slug!r} in this practice.")


class BatchConflict(Exception):
    """The batch_id is already used by a batch with other statements."""

    def __init__(self, batch: StatementBatch):
        self.batch = batch
        super().__init__(f"Batch {batch.batch_id!r} was already received with other statements; "
                         "send it with a new batch_id.")


@dataclass
class IngestOutcome:
    batch: StatementBatch
    repeat: bool  # the same batch was received before: nothing changed
    rejected: list[dict] = field(default_factory=list)  # every rejection of this request


def batch_id_clean(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({"batch_id": "A batch_id (the PMS's name for the run) is required."})
    value = value.strip()
    if len(value) > 64:
        raise ValidationError({"batch_id": "At most 64 characters."})
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError({"batch_id": "It contains a control character."})
    return value


def profile_for(*, practice, slug) -> StatementProfile:
    """The profile named by `slug`, or the default one when no slug is given."""
    if slug is None or slug == "":
        profile = StatementProfile.objects.filter(practice=practice, is_default=True).first()
        if profile is None:
            raise ProfileUnknown("(default)")
        return profile
    if not isinstance(slug, str) or "\x00" in slug:  # no such slug (and PostgreSQL refuses NUL)
        raise ProfileUnknown(str(slug)[:60].replace("\x00", ""))
    profile = StatementProfile.objects.filter(practice=practice, slug=slug[:60]).first()
    if profile is None or not isinstance(slug, str):
        raise ProfileUnknown(str(slug)[:60])
    return profile


def sending_note(*, practice, profile: StatementProfile) -> str:
    """Why a batch for this profile queues nothing ("" when it queues messages)."""
    if not practice.addon_balance_notifications:
        return ("The balance-notifications add-on is off for this office: the statements are "
                "stored and no notification was queued.")
    if not profile.active:
        return (f"The profile {profile.name!r} is inactive: the statements are stored and no "
                "notification was queued.")
    if profile.approved_version_id is None:
        return (f"The profile {profile.name!r} has no approved proof yet: the statements are stored "
                "and no notification was queued.")
    return ""


class StatementChecker:
    """Checks a batch's (index, item) pairs a chunk at a time, as the ingestion asks for them: a
    guarantor named twice is rejected after its first. The digest of the statements as sent
    (whatever their order) and the count received are known once every item was taken."""

    def __init__(self, items: Iterable[tuple[int, object]], profile_slug: str):
        self._items = iter(items)
        self._digest = ContentDigest(profile_slug)
        self._first_at: dict[str, int] = {}
        self.rejected: list[dict] = []
        self.received = 0
        self.exhausted = False

    def take(self, size: int) -> list[StatementRecord] | None:
        """The statements of the next `size` items that pass (maybe none); None once every item
        was taken."""
        if self.exhausted:
            return None
        records, rejected, first_at = [], self.rejected, self._first_at
        taken = 0
        for index, item in self._items:
            taken += 1
            self._digest.add(item)
            record, errors = record_check(index, item)
            if record is None:
                rejected += [{"index": index, "field": f, "message": m} for f, m in errors]
            elif (seen := first_at.setdefault(record.guarantor_external_id, index)) != index:
                rejected.append({"index": index, "field": "guarantor_external_id", "message":
                                 f"{record.guarantor_external_id!r} appears again (first at {seen})"})
            else:
                records.append(record)
            if taken == size:
                break
        else:
            self.exhausted = True
        self.received += taken
        return records if taken else None  # nothing taken: every item was

    def take_all(self) -> list[StatementRecord]:
        records = []
        while (part := self.take(CHUNK)) is not None:
            records += part
        return records

    def digest(self) -> str:
        assert self.exhausted, "the digest is of every item"
        return self._digest.hexdigest()


def statement_batch_ingest(*, practice, batch_id: str, profile: StatementProfile,
                           items: Iterable[tuple[int, object]], source: str, actor=None,
                           progress: Callable[[int], None] | None = None) -> IngestOutcome:
    """Check and store a batch and queue its messages (module docstring); all or nothing.

    The statements are checked a chunk ahead of the one written, by a thread of their own. On
    PostgreSQL, outside any transaction, the payment links and the superseding of a batch of
    BESIDE_FROM statements or more are written by two side connections while this one writes the
    statements and the messages: the links commit just before the batch, the superseding just
    after it. (Inside another transaction, whose commit would come after the superseding's,
    everything is written here.)

    Python's cyclic garbage collector is paused meanwhile: a batch makes millions of small
    objects, none in a cycle, and each of the collector's passes walked all of them (a CSV
    batch, which nothing else paused it for, spent 2.5 s more of CPU than the same batch by the
    API)."""
    with collector_paused():  # whichever door the batch came by (the API pauses it too)
        return _ingest_paused(practice=practice, batch_id=batch_id, profile=profile, items=items,
                              source=source, actor=actor, progress=progress)


def _ingest_paused(*, practice, batch_id, profile, items, source, actor, progress) -> IngestOutcome:
    checker = StatementChecker(items, profile.slug)
    first = checker.take(CHUNK)
    # A small batch keeps to one connection: two more would cost more than they save. (More
    # than a chunk is more than BESIDE_FROM.)
    beside = (not checker.exhausted or len(first or ()) >= BESIDE_FROM) and available()
    superseding: list[Future] = []  # the counts of the superseding done beside
    with (SideTransaction("statement-links") if beside else nullcontext()) as links_side, \
            (SideTransaction("statement-supersede") if beside else nullcontext()) as supersede_side:
        with transaction.atomic():
            outcome = _ingest(practice=practice, batch_id=batch_id, profile=profile, checker=checker,
                              first=first, source=source, actor=actor, progress=progress,
                              links_side=links_side, supersede_side=supersede_side, superseding=superseding)
            if links_side is not None:
                links_side.commit()  # a failure there raises here: the batch rolls back
        if supersede_side is not None:
            # After the batch's commit (its last chunks' superseding runs meanwhile): lost to a
            # crash in between, or refused, the older messages would still be stopped as
            # superseded by the "still wanted?" check before their send. The batch stands either
            # way; its count of messages superseded is of those stopped here.
            try:
                supersede_side.commit()
            except Exception as exc:  # the batch is committed: logged, never raised
                logger.error("statement batch %s: the superseding of older messages did not commit (%s); "
                             "they are stopped when they fall due", outcome.batch.pk, type(exc).__name__)
            else:
                if stopped := sum(future.result() for future in superseding):
                    StatementBatch.objects.filter(pk=outcome.batch.pk).update(superseded=stopped)
                    outcome.batch.superseded = stopped
    return outcome


def _ingest(*, practice, batch_id, profile, checker: StatementChecker, first, source, actor, progress,
            links_side, supersede_side, superseding: list) -> IngestOutcome:
    if connection.vendor == "postgresql":
        run("SELECT pg_advisory_xact_lock(hashtext('statements.ingest'), %s)", [practice.pk])
    existing = StatementBatch.objects.filter(practice=practice, batch_id=batch_id).select_related(
        "profile").first()
    if existing is not None:
        checker.take_all()
        if existing.content_hash != checker.digest():
            raise BatchConflict(existing)
        return IngestOutcome(batch=existing, repeat=True, rejected=existing.rejected)
    note = sending_note(practice=practice, profile=profile)
    now = timezone.now()
    # The digest and the count received are known at the end (under the lock, a repeat sent
    # meanwhile waits for this batch and then finds them).
    batch = StatementBatch.objects.create(
        practice=practice, batch_id=batch_id, profile=profile, source=source,
        status=BatchStatus.STORED if note else BatchStatus.QUEUED, note=note, received_at=now,
        created_by=actor if actor and actor.pk else None)
    steps = {} if note else proof_steps(profile.approved_version.steps)
    rejected = []
    done = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="statement-render") as renderer, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="statement-check") as check:
        writer = _ChunkWriter(practice=practice, batch=batch, steps=steps, now=now, renderer=renderer,
                              links_side=links_side, supersede_side=supersede_side, superseding=superseding)
        chunk, following = first, checker.take(CHUNK)
        while chunk is not None:
            # The chunk after `following` is checked while this one is written.
            ahead = check.submit(checker.take, CHUNK) if following is not None else None
            if chunk:
                rejected += writer.write(chunk, following=following or [])
            done += len(chunk)
            if progress:
                progress(done)
            chunk, following = following, ahead.result() if ahead is not None else None
        writer.finish()
    rejected += checker.rejected
    rejected.sort(key=lambda r: r["index"])
    batch.content_hash, batch.received = checker.digest(), checker.received
    batch.accepted = writer.accepted
    batch.rejected_count = len({r["index"] for r in rejected})
    batch.notifications_queued = writer.queued
    batch.no_channel = writer.no_channel
    batch.superseded = writer.superseded
    batch.rejected = rejected[:KEPT_REJECTIONS]
    batch.save(update_fields=["content_hash", "received", "accepted", "rejected_count",
                              "notifications_queued", "no_channel", "superseded", "rejected"])
    audit_record(practice=practice, actor=actor, action="statements.batch_received",
                 target=f"batch {batch.batch_id}", source=source, accepted=batch.accepted,
                 rejected=batch.rejected_count, queued=batch.notifications_queued)
    return IngestOutcome(batch=batch, repeat=False, rejected=rejected)


# The guarantors of a chunk, with their dunning count and current statement's queued steps.
_GUARANTORS = (
    "SELECT p.external_id, p.id, p.guarantor_id, p.first_name, p.last_name, p.email, "  # noqa: S608
    "p.mobile_phone, p.home_phone, p.time_zone, p.consent_email, p.consent_sms, p.consent_voice, "
    "d.count, d.statement_id, s.steps "
    f"FROM patients_patient p LEFT JOIN {_DUNNING} d ON d.guarantor_id = p.id "
    f"LEFT JOIN {_STATEMENTS} s ON s.id = d.statement_id "
    "{join}WHERE p.practice_id = %s {among}"
)
_STATEMENT_COLUMNS = ("guarantor_id", "statement_date", "due_date", "amount_due", "balance", "level", "steps")
_STATEMENT_TYPES = ("bigint", "date", "date", "numeric", "numeric", "integer", "varchar")
_INSERT_STATEMENTS = (f"INSERT INTO {_STATEMENTS} ({', '.join(_STATEMENT_COLUMNS)}, batch_id, "
                      "practice_id, created_at)")
_UPSERT_DUNNING = (f"INSERT INTO {_DUNNING} (guarantor_id, count, statement_id, practice_id, updated_at)")
_DUNNING_CONFLICT = ("ON CONFLICT (guarantor_id) DO UPDATE SET count = excluded.count, "
                     "statement_id = excluded.statement_id, paid_at = NULL, updated_at = excluded.updated_at")
_STAGE_COLUMNS = (*zip(_STATEMENT_COLUMNS, _STATEMENT_TYPES, strict=True), ("count", "integer"))
_STAGE = "statement_stage"
# PostgreSQL: a chunk's statements and dunning rows in one statement, from the staged rows.
_PG_STATEMENTS = " ".join([  # composed from the constants above, no input
    f"WITH v AS ({staged_source(_STAGE)}),",
    f"ins AS ({_INSERT_STATEMENTS} SELECT {', '.join(_STATEMENT_COLUMNS)}, %s, %s, %s FROM v",  # noqa: S608
    "RETURNING guarantor_id, id),",
    f"dun AS ({_UPSERT_DUNNING} SELECT v.guarantor_id, v.count, ins.id, %s, %s FROM v",  # noqa: S608
    f"JOIN ins ON ins.guarantor_id = v.guarantor_id {_DUNNING_CONFLICT})",
    "SELECT guarantor_id, id FROM ins",
])


class _ChunkWriter:
    def __init__(self, *, practice, batch: StatementBatch, steps: dict, now,
                 renderer: Executor, links_side: SideTransaction | None = None,
                 supersede_side: SideTransaction | None = None, superseding: list[Future] | None = None):
        self.practice = practice
        self.renderer = renderer
        self.renderings: deque[Future] = deque()  # the texts of the last chunks, being rendered
        self.batch = batch
        self.steps = steps
        self.now = now
        self.tag = batch.tag
        self.reason = f"statement batch {batch.batch_id}"[:120]
        self.links_side, self.supersede_side = links_side, supersede_side
        self.reading: Future | None = None  # the next chunk's guarantors, read beside
        # The counts of the superseding beside, in the caller's list (read once it committed).
        self.superseding = superseding if superseding is not None else []
        self.accepted = self.queued = self.no_channel = self.superseded = 0
        self.copy = json_chunks()
        self.ids = NotificationIds() if self.copy else None
        # Read here, once: the other thread draws the links and reads nothing.
        self.link_settings = message_link_settings(practice)

    def _guarantors(self, external_ids: list[str]) -> dict[str, tuple]:
        if json_chunks():  # joined with the ids (see notifications_cancel_many)
            sql = _GUARANTORS.replace("{join}", "JOIN json_array_elements_text(%s::json) AS k(external_id) "
                                      "ON k.external_id = p.external_id ").replace("{among}", "")
            args = [json_list(external_ids), self.practice.pk]
        else:
            where, ids = among("p.external_id", external_ids, array_type="varchar")
            sql = _GUARANTORS.replace("{join}", "").replace("{among}", "AND " + where)
            args = [self.practice.pk, *ids]
        return {row[0]: row for row in run(sql, args)}

    def write(self, chunk: list[StatementRecord], following: list[StatementRecord]) -> list[dict]:
        """Write `chunk`; the guarantors of `following` (the next chunk) are read meanwhile by the
        links' side connection, when there is one: it reads what this transaction has not
        written (the batch names each guarantor once), as committed."""
        if self.reading is None:
            found = self._guarantors([r.guarantor_external_id for r in chunk])
        else:
            found, self.reading = self.reading.result(), None
        if self.links_side is not None and following:
            self.reading = self.links_side.submit(
                self._guarantors, [r.guarantor_external_id for r in following])
        # The chunk is planned by the other thread while this one writes the messages of the
        # chunk before last, whose texts that thread rendered meanwhile.
        planning = self.renderer.submit(self._plan, chunk, found)
        while len(self.renderings) >= 2:
            self._schedule_rendered()
        rejected, plans, statement_rows, old_keys, no_channel = planning.result()
        self.no_channel += no_channel
        if not plans:
            return rejected
        # c. statements and dunning rows
        ids = self._write_statements(statement_rows)
        self.accepted += len(plans)
        # d. the previous statements' unsent messages (beside, or here)
        if old_keys:
            if self.supersede_side is not None:
                self.superseding.append(self.supersede_side.submit(self._supersede, old_keys))
            else:
                self.superseded += self._supersede(old_keys)
        # e. this chunk's messages, with their payment links (stored beside, or here)
        planned = []
        for gid, items in plans:
            for p in items:
                p.attach(ids[gid])
                planned.append(p)
        if planned:
            self.renderings.append(self.renderer.submit(self._render, planned))
        return rejected

    def _render(self, planned: list) -> tuple:
        """The messages of a chunk with their payment links drawn, laid out for the COPY where
        it is used (Python alone: it runs in the other thread)."""
        links, drawn = links_drawn(planned, practice=self.practice, settings=self.link_settings)
        messages = outgoing(planned, practice=self.practice, tag=self.tag, reason=self.reason, links=links)
        return (notifications_copy_prepare(messages) if self.copy else messages), drawn

    def _schedule_rendered(self) -> None:
        """Write the messages of the oldest chunk rendered, once their links are stored (beside,
        or here)."""
        messages, drawn = self.renderings.popleft().result()
        if drawn is not None:
            if self.links_side is not None:
                self.links_side.submit(drawn.store_all)
            else:
                drawn.store_all()
        if self.copy:  # the keys name statements this batch wrote: new by construction
            self.queued += notifications_copy_new(practice=self.practice, messages=messages,
                                                  ids=self.ids).created
        else:
            self.queued += notifications_schedule_many(practice=self.practice, messages=messages,
                                                       chunk=len(messages)).created

    def _plan(self, chunk: list[StatementRecord], found: dict[str, tuple]):
        """a. rejections, b. counts, levels and what each statement queues (Python alone: it runs
        in the other thread)."""
        rejected, kept = [], []
        for record in chunk:
            row = found.get(record.guarantor_external_id)
            if row is None:
                rejected.append({"index": record.index, "field": "guarantor_external_id",
                                 "message": f"unknown guarantor {record.guarantor_external_id!r}"})
            elif row[2] != row[1]:
                rejected.append({"index": record.index, "field": "guarantor_external_id",
                                 "message": f"{record.guarantor_external_id!r} is not a guarantor "
                                            "(their own guarantor)"})
            else:
                kept.append((record, row))
        plans, statement_rows, old_keys, no_channel = [], [], [], 0
        for record, row in kept:
            addressee = Addressee(row[1], *row[3:12])
            old_count, old_statement, old_steps = row[12] or 0, row[13], row[14] or ""
            if record.amount_due > ZERO:
                count = old_count + 1
            elif record.balance <= ZERO:
                count = 0
            else:
                count = old_count
            level = count if record.amount_due > ZERO else 0
            planned = []
            if self.steps and level:
                planned = plan_statement(
                    practice=self.practice, steps=self.steps, count=level, addressee=addressee,
                    statement_id=None, statement_date=record.statement_date, due_date=record.due_date,
                    amount_due=record.amount_due, balance=record.balance,
                    practice_tz=self.practice.time_zone)
                receivable = [p for p in planned if p.address]
                if planned and not receivable:
                    no_channel += 1
                planned = receivable
            plans.append((addressee.id, planned))
            statement_rows.append((addressee.id, record.statement_date, record.due_date,
                                   record.amount_due, record.balance, level,
                                   ",".join([p.step.id_text for p in planned]), count))
            if old_statement:
                old_keys += [statement_key(old_statement, int(s)) for s in old_steps.split(",") if s]
        return rejected, plans, statement_rows, old_keys, no_channel

    def _supersede(self, keys: list[str]) -> int:
        return notifications_cancel_many(
            practice=self.practice, reason_code=ReasonCode.SUPERSEDED, keys=keys,
            detail=f"superseded by statement batch {self.batch.batch_id}", chunk=len(keys))

    def finish(self) -> None:
        """Write the last chunk's messages. (The superseding done beside goes on: it is counted
        once committed, after the batch.)"""
        while self.renderings:
            self._schedule_rendered()

    def _write_statements(self, rows: list[tuple]) -> dict[int, int]:
        """Insert the statements and upsert the dunning rows; guarantor id -> statement id."""
        batch, practice, now = self.batch.pk, self.practice.pk, self.now
        if json_chunks():
            stage(_STAGE, _STAGE_COLUMNS, rows)
            return dict(run(_PG_STATEMENTS, [batch, practice, now, practice, now]))
        found = {}
        for part in _parts(rows):
            values = [(*r[:7], batch, practice, now) for r in part]
            found.update(run(*_values_statement(_INSERT_STATEMENTS, values, 10,
                                                "RETURNING guarantor_id, id")))
        for part in _parts(rows):
            values = [(r[0], r[7], found[r[0]], practice, now) for r in part]
            run(*_values_statement(_UPSERT_DUNNING, values, 5, _DUNNING_CONFLICT))
        return found


def _values_statement(head: str, rows: list[tuple], width: int, tail: str) -> tuple[str, list]:
    """`head VALUES (...), (...) tail` with a placeholder per value (the generic path)."""
    row = "(" + ", ".join(["%s"] * width) + ")"
    return f"{head} VALUES {', '.join([row] * len(rows))} {tail}", [v for r in rows for v in r]


def _parts(rows: list[tuple]):
    """A few hundred rows at a time, under SQLite's limit of variables a statement."""
    for start in range(0, len(rows), 300):
        yield rows[start:start + 300]
