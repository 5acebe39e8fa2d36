"""Payments -> Bulk payment request and Payments -> Undeliverable."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.views.decorators.http import require_POST

from patients.selectors import PatientFilters, patient_search
from practices.access import addon_required

from . import fixes, selectors, snoozes
from .campaigns import Selection, payment_requests_preview, payment_requests_send
from .eligibility import Terms, explain
from .forms import (
    MAX_ID,
    ListQueryForm,
    ListSearchForm,
    QuickAddForm,
    SelectionForm,
    SendForm,
    SnoozeForm,
    UndeliverableQueryForm,
    UnsnoozeForm,
)
from .lists import request_list_make, request_list_today
from .selection import is_selected, selection_apply, selection_clear, selection_get

ADDON = "online_payments"
SEARCH_LIMIT = 10


def _list_url(tab: str = "pending", after: int | None = None) -> str:
    query = {"tab": tab, **({"after": after} if after else {})}
    return f"{reverse('payment_requests')}?{urlencode(query)}"


def _local(moment) -> str:
    return dateformat.format(timezone.localtime(moment), "M j, g:i A T") if moment else ""


def _list_context(request, *, tab: str, after: int | None, counts: bool = False, **extra) -> dict:
    practice = request.practice
    terms = Terms.of(practice)
    request_list = request_list_today(practice=practice, today=terms.today)
    context = {"tab": tab, "terms": terms, "request_list": request_list,
               "snooze_form": SnoozeForm(today=terms.today),
               "search_form": ListSearchForm(), **extra}
    if request_list is not None and request_list.made_at is not None:
        selection = selection_get(request, request_list)
        page = selectors.list_page(practice=practice, request_list=request_list, terms=terms, tab=tab,
                                   after=after)
        for row in page.rows:
            row.selected = row.pending and is_selected(selection, row.guarantor.pk)
        context.update(page=page, selection=selection, **_counts_context(request_list, terms, selection,
                                                                         counts))
    return context


def _counts_context(request_list, terms, selection, counts: bool) -> dict:
    """The tab counts and the selection's size. Counting the pending guarantors asks every rule
    of every entry, so a page leaves it to a request of its own made after it loads (`counts`
    False); the page then shows the selection's size only when it is a number of ticks."""
    figures = selectors.list_counts(request_list=request_list, terms=terms) if counts else None
    if not selection.everyone:
        selected = len(selection.ids)
    else:
        selected = max(0, figures["pending"] - len(selection.excluded)) if figures else None
    return {"counts": figures, "selected_count": selected}


@addon_required(ADDON)
def request_list(request):
    form = ListQueryForm(request.GET)
    tab, after = form.values()
    context = _list_context(request, tab=tab, after=after, query_error=bool(form.errors),
                            counts=request.GET.get("counts") == "1")  # without JavaScript, on demand
    return render(request, "payments/requests/list.html", context)


@addon_required(ADDON)
def request_list_counts(request):
    """The tab counts and the size of a select-all, swapped into the page after it loads."""
    request_list = request_list_today(practice=request.practice)
    if request_list is None or request_list.made_at is None:
        return render(request, "payments/requests/list.html#counts", {"counts": None})
    terms = Terms.of(request.practice)
    selection = selection_get(request, request_list)
    return render(request, "payments/requests/list.html#counts",
                  {"selection": selection, **_counts_context(request_list, terms, selection, True)})


@addon_required(ADDON)
@require_POST
def request_list_make_now(request):
    request_list, added = request_list_make(practice=request.practice)
    messages.success(request, f"Today's list is made: {request_list.size} guarantors"
                              + (f" ({added} added now)." if added != request_list.size else "."))
    return redirect(_list_url())


def _apply_page(request) -> tuple[SelectionForm, Selection | None]:
    """Merge what the posted page showed and ticked into the session's selection."""
    form = SelectionForm(request.POST)
    request_list = request_list_today(practice=request.practice)
    if not form.is_valid() or request_list is None or request_list.made_at is None:
        return form, None
    data = form.cleaned_data
    return form, selection_apply(request, request_list, action=data["action"] or "page", shown=data["shown"],
                                 picked=data["picked"])


