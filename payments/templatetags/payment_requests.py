"""The payment-request explainer on a patient's page: whether they are on today's list and, if
not, which rules keep them off, in words. A template tag, so the patients app's page includes
it without importing this app."""

from django import template

from ..bulk_requests.eligibility import Terms, explain
from ..bulk_requests.lists import request_list_today

register = template.Library()


@register.inclusion_tag("payments/requests/_explainer_panel.html", takes_context=True)
def payment_request_explainer(context, patient):
    practice = context["request"].practice
    if not practice.addon_online_payments:
        return {"explanation": None}
    terms = Terms.of(practice)
    request_list = request_list_today(practice=practice, today=terms.today)
    made = request_list if request_list and request_list.made_at else None
    return {"explanation": explain(patient=patient, terms=terms, list_id=made.pk if made else None)}
