"""The payment link each balance message carries: the one place that decides what
`{{ quickpay_link }}` renders to.

- A message that will be sent: with the online-payments add-on on, a QuickPay link minted for
  it (`payments.quickpay.quickpay_links_mint`), tied to the guarantor and attributed by the
  message's idempotency key, its source ("statement", "on_demand"), channel and dunning level.
  Called once per chunk of messages, in the transaction that writes their outbox rows, so that
  100,000 links are a few bulk writes rather than a call per message. With the add-on off, the
  office's phone, so a template still tells the patient how to pay.
- A proof, a preview or a test send: `message_link_preview`, never a minted link. Those texts
  are rendered on every page view and for sample people, so a real link would be a payable link
  attributed to no message (or to a message that was never sent) and a row written per view; the
  preview link has the length of a real one (the segment count is the one the patient gets),
  says what it is, and opens nothing.
"""

from payments.quickpay import (
    DrawnLinks,
    LinkRequest,
    payment_settings_for,
    preview_link_url,
    quickpay_links_draw,
    quickpay_links_mint,
)
from practices.templatetags.portal import phone

__all__ = ["LinkRequest", "message_link_preview", "message_link_settings", "message_links",
           "message_links_drawn"]


def _office_phone(practice) -> str:
    return phone(practice.phone) or practice.name


def message_links(*, practice, items: list[LinkRequest]) -> list[str]:
    """The link for each request, in order (see the module docstring)."""
    if not items:
        return []
    if not practice.addon_online_payments:
        return [_office_phone(practice)] * len(items)
    return quickpay_links_mint(practice=practice, items=items)


def message_link_settings(practice):
    """What `message_links_drawn` would read for each call, read once (None without the
    online-payments add-on): given it, the links are drawn without a query."""
    return payment_settings_for(practice) if practice.addon_online_payments else None


def message_links_drawn(*, practice, items: list[LinkRequest],
                        settings=None) -> tuple[list[str], DrawnLinks | None]:
    """The link for each request, in order, with what stores them (None: nothing to store). The
    caller stores them (`DrawnLinks.store_all`) before the messages that carry them commit.
    Given the practice's payment `settings`, it reads nothing (see quickpay_links_draw)."""
    if not items or not practice.addon_online_payments:
        return message_links(practice=practice, items=items), None
    drawn = quickpay_links_draw(practice=practice, items=items, settings=settings)
    return drawn.urls, drawn


def message_link_preview(practice) -> str:
    """What `{{ quickpay_link }}` shows in a proof, a preview or a test send."""
    return preview_link_url() if practice.addon_online_payments else _office_phone(practice)