@addon_required(ADDON)
@require_POST
def request_select(request):
    form, selection = _apply_page(request)
    if selection is None:
        messages.error(request, "That selection is not valid any more; the page is shown again.")
        return redirect(_list_url())
    tab = form.cleaned_data["tab"] or "pending"
    if request.htmx:
        request_list = request_list_today(practice=request.practice)
        return render(request, "payments/requests/list.html#selection", {
            "selection": selection, **_counts_context(request_list, None, selection, False)})
    return redirect(_list_url(tab, form.cleaned_data["goto"]))


@addon_required(ADDON)
@require_POST
def request_send(request):
    _, selection = _apply_page(request)
    request_list = request_list_today(practice=request.practice)
    if selection is None or request_list is None:
        messages.error(request, "That selection is not valid any more; choose again.")
        return redirect(_list_url())
    confirm = SendForm(request.POST)
    if not confirm.is_valid() or not confirm.cleaned_data["confirm"]:
        plan = payment_requests_preview(practice=request.practice, request_list=request_list,
                                        selection=selection)
        return render(request, "payments/requests/confirm.html", {"plan": plan,
                                                                  "first_at": _local(plan.first_at),
                                                                   "last_at": _local(plan.last_at)})
    try:
        plan = payment_requests_send(practice=request.practice, actor=request.user, request_list=request_list,
                                     selection=selection)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_list_url())
    selection_clear(request)
    messages.success(request, _sent_message(plan))
    return redirect(_list_url())


def _sent_message(plan) -> str:
    if not plan.campaigns:
        return "No one was sent a request: no one chosen is pending any more."
    parts = [f"Payment requests started for {plan.campaigns} guarantor{'s' if plan.campaigns != 1 else ''}"]
    parts.append(f"{plan.by_channel['sms']} by text, {plan.by_channel['email']} by email")
    if plan.undeliverable:
        parts.append(f"{plan.undeliverable} with nothing to send to (on the Undeliverable list)")
    if plan.first_at:
        parts.append(f"sending from {_local(plan.first_at)} to {_local(plan.last_at)}")
    text = ": ".join(parts[:2]) + "; " + "; ".join(parts[2:]) if len(parts) > 2 else ": ".join(parts)
    if plan.left_out:
        text += f". {plan.left_out} chosen were no longer pending and were left out"
    return text + "."


@addon_required(ADDON)
def request_snooze(request):
    """The snooze form as a page (without JavaScript; the list opens it as a dialog)."""
    terms = Terms.of(request.practice)
    if request.method == "POST" and "reason" not in request.POST:  # from the list's toolbar
        _apply_page(request)
        form = SnoozeForm(initial={"scope": SnoozeForm.SELECTION}, today=terms.today)
        return render(request, "payments/requests/snooze.html", {"form": form, **_snooze_who(request, form)})
    if request.method == "GET":
        form = SnoozeForm(initial={"scope": SnoozeForm.ONE, "guarantor": request.GET.get("guarantor")},
                          today=terms.today)
        return render(request, "payments/requests/snooze.html", {"form": form, **_snooze_who(request, form)})
    form = SnoozeForm(request.POST, today=terms.today)
    if form.is_valid():
        try:
            result = snoozes.snooze_create(practice=request.practice, actor=request.user,
                                           guarantor_ids=_snooze_targets(request, form),
                                           until=form.cleaned_data["until"],
                                           reason=form.cleaned_data["reason"], note=form.cleaned_data["note"])
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                form.add_error(None, exc)
            for name, errors in getattr(exc, "error_dict", {}).items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            messages.success(request, _snoozed_message(result, form.cleaned_data["until"]))
            return redirect(_list_url())
    return render(request, "payments/requests/snooze.html", {"form": form, **_snooze_who(request, form)},
                  status=400)


def _snooze_targets(request, form) -> list[int]:
    if form.cleaned_data["scope"] == SnoozeForm.ONE:
        return [form.cleaned_data["guarantor"]]
    request_list = request_list_today(practice=request.practice)
    if request_list is None:
        return []
    selection = selection_get(request, request_list)
    from .campaigns import selection_targets

    return selection_targets(request_list=request_list, terms=Terms.of(request.practice), selection=selection)


def _snooze_who(request, form) -> dict:
    """Whom the form snoozes, named for its heading: one of the office's guarantors, or none."""
    text = str(form["guarantor"].value() or "")
    if form["scope"].value() == SnoozeForm.ONE and text.isascii() and text.isdigit() and len(text) <= 19 \
            and 0 < int(text) <= MAX_ID:
        return {"who": selectors.guarantor_name(practice=request.practice, pk=int(text))}
    return {"who": None}


