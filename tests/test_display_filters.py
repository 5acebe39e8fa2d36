"""How money and phone numbers read on the portal's screens."""

from decimal import Decimal

import pytest

from practices.templatetags.portal import money, phone


@pytest.mark.parametrize(("value", "shown"), [
    (Decimal("1234.5"), "$1,234.50"), ("0", "$0.00"), (Decimal("-12"), "-$12.00"),
    (Decimal("1000000.005"), "$1,000,000.01"), (None, ""), ("", ""), ("n/a", "n/a"),
])
def test_money(value, shown):
    assert money(value) == shown


@pytest.mark.parametrize(("value", "shown"), [
    ("+13125550142", "(312) 555-0142"), ("+447700900123", "+44 7700 900123"), ("", ""),
    (None, ""), ("not a number", "not a number"),
])
def test_phone(value, shown):
    assert phone(value) == shown
