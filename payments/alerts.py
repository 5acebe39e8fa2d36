"""Practice alerts about applications: when one is due, to whom, and handing it to the outbox.

Two kinds of alert:

- at once: declined, activated, pre-qualified (fired by services.application_event_record);
- delayed: incomplete application (14 days after started) and open approval (48 hours after
  approved). These are AlertTimer rows with a due time; `alert_timers_fire` (a DUE_WORK job run
  every minute by beat and by `manage.py send_due`) fires those whose time has come.

A fired alert goes to every active team member of the office who was on the team when the alert
became due and whose preference for it is on: instant members get an email now, digest members
get it in their 08:00 digest (`alert_digests_send`). AlertDelivery's unique constraint keeps each
alert to at most one per application, alert and member.
"""

import logging
from collections import defaultdict
from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from config.plain_text import render_plain_text
from practices.models import Membership, Practice

from .models import Alert, AlertDelivery, AlertPreference, AlertTimer, Application, EventType

logger = logging.getLogger(__name__)

ALERT_KIND = "application_alert"
DIGEST_KIND = "application_alert_digest"
TEMPLATE_VERSION = "1"
DIGEST_HOUR = time(8, 0)
TIMER_CHUNK = 200


# alert: (the event that starts the timer, the delay, the events that cancel it when they occur
# before the due time)
TIMER_RULES = {
    Alert.INCOMPLETE: (EventType.STARTED, timedelta(days=14),
                       (EventType.COMPLETED, EventType.DECLINED, EventType.APPROVED, EventType.ACTIVATED,
                        EventType.PREQUALIFIED)),
    Alert.OPEN_APPROVAL: (EventType.APPROVED, timedelta(hours=48), (EventType.ACTIVATED,)),
}

# The event whose time an alert's email reports.
ALERT_EVENT = {
    Alert.INCOMPLETE: EventType.STARTED,
    Alert.DECLINED: EventType.DECLINED,
    Alert.OPEN_APPROVAL: EventType.APPROVED,
    Alert.ACTIVATED: EventType.ACTIVATED,
    Alert.PREQUALIFIED: EventType.PREQUALIFIED,
}


def alert_timers_sync(*, application: Application) -> None:
    """Bring the application's timers in line with its events (the application is locked).

    A timer that has fired stays fired: an event arriving after the alert went out never sends
    it again. A timer whose due time has already passed (its event reported late) stays pending
    and fires on the next tick.
    """
    timers = {t.alert: t for t in AlertTimer.objects.select_for_update().filter(application=application)}
    for alert, (trigger, delay, cancellers) in TIMER_RULES.items():
        started = application.first_at(trigger)
        if started is None:
            continue
        due_at = started + delay
        cancelled = any(application.first_at(c) is not None and application.first_at(c) < due_at
                        for c in cancellers)
        status = AlertTimer.Status.CANCELLED if cancelled else AlertTimer.Status.PENDING
        timer = timers.get(alert)
        if timer is None:
            AlertTimer.objects.create(practice_id=application.practice_id, application=application,
                                      alert=alert, due_at=due_at, status=status)
        elif timer.status != AlertTimer.Status.FIRED and (timer.due_at, timer.status) != (due_at, status):
            timer.due_at, timer.status = due_at, status
            timer.save(update_fields=["due_at", "status"])


def alert_timers_fire(*, now: datetime | None = None) -> dict:
    """DUE_WORK job: fire every pending timer whose due time has passed. Safe to run twice.

    A timer that fails (logged) stays pending and is tried again on the next run; it never
    holds up the others.
    """
    now = now or timezone.now()
    fired, failed, after = 0, 0, 0
    while True:
        due = list(AlertTimer.objects.filter(status=AlertTimer.Status.PENDING, due_at__lte=now, pk__gt=after)
                   .order_by("pk").values_list("pk", "application_id")[:TIMER_CHUNK])
        for timer_id, application_id in due:
            try:
                fired += _alert_timer_fire(timer_id=timer_id, application_id=application_id, now=now)
            except Exception:
                logger.exception("alert timer %s could not fire; it will be tried again", timer_id)
                failed += 1
        if len(due) < TIMER_CHUNK:
            break
        after = due[-1][0]
    return {"timers_fired": fired, "timers_failed": failed}