def _snoozed_message(result, until) -> str:
    when = f"until {dateformat.format(until, 'M j, Y')}" if until else "until their claims are settled"
    text = f"Snoozed {result.snoozed} guarantor{'s' if result.snoozed != 1 else ''} {when}."
    if result.without_claims:
        text += f" {result.without_claims} had no outstanding claims to wait for and were not snoozed."
    return text


@addon_required(ADDON)
@require_POST
def request_unsnooze(request):
    form = UnsnoozeForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["ids"]))
    else:
        ended = snoozes.snooze_end(practice=request.practice, actor=request.user,
                                   guarantor_ids=form.cleaned_data["ids"])
        messages.success(request,
                         f"Un-snoozed {ended} guarantor{'s' if ended != 1 else ''}: back on the list now.")
    return redirect(_list_url("snoozed"))


@addon_required(ADDON)
@require_POST
def request_search(request):
    """Why someone is (not) on the list: searched by name, phone, email or PMS id. The search
    posts, so what is typed stays out of URLs."""
    form = ListSearchForm(request.POST)
    results = []
    if form.is_valid():
        terms = Terms.of(request.practice)
        request_list = request_list_today(practice=request.practice, today=terms.today)
        found = patient_search(practice=request.practice, filters=PatientFilters(q=form.cleaned_data["q"]))
        results = [explain(patient=p, terms=terms, list_id=request_list.pk if request_list else None)
                   for p in found.select_related("guarantor").order_by("last_name", "first_name",
                                                                       "id")[:SEARCH_LIMIT]]
    context = _list_context(request, tab="pending", after=None, search_form=form, results=results,
                            searched=True)
    return render(request, "payments/requests/list.html", context, status=200 if form.is_valid() else 400)


# --- undeliverable ---


@addon_required(ADDON)
def undeliverable_list(request):
    form = UndeliverableQueryForm(request.GET)
    after = form.cleaned_data["after"] if form.is_valid() else None
    rows, next_after = selectors.undeliverable(practice=request.practice, after=after)
    return render(request, "payments/requests/undeliverable.html", {
        "rows": rows, "next_after": next_after, "after": after, "query_error": bool(form.errors),
        "fixes": selectors.fixes_not_taken(practice=request.practice)})


@addon_required(ADDON)
def undeliverable_fix(request, campaign_id):
    campaign = selectors.undeliverable_get(practice=request.practice, pk=campaign_id)
    form = QuickAddForm(request.POST or None)
    if request.method == "POST" and campaign.resendable and form.is_valid():
        try:
            at = fixes.campaign_resend(practice=request.practice, campaign=campaign, actor=request.user,
                                       mobile=form.cleaned_data["mobile"])
        except ValidationError as exc:
            form.add_error(None, exc)  # a dict names its field ("mobile"); a message is the form's
        else:
            name = f"{campaign.guarantor.first_name} {campaign.guarantor.last_name}"
            when = "now" if at <= timezone.now() else f"at {_local(at)} (the hourly cap)"
            messages.success(request, f"The request to {name} goes {when}. Update the mobile number in your "
                                      "practice-management system: it stays the source of contact details.")
            return redirect("payment_requests_undeliverable")
    return render(request, "payments/requests/fix.html", {
        "campaign": campaign, "form": form, "messages_sent": selectors.campaign_messages(campaign=campaign)},
        status=400 if form.errors else 200)


@addon_required(ADDON)
@require_POST
def undeliverable_dismiss(request, campaign_id):
    campaign = selectors.undeliverable_get(practice=request.practice, pk=campaign_id)
    if fixes.campaign_dismiss(practice=request.practice, campaign=campaign, actor=request.user):
        messages.success(request, "Taken off the undeliverable list.")
    return redirect("payment_requests_undeliverable")


@addon_required(ADDON)
@require_POST
def contact_fix_forget(request, fix_id):
    fix = selectors.contact_fix_get(practice=request.practice, pk=fix_id)
    fixes.contact_fix_forget(practice=request.practice, fix=fix, actor=request.user)
    messages.success(request, "The added number is forgotten: requests use the PMS's contact details again.")
    return redirect("payment_requests_undeliverable")
