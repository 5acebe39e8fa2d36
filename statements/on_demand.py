"""On-demand balance notifications: a balance message staff send while the patient is on the
phone (so the office never takes a card number by voice), from the patient's dashboard or the
guarantor's account.

The send criteria:

1. Guarantor: the patient's guarantor (themselves, for a guarantor), once they have had a
   batched statement. Without one nothing can be sent, and the screens say why where the button
   would be.
2. Send to: the patient and the guarantor, each with the mobile number and email address on
   file; someone with neither is not listed. The address may be corrected for this one send
   (an email, or a phone number made E.164 by phonenumbers); the patient's record is unchanged.
3. Text: an on-demand template of the channel (never a balance template), as it is or edited
   for this send. Its merge fields are a balance notification's: the amounts are the balance as
   known now, the dates those of the guarantor's latest statement, and the link a QuickPay link
   minted for this message (source "on_demand", links.py), or the office's phone with online
   payments off.
4. It goes through the outbox at once, and the delivery engine's contact policy still applies:
   quiet hours make it wait (the form says until when); an opt-out, a missing consent or the
   frequency cap refuse it before anything is written. It raises no dunning count and is never
   superseded by a statement. A $0 balance may be messaged; its link then refuses payment.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from notifications.contact_policy import decisions_ahead
from notifications.message_templates import message_template_current, message_templates
from notifications.models import MessageTemplate, MessageTemplateVersion, ReasonCode
from notifications.rendering import compiled, fields_used, template_check, text_facts
from notifications.services import Recipient, notification_schedule
from notifications.unsubscribe import unsubscribe_url_for_key
from patients.models import IS_GUARANTOR, ZERO, Patient
from patients.records import FieldInvalid, clean_phone
from patients.records.fields import clean_email
from practices.services import audit_record
from practices.templatetags.portal import phone

from .links import LinkRequest, message_link_preview, message_links
from .models import ON_DEMAND_KIND, OnDemandMessage, Statement, on_demand_key
from .preview import PlannedRow
from .scheduling import practice_values, statement_values

PURPOSE = "on_demand"
CHANNELS = ("sms", "email")  # calls carry no link, so an on-demand message is a text or an email


# --- who can be messaged ---

@dataclass(frozen=True)
class Contact:
    """One way to reach the patient or the guarantor: what "Send to" lists."""

    value: str  # "guarantor:sms": the form's value
    person: Patient
    role: str  # "patient" or "guarantor"
    channel: str
    address: str  # as stored
    consent: bool

    @property
    def shown_address(self) -> str:
        return phone(self.address) if self.channel == "sms" else self.address

    @property
    def label(self) -> str:
        how = "text to" if self.channel == "sms" else "email to"
        label = f"{self.person.full_name} ({self.role}): {how} {self.shown_address}"
        return label if self.consent else f"{label} (no consent to {_noun(self.channel)}s)"


def on_demand_guarantors(*, practice, patient: Patient) -> list[Patient]:
    """The patient's guarantors who have had a batched statement, with their balances."""
    if not patient.guarantor_id:
        return []
    batched = Statement.objects.filter(practice=practice, guarantor_id=OuterRef("pk"))
    return list(Patient.objects.filter(IS_GUARANTOR, practice=practice, pk=patient.guarantor_id)
                .filter(Exists(batched)).select_related("balance"))


def on_demand_contacts(*, patient: Patient, guarantor: Patient) -> list[Contact]:
    people = [(guarantor, "guarantor")] if patient.pk == guarantor.pk else [(patient, "patient"),
                                                                             (guarantor, "guarantor")]
    found = []
    for person, role in people:
        if person.mobile_phone:
            found.append(Contact(f"{role}:sms", person, role, "sms", person.mobile_phone, person.consent_sms))
        if person.email:
            found.append(Contact(f"{role}:email", person, role, "email", person.email, person.consent_email))
    return found


@dataclass
class Availability:
    guarantors: list[Patient]
    refusal: str  # "" when a message can be sent


def on_demand_availability(*, practice, patient: Patient) -> Availability:
    """Whether a balance notification can be sent from this patient's pages, and if not why."""
    guarantors = on_demand_guarantors(practice=practice, patient=patient)
    if not patient.guarantor_id:
        return Availability([], "No balance notification can be sent: this patient has no guarantor on file.")
    if not guarantors:
        who = "This guarantor" if patient.is_guarantor else "The patient's guarantor"
        return Availability([], f"No balance notification can be sent: {who} has never had a batched "
                                "statement.")
    if not any(on_demand_contacts(patient=patient, guarantor=g) for g in guarantors):
        return Availability([], "No balance notification can be sent: neither the patient nor the "
                                "guarantor has a mobile number or an email address on file.")
    return Availability(guarantors, "")


