"""The statements part of a guarantor's account page (settings.ACCOUNT_PANELS): their statements
with the messages each caused, and the coming messages of the current one."""

from django.template.loader import render_to_string

from . import selectors
from .preview import account_preview


def account_panel(request, guarantor) -> str:
    statements = selectors.guarantor_statements(practice=request.practice, guarantor_id=guarantor.pk)
    messages = selectors.statement_messages(statements=statements)
    coming = None
    if request.practice.addon_balance_notifications and statements:
        coming = account_preview(practice=request.practice, guarantor=guarantor)
    return render_to_string("statements/_account_panel.html", {
        "entries": [(s, messages[s.pk]) for s in statements], "preview": coming}, request=request)
