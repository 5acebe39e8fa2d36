"""Demo statement batches for the demo offices: one two months ago and one last month; the
QuickPay demo on their real dunning messages.

Both batches go through the real ingestion, so every message carries a QuickPay link minted for
it. The first batch's messages are then written into the past
as the engine would have left them (delivered, sent, a few undeliverable), so the dashboard's
panel, the history and Manage errors have something to show; the second batch, under a due-date
profile, leaves its later messages in the queue and its first ones due now, for the worker to
send into the dev outbox. An office that already has a batch is left alone.
"""

import random
import re
from datetime import time, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from notifications.dispatch import enqueue_on_commit
from notifications.models import Notification, NotificationDue, NotificationEvent, Status
from patients.models import IS_GUARANTOR, Balance, Patient
from practices.demo import DemoResult
from practices.models import Practice

from .models import BALANCE_KIND, BatchSource, Statement, StatementBatch, StatementProfile
from .on_demand import on_demand_templates_create
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
        on_demand_templates_create(practice)
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


# --- QuickPay on the real dunning: a text whose link pays, and the dunning that then stops ---

_BROUGHT_FORWARD = "brought forward for the QuickPay demo"
_LINK = re.compile(r"https?://\S+/p/[A-Za-z0-9_-]{22}")


def _demo_text(practice, batch: StatementBatch):
    """The first queued text of a Downtown guarantor who owes, can be texted, is not in
    collections and has more of the batch's dunning queued after it (what a payment stops)."""
    owing = Patient.objects.filter(IS_GUARANTOR, practice=practice, consent_sms=True, balance__total__gt=100,
                                   balance__amount_due__gt=0, balance__in_collections=False).exclude(
        mobile_phone="").order_by("external_id").values_list("pk", flat=True)
    for guarantor_id in owing[:200]:
        waiting = list(Notification.objects.filter(
            practice=practice, tag=batch.tag, recipient_id=guarantor_id, status=Status.QUEUED)
            .order_by("send_at", "pk"))
        texts = [n for n in waiting if n.channel == "sms"]
        if texts and len(waiting) > 1:
            return texts[0]
    return None


@transaction.atomic
def quickpay_demo_seed() -> DemoResult:
    """Bring one Downtown guarantor's next dunning text forward to now: the worker sends it into
    the Dev outbox, its QuickPay link opens the page and pays in the sandbox checkout, and the
    rest of that guarantor's dunning becomes "will not send: balance paid". Done once; the link
    is printed each time (it is in the text)."""
    practice = Practice.objects.filter(slug=OFFICES[0]).first()
    batch = (StatementBatch.objects.filter(practice=practice).order_by("-received_at").first()
             if practice else None)
    if batch is None:
        return DemoResult(practices=[], created=False)
    text = Notification.objects.filter(practice=practice, kind=BALANCE_KIND, channel="sms",
                                       events__detail=_BROUGHT_FORWARD).first()
    created = text is None
    if created:
        text = _demo_text(practice, batch)
        if text is None:
            return DemoResult(practices=[practice], created=False)
        now = timezone.now()
        Notification.objects.filter(pk=text.pk).update(send_at=now, first_due_at=now, updated_at=now)
        NotificationDue.objects.filter(notification_id=text.pk).update(due_at=now)
        NotificationEvent.objects.create(notification_id=text.pk, status=Status.QUEUED,
                                         detail=_BROUGHT_FORWARD)
        enqueue_on_commit(text.pk)
    link = _LINK.search(text.body)
    guarantor = Patient.objects.select_related("balance").get(pk=text.recipient_id)
    return DemoResult(practices=[practice], created=created, summary=(
        f"QuickPay demo: {guarantor.first_name} {guarantor.last_name[:1]}. owes "
        f"${guarantor.balance.total:,}; their dunning text (Dev outbox) links to "
        f"{link.group(0) if link else 'the office phone'}: pay with card 4242 4242 4242 4242 and the "
        "rest of their dunning stops (will not send: balance paid)."))
