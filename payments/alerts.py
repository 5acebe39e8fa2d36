"""Practice alerts about applications: when one is due, to whom, and handing it to the outbox.

Every alert of an application is an AlertTimer row with a due time:

- at once: declined, activated, pre-qualified. Each event of the type makes its timer due now
  (again, if it fired before: a member who missed it, their preference being off, gets it from
  a later event of the type), and asks for a run once the event is committed (`alerts_kick`);
- delayed: incomplete application (14 days after started) and open approval (48 hours after
  approved), which later events may cancel or move until they fire.

`alert_timers_fire` fires every due timer: on that request (a Celery task), and as a DUE_WORK
job every minute (beat, `manage.py send_due`), which also catches a request that was lost. It
works set-based, a chunk of applications per transaction, so a provider replaying a day of
events in a burst costs a few statements per chunk rather than per event.

A fired alert goes to every active team member of the office who was on the team when the alert
was raised and whose preference for it is on: instant members get an email now, digest members
get it in their 08:00 digest (`alert_digests_send`). AlertDelivery's unique constraint keeps each
alert to at most one per application, alert and member.
"""

import contextlib
import logging
import time as clock
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from config.plain_text import render_plain_text
from practices.models import Membership, Practice, User

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

# Alerts due as soon as an event of their type is recorded.
IMMEDIATE_ALERTS = {
    EventType.DECLINED: Alert.DECLINED,
    EventType.ACTIVATED: Alert.ACTIVATED,
    EventType.PREQUALIFIED: Alert.PREQUALIFIED,
}

# The event whose time an alert's email reports.
ALERT_EVENT = {
    Alert.INCOMPLETE: EventType.STARTED,
    Alert.DECLINED: EventType.DECLINED,
    Alert.OPEN_APPROVAL: EventType.APPROVED,
    Alert.ACTIVATED: EventType.ACTIVATED,
    Alert.PREQUALIFIED: EventType.PREQUALIFIED,
}


def _delayed_timers(application: Application):
    """(alert, due at, status) of each delayed alert whose starting event has occurred."""
    for alert, (trigger, delay, cancellers) in TIMER_RULES.items():
        started = application.first_at(trigger)
        if started is None:
            continue
        due_at = started + delay
        cancelled = any(application.first_at(c) is not None and application.first_at(c) < due_at
                        for c in cancellers)
        yield alert, due_at, AlertTimer.Status.CANCELLED if cancelled else AlertTimer.Status.PENDING


def alert_timers_first(*, application: Application, event_type: str) -> list[AlertTimer]:
    """The timers (unsaved) of an application its first event created: what alert_timers_sync
    gives it. An event of an immediate alert's type makes that alert due now."""
    timers = [AlertTimer(practice_id=application.practice_id, application=application, alert=alert,
                         due_at=due_at, status=status)
              for alert, due_at, status in _delayed_timers(application)]
    if event_type in IMMEDIATE_ALERTS:
        timers.append(AlertTimer(practice_id=application.practice_id, application=application,
                                 alert=IMMEDIATE_ALERTS[event_type], due_at=timezone.now(),
                                 status=AlertTimer.Status.PENDING))
    return timers


def alert_timers_sync(*, application: Application, event_type: str, new: bool = False) -> bool:
    """Bring the application's timers in line with its events (the application is locked).

    A delayed timer that has fired stays fired: an event arriving after the alert went out never
    sends it again. A delayed timer whose due time has already passed (its event reported late)
    stays pending and fires on the next run. An event of an immediate alert's type makes that
    alert due now. `new`: the application was created by this event, so it has no timers yet.
    Returns True when an alert became due now: the caller asks for a run (`alerts_kick`).
    """
    if new:
        AlertTimer.objects.bulk_create(alert_timers_first(application=application, event_type=event_type))
        return event_type in IMMEDIATE_ALERTS
    timers = {t.alert: t for t in AlertTimer.objects.select_for_update().filter(application=application)}
    for alert, due_at, status in _delayed_timers(application):
        timer = timers.get(alert)
        if timer is None:
            AlertTimer.objects.create(practice_id=application.practice_id, application=application,
                                      alert=alert, due_at=due_at, status=status)
        elif timer.status != AlertTimer.Status.FIRED and (timer.due_at, timer.status) != (due_at, status):
            timer.due_at, timer.status = due_at, status
            timer.save(update_fields=["due_at", "status"])
    alert = IMMEDIATE_ALERTS.get(event_type)
    if alert is None:
        return False
    timer = timers.get(alert)
    if timer is None:
        AlertTimer.objects.create(practice_id=application.practice_id, application=application,
                                  alert=alert, due_at=timezone.now(), status=AlertTimer.Status.PENDING)
    elif timer.status != AlertTimer.Status.PENDING:
        timer.due_at, timer.status = timezone.now(), AlertTimer.Status.PENDING
        timer.save(update_fields=["due_at", "status"])
    return True


