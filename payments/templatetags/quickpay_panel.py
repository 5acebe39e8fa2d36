"""The QuickPay panel of a guarantor's account page: payments, links, and a front-desk QR code.

A template tag, so the patients app's page includes it without importing this app.
"""

import segno
from django import template
from django.utils import timezone

from .. import selectors

register = template.Library()

# A front-desk link waits here, between its creation and the one page view that shows it: only
# its digest is stored, so it cannot be shown again.
NEW_LINK_SESSION_KEY = "quickpay_new_link"


@register.inclusion_tag("payments/_guarantor_panel.html", takes_context=True)
def guarantor_quickpay_panel(context, guarantor):
    request = context["request"]
    practice = request.practice
    new_link = None
    waiting = request.session.get(NEW_LINK_SESSION_KEY)
    if waiting and waiting.get("guarantor") == guarantor.pk:
        del request.session[NEW_LINK_SESSION_KEY]
        new_link = {"url": waiting["url"],
                    "qr": segno.make(waiting["url"], error="m").svg_data_uri(scale=5, border=2)}
    return {
        "guarantor": guarantor, "practice": practice, "new_link": new_link, "now": timezone.now(),
        "payments": selectors.guarantor_payments(practice=practice, guarantor_id=guarantor.pk),
        "links": selectors.guarantor_quickpay_links(practice=practice, guarantor_id=guarantor.pk),
        "csrf_token": context.get("csrf_token"),
    }
