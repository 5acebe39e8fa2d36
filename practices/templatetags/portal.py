"""Display filters for the portal's screens: money and phone numbers as office staff read them."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import phonenumbers
from django import template

register = template.Library()

_CENT = Decimal("0.01")
HOME_REGION = "US"  # numbers from this region are shown in national form, others in international


@register.filter
def money(value) -> str:
    """`1234.5` -> `$1,234.50`; a credit shows as `-$12.00`; empty stays empty."""
    if value is None or value == "":
        return ""
    try:  # (a batch's messages format 200,000 amounts: a Decimal is taken as it is)
        amount = value if value.__class__ is Decimal else Decimal(value)
        amount = amount.quantize(_CENT, rounding=ROUND_HALF_UP)
        negative = amount < 0
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    return f"-${-amount:,.2f}" if negative else f"${abs(amount):,.2f}"


@register.filter
def phone(value) -> str:
    """An E.164 number as staff dial it: `+13125550142` -> `(312) 555-0142`."""
    if not value:
        return ""
    try:
        parsed = phonenumbers.parse(value, HOME_REGION)
    except phonenumbers.NumberParseException:
        return value
    region = phonenumbers.region_code_for_number(parsed)
    style = (phonenumbers.PhoneNumberFormat.NATIONAL if region == HOME_REGION
             else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(parsed, style)


@register.simple_tag
def addon_states(practice) -> list[tuple]:
    """Each add-on of the registry with whether the office has it on: [(Addon, bool), ...]."""
    from practices.addons import ADDONS

    return [(addon, bool(getattr(practice, addon.field, False))) for addon in ADDONS]