@transaction.atomic
def _alert_timer_fire(*, timer_id: int, application_id: int, now: datetime) -> int:
    # Lock the application before the timer, in the same order as recording an event does, so
    # an event changing this timer and the firing wait for each other instead of deadlocking.
    application = (Application.objects.select_for_update().select_related("practice")
                   .get(pk=application_id))
    timer = AlertTimer.objects.select_for_update().get(pk=timer_id)
    if timer.status != AlertTimer.Status.PENDING or timer.due_at > now:
        return 0  # fired by another runner, or cancelled/moved by an event meanwhile
    timer.status, timer.fired_at = AlertTimer.Status.FIRED, now
    timer.save(update_fields=["status", "fired_at"])
    alert_fire(application=application, alert=timer.alert)
    return 1


def alert_recipients(*, practice: Practice, alert: str, at: datetime) -> list[tuple[Membership, str]]:
    """(membership, instant|digest) for each member who gets this alert, raised at `at`.

    Active users only, of this office only, on the team when the alert was raised (someone added
    later gets only later alerts), with the alert on (no preference row: on, instant).
    """
    memberships = list(Membership.objects.filter(practice=practice, user__is_active=True,
                                                 created_at__lte=at).select_related("user"))
    modes = {p.membership_id: p.mode
             for p in AlertPreference.objects.filter(membership__in=memberships, alert=alert)}
    instant = AlertPreference.Delivery.INSTANT
    return [(m, modes.get(m.pk, instant)) for m in memberships if modes.get(m.pk, instant) != "off"]


def alert_fire(*, application: Application, alert: str) -> int:
    """Alert the team about one application (the caller holds the application's lock).

    The alert is raised when it is sent: now, or when it first went out if it did before. So an
    event reported late still reaches today's team, and someone who joined after an alert went
    out never gets it. Returns how many members were newly alerted (instantly or into their digest).
    """
    practice = application.practice
    deliveries = AlertDelivery.objects.filter(application=application, alert=alert)
    alert_at = deliveries.order_by("alert_at").values_list("alert_at", flat=True).first() or timezone.now()
    already = set(deliveries.values_list("user_id", flat=True))
    new = [(m, mode) for m, mode in alert_recipients(practice=practice, alert=alert, at=alert_at)
           if m.user_id not in already]
    AlertDelivery.objects.bulk_create([
        AlertDelivery(practice=practice, application=application, alert=alert, user=m.user, mode=mode,
                      alert_at=alert_at) for m, mode in new])
    instant = [m.user for m, mode in new if mode == AlertDelivery.Mode.INSTANT]
    if instant:
        _alert_emails_send(application=application, alert=alert, users=instant)
    return len(new)


def application_link(application: Application) -> str:
    """Where an alert sends its reader: the patient's page in the portal (the application's page
    until the patient is linked). ?office= puts a member of several offices in the right one."""
    if application.patient_id:
        path = reverse("patient_detail", kwargs={"patient_id": application.patient_id})
    else:
        path = reverse("application_detail", kwargs={"application_id": application.pk})
    return f"{settings.PUBLIC_BASE_URL}{path}?office={application.practice.slug}"


def _alert_context(application: Application, alert: str) -> dict:
    practice = application.practice
    when = application.first_at(ALERT_EVENT[alert])
    return {
        "practice": practice, "application": application, "alert": alert,
        "alert_label": Alert(alert).label, "patient_short_name": application.patient_short_name,
        "patient_name": f"{application.patient_first_name} {application.patient_last_name}".strip(),
        "when": timezone.localtime(when, practice.tz) if when else None,
        "link": application_link(application),
    }


