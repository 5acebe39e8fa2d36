"""The QuickPay part of a guarantor's account page (settings.ACCOUNT_PANELS): payments, links,
and a front-desk QR code."""

import segno
from django.template.loader import render_to_string
from django.utils import timezone

from . import selectors

# A front-desk link waits here, between its creation and the one page view that shows it: only
# its digest is stored, so it cannot be shown again.
NEW_LINK_SESSION_KEY = "quickpay_new_link"


def account_panel(request, guarantor) -> str:
    practice = request.practice
    new_link = None
    waiting = request.session.get(NEW_LINK_SESSION_KEY)
    if waiting and waiting.get("guarantor") == guarantor.pk:
        del request.session[NEW_LINK_SESSION_KEY]
        new_link = {"url": waiting["url"],
                    "qr": segno.make(waiting["url"], error="m").svg_data_uri(scale=5, border=2)}
    return render_to_string("payments/_guarantor_panel.html", {
        "guarantor": guarantor, "practice": practice, "new_link": new_link, "now": timezone.now(),
        "payments": selectors.guarantor_payments(practice=practice, guarantor_id=guarantor.pk),
        "links": selectors.guarantor_quickpay_links(practice=practice, guarantor_id=guarantor.pk),
    }, request=request)
