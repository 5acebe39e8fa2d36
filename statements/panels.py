"""The statements part of a guarantor's account page (settings.ACCOUNT_PANELS)."""

from django.template.loader import render_to_string

from . import selectors


def account_panel(request, guarantor) -> str:
    statements = selectors.guarantor_statements(practice=request.practice, guarantor_id=guarantor.pk)
    return render_to_string("statements/_account_panel.html", {
        "guarantor": guarantor, "statements": statements,
        "messages_by_statement": selectors.statement_messages(statements=statements),
    }, request=request)
