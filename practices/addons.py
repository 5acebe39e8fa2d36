"""The premium add-ons a practice switches on: the one list that the Practice model's switches,
the office form, the outbox's `addon=` argument, `create_practice --addons` and
`access.addon_required` are all made from. A new add-on is one line here (and a migration)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Addon:
    name: str  # as code and commands name it: notification_schedule(addon="voice")
    label: str  # as staff read it
    description: str

    @property
    def field(self) -> str:
        """The Practice switch: `practice.addon_voice`."""
        return f"addon_{self.name}"


ADDONS = (
    Addon("balance_notifications", "Balance notifications",
          "Statement reminders to guarantors by email and text, on the office's cadence."),
    Addon("voice", "Voice messages", "Calls to guarantors as a step of balance notifications."),
    Addon("on_demand", "On-demand notifications",
          "Staff send a balance message to a guarantor from their account page."),
    Addon("online_payments", "Online payments (QuickPay)",
          "Messages carry a link where the patient pays online."),
)
ADDON_NAMES = tuple(addon.name for addon in ADDONS)
_BY_NAME = {addon.name: addon for addon in ADDONS}


def addon_get(name: str) -> Addon:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown add-on {name!r}; add-ons are {', '.join(ADDON_NAMES)}") from None


def addon_enabled(practice, name: str) -> bool:
    return bool(getattr(practice, addon_get(name).field))


def addons_parse(text: str) -> list[str]:
    """`"voice, online_payments"` -> ["voice", "online_payments"]; unknown names are refused,
    all of them named at once."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in _BY_NAME]
    if unknown:
        raise ValueError(f"Unknown add-on{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
                         f"Add-ons are {', '.join(ADDON_NAMES)}.")
    return list(dict.fromkeys(names))
