"""Recovery analytics (Payments -> Analytics): what outreach collected through QuickPay, by source
and channel; the funnel from message to payment; the time to pay; delivery health over time.

`periods` (the range and its offices), `figures` (the selectors), `tables` (what the page, its
charts and the CSV exports show), `forms` and `views`.
"""
