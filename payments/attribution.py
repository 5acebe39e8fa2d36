"""Which message a payment came from, exactly: every QuickPay link carries the idempotency key of
the outbox row that carried it (`QuickPayLink.notification_key`), so a payment through the link
belongs to that message, its source, channel and dunning level, with nothing inferred.

The time to pay counts from the first message of the series the paid message belongs to (a
statement's cadence, a payment request and its follow-ups): the apps that send series answer
for their keys through `settings.PAYMENT_FIRST_MESSAGE_HOOKS`; any other message (an on-demand
send) is its own series and counts from its own send.
"""

from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from notifications.models import Notification

from .models import LinkSource, Payment, QuickPayLink
from .rollups import link_day_add

# A payment request's messages are keyed payreq:<campaign>:<attempt>:<step>: step 0 is the
# request, the others its follow-ups.
REQUEST_KEY_SUFFIX = ":0"


def link_attribution(link: QuickPayLink) -> dict:
    """What a payment through this link is attributed to: Payment's fields of the same names."""
    follow_up = (link.source == LinkSource.PAYMENT_REQUEST
                 and not link.notification_key.endswith(REQUEST_KEY_SUFFIX))
    return {"source": link.source, "channel": link.channel, "dunning_level": link.dunning_level,
            "follow_up": follow_up}


def series_first_sent(*, practice_id: int, series: dict[str, list[str]]) -> dict[str, datetime]:
    """{key: the earliest send among the messages keyed series[key]}, for the hooks: one query
    for every series, by the outbox's unique keys."""
    every = {k for keys in series.values() for k in keys}
    sent = dict(Notification.objects.filter(practice_id=practice_id, sent_at__isnull=False,
                                            idempotency_key__in=every)
                .values_list("idempotency_key", "sent_at")) if every else {}
    found = {}
    for key, keys in series.items():
        times = [sent[k] for k in keys if k in sent]
        if times:
            found[key] = min(times)
    return found


def first_messages_at(*, practice_id: int, keys: list[str]) -> dict[str, datetime]:
    """{key: when the first message of its series was sent} for the keys whose series has a
    sent message; keys of no message (a front-desk QR code) are left out."""
    found: dict[str, datetime] = {}
    for path in settings.PAYMENT_FIRST_MESSAGE_HOOKS:
        wanted = [key for key in keys if key not in found]
        if not wanted:
            break
        found.update({key: at for key, at in import_string(path)(practice_id, wanted).items() if at})
    rest = [key for key in keys if key not in found]
    if rest:
        found.update(Notification.objects.filter(practice_id=practice_id, idempotency_key__in=rest,
                                                 sent_at__isnull=False)
                     .values_list("idempotency_key", "sent_at"))
    return found


def payment_attribute(payment: Payment) -> None:
    """As a payment succeeds (in its transaction): the link is marked paid once (and counted in
    its day), and the payment keeps when its series' first message went out. Sets
    payment.first_message_at; the caller saves it."""
    if payment.link_id is None:
        return
    link = QuickPayLink.objects.filter(pk=payment.link_id).only(
        "practice_id", "notification_key", "source", "channel", "created_at").first()
    if link is None:
        return
    if QuickPayLink.objects.filter(pk=link.pk, paid_at__isnull=True).update(
            paid_at=payment.succeeded_at or timezone.now()):
        link_day_add(link=link, time_zone=payment.practice.time_zone, paid=1)
    key = link.notification_key
    payment.first_message_at = first_messages_at(practice_id=payment.practice_id, keys=[key]).get(key)
