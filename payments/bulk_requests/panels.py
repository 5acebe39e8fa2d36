"""The payment-request part of a patient's page (settings.PATIENT_PANELS): whether they are on
today's list and, if not, which rules keep them off, in words."""

from django.template.loader import render_to_string

from .eligibility import Terms, explain
from .lists import request_list_today


def explainer_panel(request, patient) -> str:
    practice = request.practice
    if not practice.addon_online_payments:
        return ""
    terms = Terms.of(practice)
    request_list = request_list_today(practice=practice, today=terms.today)
    made = request_list if request_list and request_list.made_at else None
    explanation = explain(patient=patient, terms=terms, list_id=made.pk if made else None)
    return render_to_string("payments/requests/_explainer_panel.html", {"explanation": explanation},
                            request=request)