def on_demand_templates(*, practice, channel: str):
    return message_templates(practice=practice, purpose=PURPOSE, channel=channel)


def corrected_address(channel: str, value: str) -> str:
    """A phone number (E.164) or an email address typed for one send; ValidationError on
    `address` when it is neither."""
    try:
        cleaned = clean_phone(value) if channel == "sms" else clean_email(value)
    except FieldInvalid as exc:
        noun = "a mobile number, e.g. (312) 555-0142" if channel == "sms" else "an email address"
        raise ValidationError({"address": f"Enter {noun}: {exc}."}) from None
    if not cleaned:
        raise ValidationError({"address": "Enter the number or email to use, or leave it empty."})
    return cleaned


# --- what it says, and when it would go ---

def message_values(*, practice, recipient: Patient, guarantor: Patient, link: str, unsubscribe: str) -> dict:
    """The merge values: the addressee's names, the office, the balance now and the latest
    statement's dates, the link."""
    balance = guarantor.balance_or_none
    total = balance.total if balance else ZERO
    due = max(ZERO, min(balance.amount_due, total)) if balance else ZERO
    latest = (Statement.objects.filter(practice=practice, guarantor_id=guarantor.pk)
              .only("statement_date", "due_date").order_by("-pk").first())
    today = timezone.localdate(timezone.now(), practice.tz)
    statement = statement_values(statement_date=latest.statement_date if latest else today,
                                 due_date=latest.due_date if latest else today, amount_due=due, balance=total)
    return {"patient": {"first_name": recipient.first_name, "last_name": recipient.last_name},
            "practice": practice_values(practice), "statement": statement, "quickpay_link": link,
            "unsubscribe_link": unsubscribe}


def balance_total(guarantor: Patient) -> Decimal:
    balance = guarantor.balance_or_none
    return balance.total if balance is not None else ZERO


# Control characters other than a line break or a tab: nothing a phone or a mail reader shows.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def text_problems(*, channel: str, subject: str, body: str) -> dict[str, list[str]]:
    """What is wrong with the text to send, by field (the template editor's checks, and no
    control characters)."""
    found: dict[str, list[str]] = {}
    for field, text in (("subject", subject), ("body", body)):
        if _CONTROL.search(text):
            found[field] = ["Remove the control characters (pasted from another program?): they do not "
                            "show on a phone or in an email."]
    for problem in template_check(purpose=PURPOSE, channel=channel, subject=subject, body=body):
        found.setdefault(problem.field if problem.field in ("subject", "body") else "body",
                         []).append(problem.message)
    return found


def render_preview(*, practice, contact: Contact, guarantor: Patient, subject: str,
                   body: str) -> tuple[str, str]:
    """The text as it will read, with the preview link in place of the one minted at send."""
    values = message_values(practice=practice, recipient=contact.person, guarantor=guarantor,
                            link=message_link_preview(practice),
                            unsubscribe=f"{settings.PUBLIC_BASE_URL}/unsubscribe/preview/")
    return (compiled(subject).render(values) if subject else "", compiled(body).render(values))


@dataclass
class Forecast:
    action: str  # "send", "wait" or "refuse"
    text: str
    at: datetime | None = None


def on_demand_forecast(*, practice, contact: Contact, address: str, now: datetime | None = None) -> Forecast:
    """What the delivery engine would do with the message now: the contact policy's own decision."""
    now = now or timezone.now()
    row = PlannedRow(pk=None, practice=practice, practice_id=practice.pk, recipient_kind="patient",
                     recipient_id=contact.person.pk, recipient_time_zone=contact.person.time_zone,
                     channel=contact.channel, address=address, send_at=now, first_due_at=now,
                     consent=contact.consent, kind=ON_DEMAND_KIND, addon="on_demand")
    [(_, decision, at)] = decisions_ahead([row], now=now)
    if decision.action == "refuse":
        reason = ReasonCode(decision.reason_code).label if decision.reason_code else "refused"
        return Forecast("refuse", f"Will not send ({reason.lower()}): {decision.detail}.")
    if at > now:
        tz = contact.person.time_zone or practice.time_zone
        local = at.astimezone(ZoneInfo(tz))
        return Forecast("wait", f"Quiet hours: it will wait and go at {local:%H:%M} on "
                                f"{local:%a %b} {local.day} ({tz}).", at)
    return Forecast("send", "It goes now.", at)


