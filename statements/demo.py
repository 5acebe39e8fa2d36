"""Demo statement batches for the demo offices: one two months ago and one last month.

Both go through the real ingestion. The first batch's messages are then written into the past
as the engine would have left them (delivered, sent, a few undeliverable), so the dashboard's
panel, the history and Manage errors have something to show; the second batch, under a due-date
profile, leaves its later messages in the queue and its first ones due now, for the worker to
send into the dev outbox. An office that already has a batch is left alone.
"""

import random
from datetime import time, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from notifications.models import Notification, NotificationDue, NotificationEvent, Status
from patients.models import Balance
from practices.demo import DemoResult
from practices.models import Practice

from .models import BALANCE_KIND, BatchSource, Statement, StatementBatch, StatementProfile
from .profiles import profile_create, proof_approve, standard_profile_create, step_save
from .scheduling import step_time
from .services import statement_batch_receive

OFFICES = ("bright-smiles-downtown", "bright-smiles-northside")
ZERO = Decimal("0.00")
_FACTORS = [Decimal("1"), Decimal("1"), Decimal("1"), Decimal("0.8"), Decimal("1.1")]


def _due_date_profile(practice) -> StatementProfile:
    profile = StatementProfile.objects.filter(practice=practice, slug="due-date-reminders").first()
    if profile is not None:
        return profile
    standard = StatementProfile.objects.get(practice=practice, slug="standard")
    templates = {s.channel: s.template for s in standard.steps.select_related("template").filter(level=1)}
    profile = profile_create(practice=practice, actor=None, name="Due-date reminders")
    for anchor_days, channel, at in ((-5, "email", time(9, 0)), (0, "sms", time(12, 0)),
                                     (7, "sms", time(10, 30))):
        step_save(profile=profile, actor=None, level=1, anchor="due_date", offset_days=anchor_days,
                  at_time=at, channel=channel, template=templates[channel])
    proof_approve(profile=profile, actor=None)
    return profile


def _items(practice, statement_date, due_date, rng):
    owing = (Balance.objects.filter(practice=practice, amount_due__gt=0).select_related("guarantor")
             .order_by("guarantor__external_id"))
    for index, balance in enumerate(owing):
        factor = rng.choice(_FACTORS) if index % 7 else ZERO  # every seventh paid since
        amount = (balance.amount_due * factor).quantize(Decimal("0.01"))
        yield index, {"guarantor_external_id": balance.guarantor.external_id,
                      "statement_date": statement_date.isoformat(), "due_date": due_date.isoformat(),
                      "amount_due": f"{amount:.2f}", "balance": f"{max(balance.total, amount):.2f}"}


def _into_the_past(batch: StatementBatch, received, rng) -> None:
    """Date a batch and its messages back to when they would have happened, each message
    delivered (or refused by its provider) at its step's time."""
    StatementBatch.objects.filter(pk=batch.pk).update(received_at=received)
    Statement.objects.filter(batch=batch).update(created_at=received)
    steps = {s["id"]: s for s in batch.profile.approved_version.steps}
    statements = {s.pk: s for s in Statement.objects.filter(batch=batch).select_related("guarantor")}
    rows = list(Notification.objects.filter(practice_id=batch.practice_id, tag=batch.tag))
    events = []
    for n in rows:
        _, statement_id, _, step_id = n.idempotency_key.split(":")
        statement = statements[int(statement_id)]
        at = step_time(steps[int(step_id)], statement_date=statement.statement_date,
                       due_date=statement.due_date, tz_name=n.recipient_time_zone or batch.practice.time_zone)
        roll = rng.random()
        if roll < 0.05:
            status, detail = Status.UNDELIVERABLE_PERMANENT, (
                "Twilio 21614: not a mobile number" if n.channel == "sms" else "hard bounce: mailbox unknown")
        else:
            status, detail = (Status.DELIVERED, "delivered") if roll < 0.9 else (Status.SENT, "accepted")
        n.status, n.send_at, n.first_due_at, n.sent_at, n.attempts = status, at, at, at, 1
        n.created_at = n.updated_at = received
        n.last_error = detail if status == Status.UNDELIVERABLE_PERMANENT else ""
        events.append(NotificationEvent(notification_id=n.pk, status=status, detail=detail))
    Notification.objects.bulk_update(rows, ["status", "send_at", "first_due_at", "sent_at", "attempts",
                                            "created_at", "updated_at", "last_error"], batch_size=500)
    NotificationDue.objects.filter(notification_id__in=[n.pk for n in rows]).delete()
    NotificationEvent.objects.bulk_create(events, batch_size=500)
    # By the ids in hand, not a join: inside the seeding transaction the tables have no statistics
    # yet, and the planner's nested loops over the join took minutes for a few thousand events.
    mine = NotificationEvent.objects.filter(notification_id__in=[n.pk for n in rows])
    mine.filter(status=Status.QUEUED).update(created_at=received)
    mine.exclude(status=Status.QUEUED).update(created_at=Subquery(
        Notification.objects.filter(pk=OuterRef("notification_id")).values("send_at")[:1]))


@transaction.atomic
def demo_seed() -> DemoResult:
    practices = list(Practice.objects.filter(slug__in=OFFICES).order_by("slug"))
    created = False
    now = timezone.now()
    for practice in practices:
        if not StatementProfile.objects.filter(practice=practice).exists():
            standard_profile_create(practice)
        if StatementBatch.objects.filter(practice=practice).exists():
            continue
        rng = random.Random(practice.slug + "-statements")
        today = timezone.localdate(now, practice.tz)
        first_date = today - timedelta(days=60)
        first_items = _items(practice, first_date, first_date + timedelta(days=25), rng)
        first = statement_batch_receive(
            practice=practice, batch_id=f"{first_date:%Y-%m}-A", profile_slug="standard",
            source=BatchSource.API, items=first_items).batch
        _into_the_past(first, now - timedelta(days=60), rng)
        second_date = today - timedelta(days=30)
        second = statement_batch_receive(
            practice=practice, batch_id=f"{second_date:%Y-%m}-A",
            profile_slug=_due_date_profile(practice).slug, source=BatchSource.API,
            items=_items(practice, second_date, today + timedelta(days=5), rng)).batch
        month_ago = now - timedelta(days=30)
        StatementBatch.objects.filter(pk=second.pk).update(received_at=month_ago)
        Statement.objects.filter(batch=second).update(created_at=month_ago)
        Notification.objects.filter(practice=practice, tag=second.tag).update(created_at=month_ago)
        created = True
    batches = StatementBatch.objects.filter(practice__in=practices).count()
    queued = Notification.objects.filter(practice__in=practices, kind=BALANCE_KIND,
                                         status=Status.QUEUED).count()
    return DemoResult(practices=practices, created=created,
                      summary=f"Statement batches: {batches}; balance notifications waiting: {queued}.")
