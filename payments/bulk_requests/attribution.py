"""settings.PAYMENT_FIRST_MESSAGE_HOOKS: a campaign's messages (the request, its reminders, and
those of each later attempt to a fixed number) are one series, so a payment through the link of
any of them counts its time to pay from the first of them that was sent."""

from datetime import datetime

from ..attribution import series_first_sent
from ..models import PaymentRequestCampaign

# A campaign's messages are keyed payreq:<campaign>:<attempt>:<step> (models.PaymentRequestCampaign
# .message_key); step 0 is the request, then at most this many reminders.
MAX_STEP = 2


def campaign_id_of(key: str) -> int | None:
    parts = key.split(":")
    if len(parts) == 4 and parts[0] == "payreq" and all(part.isdigit() for part in parts[1:]):
        return int(parts[1])
    return None


def campaign_first_messages(practice_id: int, keys: list[str]) -> dict[str, datetime]:
    wanted = {key: campaign_id_of(key) for key in keys}
    wanted = {key: campaign for key, campaign in wanted.items() if campaign is not None}
    campaigns = PaymentRequestCampaign.objects.filter(practice_id=practice_id, pk__in=set(wanted.values()))
    keys_of = {c.pk: [c.message_key(step, attempt) for attempt in range(1, c.attempt + 1)
                      for step in range(MAX_STEP + 1)]
               for c in campaigns.only("id", "attempt")} if wanted else {}
    return series_first_sent(practice_id=practice_id,
                             series={key: keys_of.get(campaign, []) for key, campaign in wanted.items()})
