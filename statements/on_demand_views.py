"""Send balance notification: the form on a patient's dashboard and a guarantor's account."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse

from patients.selectors import patient_get
from practices.access import addon_required

from .forms import OnDemandForm
from .on_demand import on_demand_availability, on_demand_check, on_demand_send


@addon_required("on_demand")
def on_demand_form(request, patient_id):
    """GET: the form. POST with action=send: send it; any other POST (htmx as the form changes, or
    *Update preview* without JavaScript): the form again, with the preview and the forecast."""
    patient = patient_get(practice=request.practice, pk=patient_id)
    availability = on_demand_availability(practice=request.practice, patient=patient)
    if availability.refusal:
        status = 200 if request.method == "GET" else 409
        context = {"patient": patient, "refusal": availability.refusal}
        return render(request, "statements/on_demand.html", context, status=status)
    sending = request.method == "POST" and request.POST.get("action") == "send"
    form = OnDemandForm(request.POST if request.method == "POST" else None, practice=request.practice,
                        patient=patient, guarantors=availability.guarantors, sending=sending,
                        hx_url=request.path)
    if sending and form.is_valid():
        sent = _send(request, form, patient)
        if sent is not None:
            return redirect(reverse("guarantor_detail", args=[sent.message.guarantor_id]) + "#statements-h")
    check = on_demand_check(practice=request.practice, contact=form.contact, guarantor=form.guarantor_obj,
                            address=form.value("address"), subject=form.value("subject"),
                            body=form.value("body"))
    template = "statements/on_demand.html#form-body" if request.htmx else "statements/on_demand.html"
    return render(request, template, {"patient": patient, "form": form, "check": check},
                  status=400 if sending else 200)


def _send(request, form, patient):
    data = form.cleaned_data
    try:
        sent = on_demand_send(practice=request.practice, actor=request.user, patient=patient,
                              guarantor_id=int(data["guarantor"]), send_to=data["send_to"],
                              address=data["address"], template=form.template_obj, subject=data["subject"],
                              body=data["body"], send_key=data["send_key"])
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return None
    if not sent.created:
        messages.info(request, "That message was sent already; it is in the history below.")
    else:
        noun = "Text" if sent.message.channel == "sms" else "Email"
        name = sent.notification.recipient_name
        messages.success(request, f"{noun} to {name} queued. {sent.forecast.text}")
    return sent