# A run asked for or running: later events need not ask again. It expires, so a run that was
# lost (a broker that dropped it, a worker killed) holds nothing up for long; the minute's run
# catches up.
KICK_KEY = "payments:alert-run-asked"
KICK_SECONDS = 10
# While a burst lasts, a pass that found less than a chunk's work waits this long before the
# next: each pass then takes the events of a fifth of a second instead of the few committed
# during the pass before, and a pass costs about a dozen statements and a delivery task
# whatever its size.
RUN_GATHER_SECONDS = 0.2


def alerts_kick() -> None:
    """After an event that made an alert due is committed: have a worker fire it now.

    While a run is asked for or running (the mark), further events ask for nothing: that run
    fires them (see alerts_due_fire). Never raises: the event is recorded either way, and the
    minute's run fires what a lost request leaves.
    """
    from .tasks import alerts_fire_due

    try:
        if not cache.add(KICK_KEY, 1, timeout=KICK_SECONDS):
            return
    except Exception as exc:  # the cache is down: ask anyway
        logger.warning("alert run mark not set (%r); asking for a run", exc)
    try:
        # One quick retry: a broker that is down must not hold the API's answer.
        alerts_fire_due.apply_async(retry=True, retry_policy={
            "max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5})
    except Exception as exc:  # kombu raises several types for a broker that is down
        logger.warning("could not ask for an alert run (%r); the next minute's run fires it", exc)
        with contextlib.suppress(Exception):  # it expires by itself
            cache.delete(KICK_KEY)


def alerts_due_fire() -> dict:
    """The run `alerts_kick` asks for: fire every due timer, pass after pass while there is work.

    The run keeps the mark while its passes find work, so events committed meanwhile ask for
    no run of their own and its next pass fires them together: one run fires a burst, each
    pass taking what was committed since the one before, a pass that found less than a chunk
    first waiting RUN_GATHER_SECONDS (runs side by side would only wait for each other's locks,
    in smaller passes). When a pass finds nothing, the run clears the
    mark and looks once more, as an event committed before the clear asked for nothing: if
    that pass finds work the run takes the mark again and goes on, unless an event committed
    since asked for a new run, which takes over. An application whose alerts fail is left to
    the minute's run.
    """
    total = {"timers_fired": 0, "timers_failed": 0}
    failed: set[int] = set()
    holding = True  # the mark that asked for this run
    while True:
        done = _timers_fire(now=timezone.now(), skip=failed)
        total["timers_fired"] += done["timers_fired"]
        total["timers_failed"] += done["timers_failed"]
        try:
            if done["timers_fired"]:
                if holding:
                    cache.set(KICK_KEY, 1, timeout=KICK_SECONDS)  # kept while the burst lasts
                elif cache.add(KICK_KEY, 1, timeout=KICK_SECONDS):
                    holding = True
                else:
                    return total  # a new run was asked for: it fires the rest
                if done["timers_fired"] < TIMER_CHUNK:
                    clock.sleep(RUN_GATHER_SECONDS)
                continue
            if not holding:
                return total
            cache.delete(KICK_KEY)
            holding = False
        except Exception as exc:
            # Without the cache, events ask for runs of their own: this one need not go on.
            logger.warning("alert run mark not kept (%r); it expires by itself", exc)
            return total


def alert_timers_fire(*, now: datetime | None = None) -> dict:
    """Fire every pending timer whose due time has passed, a chunk of applications at a time.
    Safe to run twice, and beside another run.

    A chunk that fails is fired again one application at a time, so that one application whose
    timers cannot fire (logged; they stay pending and are tried again on the next run) never
    holds up the others.
    """
    return _timers_fire(now=now or timezone.now(), skip=set())


def _timers_fire(*, now: datetime, skip: set[int]) -> dict:
    """alert_timers_fire, leaving out the applications in `skip`; adds those that fail to it."""
    fired, after = 0, 0
    failed_before = len(skip)
    while True:
        due = (AlertTimer.objects.filter(status=AlertTimer.Status.PENDING, due_at__lte=now,
                                         application_id__gt=after)
               .order_by("application_id").values_list("application_id", flat=True).distinct())
        application_ids = list((due.exclude(application_id__in=skip) if skip else due)[:TIMER_CHUNK])
        try:
            fired += _alerts_fire(application_ids=application_ids, now=now)
        except Exception:
            logger.exception("alerts of %d applications could not fire together; firing them one by one",
                             len(application_ids))
            for application_id in application_ids:
                try:
                    fired += _alerts_fire(application_ids=[application_id], now=now)
                except Exception:
                    logger.exception("alerts of application %s could not fire; tried again on the next run",
                                     application_id)
                    skip.add(application_id)
        if len(application_ids) < TIMER_CHUNK:
            break
        after = application_ids[-1]
    return {"timers_fired": fired, "timers_failed": len(skip) - failed_before}


@transaction.atomic
def _alerts_fire(*, application_ids: list[int], now: datetime) -> int:
    """Fire the due timers of these applications; returns how many fired.

    Each application is locked before its timers, as recording an event locks them, and in id
    order, so events and runs wait for each other instead of deadlocking. A run waits for an
    event being recorded rather than skipping its application: a due timer committed before the
    run looked is fired by that run.
    """
    if not application_ids:
        return 0
    applications = {a.pk: a for a in Application.objects.select_for_update(of=("self",))
                    .select_related("practice").filter(pk__in=application_ids).order_by("pk")}
    timers = list(AlertTimer.objects.select_for_update().filter(
        application_id__in=list(applications), status=AlertTimer.Status.PENDING, due_at__lte=now))
    if not timers:
        return 0
    AlertTimer.objects.filter(pk__in=[t.pk for t in timers]).update(
        status=AlertTimer.Status.FIRED, fired_at=Coalesce("fired_at", Value(now)))
    alerts_raise(raised=[(applications[t.application_id], t.alert) for t in timers], now=now)
    return len(timers)


@dataclass(frozen=True)
class TeamMember:
    membership: Membership
    modes: dict[str, str]  # alert: instant, digest or off (a missing alert: instant)


def alert_team(*, practice_ids: list[int]) -> dict[int, list[TeamMember]]:
    """The active members of these offices with their alert choices, by office (two queries)."""
    memberships = list(Membership.objects.filter(practice_id__in=practice_ids, user__is_active=True)
                       .select_related("user").order_by("pk"))
    modes = defaultdict(dict)
    for preference in AlertPreference.objects.filter(membership__in=memberships):
        modes[preference.membership_id][preference.alert] = preference.mode
    team = defaultdict(list)
    for m in memberships:
        team[m.practice_id].append(TeamMember(m, modes[m.pk]))
    return team


def alert_recipients(*, team: list[TeamMember], alert: str, at: datetime) -> list[tuple[Membership, str]]:
    """(membership, instant|digest) for each member who gets this alert, raised at `at`.

    Active users only (the team is), on the team when the alert was raised (someone added later
    gets only later alerts), with the alert on (no preference row: on, instant).
    """
    instant = AlertPreference.Delivery.INSTANT
    return [(t.membership, t.modes.get(alert, instant)) for t in team
            if t.membership.created_at <= at and t.modes.get(alert, instant) != "off"]


def alerts_raise(*, raised: list[tuple[Application, str]], now: datetime) -> int:
    """Alert the teams about these (application, alert) pairs (the caller holds the applications'
    locks). Returns how many members were newly alerted (instantly or into their digest).

    An alert is raised when it is sent: now, or when it first went out if it did before. So an
    event reported late still reaches today's team, and someone who joined after an alert went
    out never gets it.
    """
    sent_before = defaultdict(list)
    for application_id, alert, user_id, alert_at in AlertDelivery.objects.filter(
            application_id__in={a.pk for a, _ in raised}).values_list("application_id", "alert", "user_id",
                                                                      "alert_at"):
        sent_before[(application_id, alert)].append((user_id, alert_at))
    teams = alert_team(practice_ids=list({a.practice_id for a, _ in raised}))
    deliveries, emails = [], defaultdict(list)
    for application, alert in raised:
        before = sent_before[(application.pk, alert)]
        alert_at = min((at for _, at in before), default=now)
        already = {user_id for user_id, _ in before}
        fresh = [(m, mode) for m, mode in alert_recipients(team=teams[application.practice_id], alert=alert,
                                                           at=alert_at) if m.user_id not in already]
        deliveries += [(application.practice_id, application.pk, alert, m.user_id, mode, alert_at)
                       for m, mode in fresh]
        instant = [m.user for m, mode in fresh if mode == AlertDelivery.Mode.INSTANT]
        if instant:
            emails[application.practice].extend(_alert_emails(application=application, alert=alert,
                                                              users=instant))
    _deliveries_insert(deliveries)
    for practice, practice_emails in emails.items():
        alert_emails_queue(practice=practice, emails=practice_emails)
    return len(deliveries)


_DELIVERY_COLUMNS = ("practice_id", "application_id", "alert", "user_id", "mode", "alert_at")


def _deliveries_insert(rows: list[tuple]) -> None:
    """Insert AlertDelivery rows given as tuples in _DELIVERY_COLUMNS order, in one statement.
    On PostgreSQL the columns travel as six array parameters: a model instance per row and the
    ORM's preparation of each value cost a run more than the rest of its work."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        AlertDelivery.objects.bulk_create(
            [AlertDelivery(**dict(zip(_DELIVERY_COLUMNS, row, strict=True))) for row in rows])
        return
    from notifications.sql import run

    run(f"INSERT INTO {AlertDelivery._meta.db_table} ({', '.join(_DELIVERY_COLUMNS)}, created_at) "  # noqa: S608
        "SELECT u.*, %s FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[], %s::bigint[], "
        "%s::varchar[], %s::timestamptz[]) AS u",
        [timezone.now(), *(list(column) for column in zip(*rows, strict=True))])


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
    context = {
        "practice": practice, "application": application, "alert": alert,
        "alert_label": Alert(alert).label, "patient_short_name": application.patient_short_name,
        "patient_name": f"{application.patient_first_name} {application.patient_last_name}".strip(),
        "when": timezone.localtime(when, practice.tz) if when else None,
        "link": application_link(application),
    }
    # What happened, in one sentence, rendered once: an email's text and HTML bodies and a
    # digest's lines all say it (the HTML templates escape it).
    context["what"] = render_plain_text("emails/_application-alert-what.txt", context)
    return context


def _alert_emails(*, application: Application, alert: str, users: list) -> list["AlertEmail"]:
    # One rendering for every recipient: the email says nothing personal about its reader.
    context = _alert_context(application, alert)
    subject = render_plain_text("emails/application-alert-subject.txt", context).strip()
    body = render_plain_text("emails/application-alert-body.txt", context)
    html_body = render_to_string("emails/application-alert-body.html", context)
    return [AlertEmail(user=user, kind=ALERT_KIND, subject=subject, body=body, html_body=html_body,
                       idempotency_key=f"app-alert:{application.pk}:{alert}:{user.pk}",
                       reason=f"application alert: {alert}", template_name="application-alert")
            for user in users]


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
    digests = []
    for user, deliveries in by_user.items():
        if user.pk not in members:
            continue  # deactivated or left the team since: the digest is dropped with the rows below
        newest = max(d.pk for d in deliveries)
        for d in deliveries:
            d.application.practice = practice
        items = [_alert_context(d.application, d.alert) for d in deliveries]
        context = {"practice": practice, "user": user, "items": items,
                   "day": timezone.localtime(cutoff, practice.tz)}
        digests.append(AlertEmail(
            user=user, kind=DIGEST_KIND,
            subject=render_plain_text("emails/application-digest-subject.txt", context).strip(),
            body=render_plain_text("emails/application-digest-body.txt", context),
            html_body=render_to_string("emails/application-digest-body.html", context),
            # The newest delivery's id in the key: a straggler committed just after a digest went out
            # gets a digest of its own instead of being swallowed by the first one's key.
            idempotency_key=f"app-digest:{practice.pk}:{user.pk}:{cutoff.date()}:{newest}",
            reason="application alerts: daily digest", template_name="application-digest"))
    alert_emails_queue(practice=practice, emails=digests)
    AlertDelivery.objects.filter(pk__in=[d.pk for d in waiting]).update(digest_sent_at=now)
    return len(digests)


@dataclass(frozen=True)
class AlertEmail:
    user: User
    kind: str
    subject: str
    body: str
    html_body: str
    idempotency_key: str
    reason: str
    template_name: str


def alert_emails_queue(*, practice: Practice, emails: list[AlertEmail]) -> None:
    """Hand rendered alert emails to the outbox in one write (the only place alerts touch
    notifications)."""
    from notifications.services import Outgoing, notifications_schedule_many

    notifications_schedule_many(practice=practice, messages=[Outgoing(
        recipient_kind="user", recipient_id=e.user.pk, recipient_name=e.user.display_name,
        recipient_time_zone="", consent=True, channel="email", address=e.user.email, kind=e.kind,
        subject=e.subject, body=e.body, html_body=e.html_body, idempotency_key=e.idempotency_key,
        reason=e.reason, template_name=e.template_name, template_version=TEMPLATE_VERSION)
        for e in emails])


def due_timers_run() -> dict:
    """Entry in settings.DUE_WORK: fire due timers, then send the digests whose hour has come."""
    return {**alert_timers_fire(), **alert_digests_send()}
