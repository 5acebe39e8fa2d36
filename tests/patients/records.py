"""Patient records as the PMS sends them, for the tests of this package."""


def family(prefix="F1", *, balance_total="250.00"):
    """A guarantor and two children, the children first (their guarantor comes later)."""
    return [
        {"external_id": f"{prefix}-kid1", "first_name": "Mia", "last_name": "Reyes",
         "date_of_birth": "2015-04-02", "guarantor_external_id": f"{prefix}-g",
         "consents": {"email": True, "sms": False, "voice": False, "paperless": False},
         "last_visit_on": "2026-01-10"},
        {"external_id": f"{prefix}-kid2", "first_name": "Leo", "last_name": "Reyes",
         "guarantor_external_id": f"{prefix}-g",
         "consents": {"email": False, "sms": False, "voice": False, "paperless": False}},
        {"external_id": f"{prefix}-g", "first_name": "Ana", "last_name": "Reyes",
         "date_of_birth": "1984-09-30", "email": "Ana.Reyes@Example.test",
         "mobile_phone": "(312) 555-0142", "home_phone": "+1 773 555 0187",
         "time_zone": "America/Chicago",
         "consents": {"email": True, "sms": True, "voice": True, "paperless": True},
         "do_not_recall": False, "last_visit_on": "2026-02-01",
         "balance": {"total": balance_total, "amount_due": "100.00",
                     "aging": {"current": "50.00", "d31_60": "50.00", "d61_90": "100.00",
                               "d91_120": "0.00", "over_120": "50.00"},
                     "in_collections": False, "on_payment_plan": True, "outstanding_claims": 2,
                     "as_of": "2026-02-02T08:00:00Z"}},
    ]
