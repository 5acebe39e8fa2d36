"""The payment link each balance message carries: the one place that decides what
`{{ quickpay_link }}` renders to.

Called once per chunk of messages with every message that needs a link, so that minting
100,000 links is a few bulk writes rather than a call per message. With the online-payments
add-on on, a message links to the guarantor's account; QuickPay links minted per message
(`payments.quickpay.quickpay_links_mint(practice=..., items=[LinkRequest(...)])`, attributed by
the message's idempotency key) take the place of that address here. With the add-on off the
field renders the office's phone, so a template still tells the patient how to pay.
"""

from dataclasses import dataclass

from django.conf import settings

from practices.templatetags.portal import phone


@dataclass(frozen=True, slots=True)
class LinkRequest:
    guarantor_id: int
    notification_key: str  # the idempotency key of the outbox row that carries the link
    source: str  # "statement", "on_demand", "payment_request", "manual"
    channel: str
    dunning_level: int | None = None


def message_links(*, practice, items: list[LinkRequest]) -> list[str]:
    """The link for each request, in order."""
    if not practice.addon_online_payments:
        office = phone(practice.phone) or practice.name
        return [office] * len(items)
    base = settings.PUBLIC_BASE_URL
    return [f"{base}/patients/guarantors/{item.guarantor_id}/" for item in items]
