"""Snoozes: guarantors set aside from the list until a date, or until the PMS reports their
outstanding insurance claims settled. Set-based: one UPDATE ends the snoozes standing, one
INSERT per chunk writes the new ones."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from patients.models import IS_GUARANTOR, Balance, Patient
from practices.services import audit_record

from ..models import Snooze, SnoozeEnd, SnoozeReason

LONGEST = timedelta(days=366)  # a snooze ends within a year: the list is the place to look again
CHUNK = 5000


@dataclass(frozen=True)
class SnoozeResult:
    snoozed: int
    without_claims: int = 0  # asked to wait for claims, but none is outstanding


def snooze_until_check(until: date, today: date) -> None:
    if until <= today:
        raise ValidationError({"until": "Choose a re-enroll date after today."})
    if until > today + LONGEST:
        raise ValidationError({"until": "Choose a re-enroll date within a year."})


def snooze_create(*, practice, actor, guarantor_ids, until: date | None, reason: str,
                  note: str = "") -> SnoozeResult:
    """Snooze these guarantors (replacing any snooze they have): until `until`, or, when it is
    None, until the PMS reports their claims settled (only those with claims outstanding)."""
    today = timezone.localdate(timezone=practice.tz)
    if reason not in SnoozeReason.values:
        raise ValidationError({"reason": "Choose a reason from the list."})
    note = (note or "").strip()
    if reason == SnoozeReason.OTHER and not note:
        raise ValidationError({"note": "Say why, for “Other”."})
    if until is not None:
        snooze_until_check(until, today)
    ids = list(Patient.objects.filter(IS_GUARANTOR, practice=practice, pk__in=list(guarantor_ids))
               .values_list("pk", flat=True))
    without_claims = 0
    if until is None:
        waiting = set(Balance.objects.filter(guarantor_id__in=ids, outstanding_claims__gt=0)
                      .values_list("guarantor_id", flat=True))
        without_claims = len(ids) - len(waiting)
        ids = [pk for pk in ids if pk in waiting]
    now = timezone.now()
    try:
        with transaction.atomic():
            for start in range(0, len(ids), CHUNK):
                part = ids[start:start + CHUNK]
                Snooze.objects.filter(guarantor_id__in=part, ended_at__isnull=True).update(
                    ended_at=now, ended_reason=SnoozeEnd.REPLACED, ended_by=actor)
                Snooze.objects.bulk_create(
                    [Snooze(practice=practice, guarantor_id=pk, until=until, reason=reason, note=note,
                            created_by=actor) for pk in part], batch_size=1000)
            if ids:
                audit_record(practice=practice, actor=actor, action="payment_requests.snoozed",
                             target=f"{len(ids)} guarantors", until=str(until or "claims settled"),
                             reason=reason)
    except IntegrityError:  # one standing snooze a guarantor: someone snoozed one of them just now
        raise ValidationError("Someone else snoozed one of these guarantors just now: look again and "
                              "snooze them again if you still want to.") from None
    return SnoozeResult(snoozed=len(ids), without_claims=without_claims)


@transaction.atomic
def snooze_end(*, practice, actor, guarantor_ids) -> int:
    """Un-snooze: these guarantors are back on the list now (when they are eligible)."""
    ended = Snooze.objects.filter(practice=practice, guarantor_id__in=list(guarantor_ids),
                                  ended_at__isnull=True).update(
        ended_at=timezone.now(), ended_reason=SnoozeEnd.UNSNOOZED, ended_by=actor)
    if ended:
        audit_record(practice=practice, actor=actor, action="payment_requests.unsnoozed",
                     target=f"{ended} guarantors")
    return ended


def snoozes_claims_settled(*, practice_id: int, guarantor_ids: list[int]) -> list[int]:
    """End the claim-tied snoozes of those guarantors whose claims are all settled now; returns
    their ids. Set-based: one UPDATE per chunk."""
    ended: list[int] = []
    now = timezone.now()
    for start in range(0, len(guarantor_ids), CHUNK):
        part = guarantor_ids[start:start + CHUNK]
        settled = Balance.objects.filter(guarantor_id__in=part, outstanding_claims=0).values("guarantor_id")
        qs = Snooze.objects.filter(practice_id=practice_id, guarantor_id__in=settled, until__isnull=True,
                                   ended_at__isnull=True)
        ids = list(qs.values_list("guarantor_id", flat=True))
        if ids:
            Snooze.objects.filter(practice_id=practice_id, guarantor_id__in=ids, until__isnull=True,
                                  ended_at__isnull=True).update(ended_at=now,
                                                                ended_reason=SnoozeEnd.CLAIMS_SETTLED)
            ended += ids
    return ended
