"""The statements parts of the patient pages.

- `account_panel` (settings.ACCOUNT_PANELS), on a guarantor's account: *Send balance
  notification* (or why one cannot be sent), the on-demand messages, their statements with the
  messages each caused, and the coming messages of the current one.
- `on_demand_action` (settings.PATIENT_BALANCE_ACTIONS), in the balance panel of a patient's
  dashboard: *Send balance notification*, or why one cannot be sent. Nothing when the on-demand
  add-on is off.
"""

from django.template.loader import render_to_string

from practices.addons import addon_enabled

from . import selectors
from .on_demand import on_demand_availability
from .preview import account_preview


def on_demand_action(request, patient) -> str:
    if not addon_enabled(request.practice, "on_demand"):
        return ""
    availability = on_demand_availability(practice=request.practice, patient=patient)
    return render_to_string("statements/_on_demand_action.html", {
        "patient": patient, "refusal": availability.refusal}, request=request)


def account_panel(request, guarantor) -> str:
    practice = request.practice
    statements = selectors.guarantor_statements(practice=practice, guarantor_id=guarantor.pk)
    messages = selectors.statement_messages(statements=statements)
    coming = None
    if practice.addon_balance_notifications and statements:
        coming = account_preview(practice=practice, guarantor=guarantor)
    return render_to_string("statements/_account_panel.html", {
        "entries": [(s, messages[s.pk]) for s in statements], "preview": coming,
        "action": on_demand_action(request, guarantor),
        "on_demand": selectors.guarantor_on_demand(practice=practice, guarantor_id=guarantor.pk),
    }, request=request)
