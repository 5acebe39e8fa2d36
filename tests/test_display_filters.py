"""How money and phone numbers read on the portal's screens."""

from decimal import Decimal

import pytest

from practices.templatetags.portal import money, phone


@pytest.mark.parametrize(("value", "shown"), [
    (Decimal("1234.5"), "$1,234.50"), ("0", "$0.00"), (Decimal("-12"), "-$12.00"),
    (Decimal("1000000.005"), "$1,000,000.01"), (None, ""), ("", ""), ("n/a", "n/a"),
    # A credit that rounds to nothing is no credit; what is not an amount is shown as it is.
    (Decimal("-0.004"), "$0.00"), (Decimal("-0.00"), "$0.00"), ("3.005", "$3.01"), (2.675, "$2.67"),
    (Decimal("NaN"), "NaN"), (Decimal("1E+30"), "1E+30"), (0, "$0.00"),
])
def test_money(value, shown):
    assert money(value) == shown


@pytest.mark.parametrize(("value", "shown"), [
    ("+13125550142", "(312) 555-0142"), ("+447700900123", "+44 7700 900123"), ("", ""),
    (None, ""), ("not a number", "not a number"),
])
def test_phone(value, shown):
    assert phone(value) == shown
