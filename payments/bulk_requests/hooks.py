"""What bulk payment requests do when something changes elsewhere: registered in settings
(BALANCE_CHANGED_HOOKS, DUE_WORK) rather than imported by the apps that call them."""

from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from notifications.models import Notification, ReasonCode
from patients.models import Balance

from ..models import OPEN_STATES, CampaignState, PaymentRequestCampaign, PaymentSettings, Snooze
from .campaigns import CHUNK, KIND, campaigns_end, campaigns_watch
from .lists import request_list_entries_add, request_lists_make_due, request_lists_plan, request_lists_tidy
from .snoozes import snoozes_claims_settled


def balances_changed(practice_id: int, guarantor_ids: list[int], source: str) -> None:
    """A PMS import wrote these guarantors' balances (inside its transaction):

    - claim-tied snoozes end for those whose claims are all settled now (and they join today's
      list when they are eligible);
    - open campaigns of those who now owe less than the practice's minimum end `paid`, their
      reminders unsent.

    A payment through QuickPay ends its guarantor's campaign in settlement itself; a refund
    changes nothing here.
    """
    if source != "pms_import" or not guarantor_ids:
        return
    # Most imports touch no one with a campaign or a claim-tied snooze: two indexed probes say so.
    campaigns = PaymentRequestCampaign.objects.filter(practice_id=practice_id, state__in=OPEN_STATES).exists()
    if not campaigns and not Snooze.objects.filter(practice_id=practice_id, until__isnull=True,
                                                   ended_at__isnull=True).exists():
        return
    settled = snoozes_claims_settled(practice_id=practice_id, guarantor_ids=list(guarantor_ids))
    minimum = Decimal(PaymentSettings.objects.filter(practice_id=practice_id).values_list(
        "request_minimum", flat=True).first() or PaymentSettings._meta.get_field("request_minimum").default)
    for start in range(0, len(guarantor_ids) if campaigns else 0, CHUNK):
        below = Balance.objects.filter(guarantor_id__in=guarantor_ids[start:start + CHUNK], total__lt=minimum)
        campaigns_end(practice_id=practice_id,
                      campaign_filter=Q(guarantor_id__in=below.values("guarantor_id")),
                      state=CampaignState.PAID, reason_code=ReasonCode.BALANCE_PAID,
                      detail="the PMS reports the balance below the minimum")
    if settled:
        request_list_entries_add(practice_id=practice_id, guarantor_ids=settled)


def payment_requests_still_wanted(rows) -> dict[int, tuple[str, str]]:
    """Asked by the outbox just before a send (settings.NOTIFICATIONS_STILL_WANTED): a payment
    request's message goes only while its campaign is active and on the same attempt. One ended
    since it was queued (paid, finished, undeliverable, resent to another number) answers why."""
    ids = [n.pk for n in rows if n.kind == KIND]
    if not ids:
        return {}
    wanted = {}
    for pk, key in Notification.objects.filter(pk__in=ids).values_list("pk", "idempotency_key"):
        parts = key.split(":")
        if len(parts) == 4 and parts[0] == "payreq" and parts[1].isdigit() and parts[2].isdigit():
            wanted[pk] = (int(parts[1]), int(parts[2]))
    campaigns = {c: (state, attempt) for c, state, attempt in PaymentRequestCampaign.objects.filter(
        pk__in={c for c, _ in wanted.values()}).values_list("pk", "state", "attempt")}
    answers = {}
    for pk, (campaign_id, attempt) in wanted.items():
        state, current = campaigns.get(campaign_id, (None, None))
        if state == CampaignState.PAID:
            answers[pk] = (ReasonCode.BALANCE_PAID, "the guarantor paid: the payment request ended")
        elif state is not None and (state != CampaignState.ACTIVE or current != attempt):
            answers[pk] = (ReasonCode.SUPERSEDED, "the payment request campaign ended or was sent again")
    return answers


def bulk_requests_due() -> dict:
    """The due work of bulk requests (settings.DUE_WORK): plan and make the day's lists whose
    hour has come, watch active campaigns' requests, tidy old lists."""
    now = timezone.now()
    planned = request_lists_plan(now)
    made = request_lists_make_due(now)
    watched = campaigns_watch(now)
    request_lists_tidy(now)
    return {"lists_planned": planned, "lists_made": made, **watched}