@dataclass
class Check:
    """What the form shows beside the text as it is typed."""

    problems: dict  # field -> messages
    subject: str = ""
    body: str = ""  # rendered, with the preview link
    facts: dict | None = None  # a text's characters, encoding and segments
    forecast: Forecast | None = None
    address_error: str = ""


def on_demand_check(*, practice, contact: Contact | None, guarantor: Patient, address: str, subject: str,
                    body: str) -> Check:
    """The text's problems, or the text as it will read; when it would go (the contact policy)."""
    if contact is None:
        return Check({"send_to": ["No one on this account has a mobile number or an email address."]})
    subject = subject.replace("\r\n", "\n").strip() if contact.channel == "email" else ""
    body = body.replace("\r\n", "\n").strip()
    check = Check(text_problems(channel=contact.channel, subject=subject, body=body))
    if not check.problems:
        check.subject, check.body = render_preview(practice=practice, contact=contact, guarantor=guarantor,
                                                   subject=subject, body=body)
        if contact.channel == "sms":
            check.facts = text_facts(check.body)
    to = contact.address
    if address.strip():
        try:
            to = corrected_address(contact.channel, address)
        except ValidationError as exc:
            check.address_error = " ".join(exc.messages)
    check.forecast = on_demand_forecast(practice=practice, contact=contact, address=to)
    return check


# --- sending ---

@dataclass
class Sent:
    message: OnDemandMessage
    notification: object
    forecast: Forecast
    created: bool  # False: this form was sent already (a second click, a resubmission)


def on_demand_send(*, practice, actor, patient: Patient, guarantor_id: int, send_to: str, address: str,
                   template: MessageTemplate | None, subject: str, body: str, send_key: str,
                   now: datetime | None = None) -> Sent:
    """Send a balance notification now (see the module docstring); ValidationError by field
    (guarantor, send_to, address, template, subject, body) when it cannot go.

    One transaction: the on-demand row (its key is unique: the same form sent twice sends once),
    the QuickPay link minted for the message's key, the outbox row, the audit entry.
    """
    now = now or timezone.now()
    guarantor, contact, to = _recipient(practice=practice, patient=patient, guarantor_id=guarantor_id,
                                        send_to=send_to, address=address)
    subject = subject.replace("\r\n", "\n").strip() if contact.channel == "email" else ""
    body = body.replace("\r\n", "\n").strip()
    if template is not None and (template.purpose, template.channel, template.practice_id) != (
            PURPOSE, contact.channel, practice.pk):
        raise ValidationError({"template": f"Choose an on-demand {_noun(contact.channel)} template."})
    if problems := text_problems(channel=contact.channel, subject=subject, body=body):
        raise ValidationError(problems)
    forecast = on_demand_forecast(practice=practice, contact=contact, address=to, now=now)
    if forecast.action == "refuse":
        raise ValidationError({"send_to": forecast.text})
    key = on_demand_key(practice.pk, send_key)
    version = message_template_current(template=template) if template else None
    with transaction.atomic():
        try:
            with transaction.atomic():
                message = OnDemandMessage.objects.create(
                    practice=practice, guarantor=guarantor, recipient=contact.person, notification_key=key,
                    channel=contact.channel, address_corrected=to != contact.address, template=template,
                    template_version=version.number if version else None,
                    edited=version is None or (version.subject, version.body) != (subject, body),
                    balance=balance_total(guarantor), sent_by=actor, created_at=now)
        except IntegrityError:
            existing = OnDemandMessage.objects.filter(practice=practice, notification_key=key).first()
            if existing is None:
                raise
            return Sent(existing, None, forecast, created=False)
        notification = _schedule(practice=practice, actor=actor, message=message, contact=contact, to=to,
                                 guarantor=guarantor, subject=subject, body=body, version=version)
        audit_record(practice=practice, actor=actor, action="on_demand.sent",
                     target=f"guarantor {guarantor.pk}", recipient=contact.person.pk, channel=contact.channel,
                     notification=notification.pk, template=notification.template_name,
                     version=notification.template_version, address_corrected=message.address_corrected)
    return Sent(message, notification, forecast, created=True)


