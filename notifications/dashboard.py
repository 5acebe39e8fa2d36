"""The dashboard's outbox items: messages in error to manage, and (admins) add-ons that send texts
or calls with no sender to send them from. See practices/dashboard.py."""

from datetime import datetime

from django.conf import settings
from django.urls import reverse

from practices.addons import addon_get
from practices.dashboard import WorkItem

from .selectors import Filters, messaging_settings_get, notification_list

# Counted up to this many, then "200+": the rows Manage errors lists, read newest first by
# an index and stopped there, so a backlog of any size costs the same.
ERRORS_CAP = 200
# Add-ons whose messages include texts (and calls, for voice).
TEXTING_ADDONS = ("balance_notifications", "on_demand")


def errors_to_manage(*, practice, cap: int = ERRORS_CAP) -> int:
    """How many messages Manage errors lists for the office (its own rule: errors not archived
    and not followed by a later send to the same person on the same channel), up to `cap` + 1."""
    rows = notification_list(practice=practice, view="errors", filters=Filters())
    # Newest first, as the screen lists them: read along the errors' own index (notif_errors_idx)
    # until the cap, never through the history.
    return rows.order_by("-created_at", "-pk").values("pk")[:cap + 1].count()


def senders_missing(*, practice) -> list[str]:
    """The office's add-ons that cannot send for want of a Twilio sender: texts need a messaging
    service or a from-number, calls a from-number (either the office's or the default one)."""
    messaging = messaging_settings_get(practice=practice)
    default = bool(settings.TWILIO_DEFAULT_FROM)
    texts = default or bool(messaging.twilio_messaging_service_sid or messaging.twilio_from_number)
    calls = default or bool(messaging.twilio_from_number)
    missing = [name for name in TEXTING_ADDONS if getattr(practice, f"addon_{name}") and not texts]
    if practice.addon_voice and not calls:
        missing.append("voice")
    return missing


def worklist(*, practice, membership, now: datetime) -> list[WorkItem]:
    errors = errors_to_manage(practice=practice)
    items = [WorkItem("todo", 30, "errors", "Messages in error to manage", reverse("notification_errors"),
                      count=min(errors, ERRORS_CAP), capped=errors > ERRORS_CAP)]
    if membership.is_admin:
        missing = senders_missing(practice=practice)
        if missing:
            names = ", ".join(addon_get(name).label for name in missing)
            items.append(WorkItem("setup", 20, "setup-sender", "Add-ons on with no sender for texts or calls",
                                  reverse("messaging_settings"), count=len(missing),
                                  note=f"{names}: set a Twilio messaging service or from-number."))
    return items