def _alert_emails_send(*, application: Application, alert: str, users: list) -> None:
    # One rendering for every recipient: the email says nothing personal about its reader.
    context = _alert_context(application, alert)
    subject = render_plain_text("emails/application-alert-subject.txt", context).strip()
    body = render_plain_text("emails/application-alert-body.txt", context)
    html_body = render_to_string("emails/application-alert-body.html", context)
    for user in users:
        alert_send(practice=application.practice, user=user, kind=ALERT_KIND, subject=subject, body=body,
                   html_body=html_body, idempotency_key=f"app-alert:{application.pk}:{alert}:{user.pk}",
                   reason=f"application alert: {alert}", template_name="application-alert")


def alert_digests_send(*, now: datetime | None = None) -> dict:
    """DUE_WORK job: each office's 08:00 digest of the alerts its digest members got since the last.

    Deliveries decided before the latest 08:00 (office time) go into one email per member, and
    are marked sent in the same transaction, so a second run finds nothing left to send.
    """
    now = now or timezone.now()
    sent = 0
    practice_ids = (AlertDelivery.objects.filter(mode=AlertDelivery.Mode.DIGEST, digest_sent_at=None)
                    .values_list("practice_id", flat=True).distinct())
    for practice in Practice.objects.filter(pk__in=list(practice_ids)):
        local_now = timezone.localtime(now, practice.tz)
        day = local_now.date() if local_now.time() >= DIGEST_HOUR else local_now.date() - timedelta(days=1)
        cutoff = datetime.combine(day, DIGEST_HOUR, tzinfo=practice.tz)
        sent += _practice_digests_send(practice=practice, cutoff=cutoff, now=now)
    return {"digests_sent": sent}


@transaction.atomic
def _practice_digests_send(*, practice: Practice, cutoff: datetime, now: datetime) -> int:
    waiting = list(AlertDelivery.objects.select_for_update(skip_locked=True)
                   .filter(practice=practice, mode=AlertDelivery.Mode.DIGEST, digest_sent_at=None,
                           created_at__lt=cutoff)
                   .select_related("application", "user").order_by("alert_at", "pk"))
    if not waiting:
        return 0
    by_user = defaultdict(list)
    for delivery in waiting:
        by_user[delivery.user].append(delivery)
    members = set(Membership.objects.filter(practice=practice, user__in=list(by_user), user__is_active=True)
                  .values_list("user_id", flat=True))
    sent = 0
    for user, deliveries in by_user.items():
        if user.pk not in members:
            continue  # deactivated or left the team since: the digest is dropped with the rows below
        newest = max(d.pk for d in deliveries)
        for d in deliveries:
            d.application.practice = practice
        items = [_alert_context(d.application, d.alert) for d in deliveries]
        context = {"practice": practice, "user": user, "items": items,
                   "day": timezone.localtime(cutoff, practice.tz)}
        alert_send(
            practice=practice, user=user, kind=DIGEST_KIND,
            subject=render_plain_text("emails/application-digest-subject.txt", context).strip(),
            body=render_plain_text("emails/application-digest-body.txt", context),
            html_body=render_to_string("emails/application-digest-body.html", context),
            # The newest delivery's id in the key: a straggler committed just after a digest went out
            # gets a digest of its own instead of being swallowed by the first one's key.
            idempotency_key=f"app-digest:{practice.pk}:{user.pk}:{cutoff.date()}:{newest}",
            reason="application alerts: daily digest", template_name="application-digest")
        sent += 1
    AlertDelivery.objects.filter(pk__in=[d.pk for d in waiting]).update(digest_sent_at=now)
    return sent


def alert_send(*, practice: Practice, user, kind: str, subject: str, body: str, html_body: str,
               idempotency_key: str, reason: str, template_name: str):
    """Hand one rendered alert email to the outbox (the only place alerts touch notifications)."""
    from notifications.services import Recipient, notification_schedule

    return notification_schedule(
        practice=practice,
        recipient=Recipient(kind="user", id=user.pk, name=user.display_name, time_zone="", consent=True),
        channel="email", address=user.email, kind=kind, subject=subject, body=body, html_body=html_body,
        idempotency_key=idempotency_key, reason=reason, template_name=template_name,
        template_version=TEMPLATE_VERSION)


def due_timers_run() -> dict:
    """Entry in settings.DUE_WORK: fire due timers, then send the digests whose hour has come."""
    return {**alert_timers_fire(), **alert_digests_send()}