def _recipient(*, practice, patient, guarantor_id, send_to, address) -> tuple[Patient, Contact, str]:
    """The guarantor, the contact chosen and the address to use, or ValidationError by field."""
    guarantor = next((g for g in on_demand_guarantors(practice=practice, patient=patient)
                      if g.pk == guarantor_id), None)
    if guarantor is None:
        raise ValidationError({"guarantor": "Choose a guarantor who has had a batched statement."})
    contacts = on_demand_contacts(patient=patient, guarantor=guarantor)
    contact = next((c for c in contacts if c.value == send_to), None)
    if contact is None:
        raise ValidationError({"send_to": "Choose someone to send to from the list."})
    to = corrected_address(contact.channel, address) if address.strip() else contact.address
    return guarantor, contact, to


def _schedule(*, practice, actor, message: OnDemandMessage, contact: Contact, to: str, guarantor: Patient,
              subject: str, body: str, version: MessageTemplateVersion | None):
    """The outbox row, with the QuickPay link minted for its key when the text has one."""
    key = message.notification_key
    used = fields_used(body) | (fields_used(subject) if subject else set())
    link = ""
    if "quickpay_link" in used:
        [link] = message_links(practice=practice, items=[LinkRequest(
            guarantor_id=guarantor.pk, notification_key=key, source="on_demand", channel=contact.channel)])
    values = message_values(practice=practice, recipient=contact.person, guarantor=guarantor, link=link,
                            unsubscribe=unsubscribe_url_for_key(key) if "unsubscribe_link" in used else "")
    person = contact.person
    return notification_schedule(
        practice=practice, channel=contact.channel, address=to, kind=ON_DEMAND_KIND, idempotency_key=key,
        recipient=Recipient(kind="patient", id=person.pk, name=person.full_name, time_zone=person.time_zone,
                            consent=contact.consent),
        subject=compiled(subject).render(values) if subject else "", body=compiled(body).render(values),
        addon="on_demand", reason=f"on demand, sent by {actor.display_name}"[:200],
        template_name=message.template.name if message.template else "",
        template_version=_version_label(version, message))


def _version_label(version: MessageTemplateVersion | None, message: OnDemandMessage) -> str:
    if version is None:
        return ""
    return f"{version.number} (edited)" if message.edited else str(version.number)


def _noun(channel: str) -> str:
    return "text" if channel == "sms" else "email"


# --- the default templates every practice starts with ---

_SIGNATURE = "{{ practice.name }}\n{{ practice.address }}\n\nTo stop these emails: {{ unsubscribe_link }}"
ON_DEMAND_TEMPLATES = (
    ("On-demand text", "sms", "",
     "{{ practice.name }}: Hi {{ patient.first_name }}, here is the link to pay your balance of "
     "{{ statement.balance }}: {{ quickpay_link }} Reply STOP to opt out."),
    ("On-demand email", "email", "Pay your balance at {{ practice.name }}",
     "Hello {{ patient.first_name }},\n\nAs we discussed, here is the link to pay your balance with "
     "{{ practice.name }}: {{ statement.balance }} ({{ statement.amount_due }} due).\n\n"
     "Pay online: {{ quickpay_link }}\n\nQuestions? Call us at {{ practice.phone }}.\n\n" + _SIGNATURE),
)


def on_demand_templates_write(practice_id: int, m: SimpleNamespace) -> None:
    """Write the default on-demand templates of a practice (those it lacks, by name). `m` names
    MessageTemplate and MessageTemplateVersion: the live models or a migration's."""
    for name, channel, subject, body in ON_DEMAND_TEMPLATES:
        template, created = m.MessageTemplate.objects.get_or_create(
            practice_id=practice_id, name=name,
            defaults={"purpose": PURPOSE, "channel": channel, "current_version": 1})
        if created:
            m.MessageTemplateVersion.objects.create(template=template, number=1, subject=subject, body=body)


@transaction.atomic
def on_demand_templates_create(practice) -> None:
    """settings.PRACTICE_CREATED_HOOKS: every new practice starts with an on-demand text and email."""
    on_demand_templates_write(practice.pk, SimpleNamespace(MessageTemplate=MessageTemplate,
                                                           MessageTemplateVersion=MessageTemplateVersion))
