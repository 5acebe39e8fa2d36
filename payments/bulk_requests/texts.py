"""The words of a payment request and its reminders: message templates of purpose
`payment_request` (notifications' MessageTemplate), one for the request and one for the reminders
on each channel, chosen in Payments -> Payment settings and edited with the template editor
(versioned, checked when saved: merge fields, minimum necessary for texts, SMS segments).

Every office starts with the Standard templates below, made the first time they are needed.
A send reads each chosen template's current version once and renders every message from it
(`rendering.compiled`: a template of text and fields is one format call a message), and records
the template's name and version on each outbox row.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction

from notifications.models import MessageTemplate, MessageTemplateVersion, TemplatePurpose
from notifications.rendering import compiled, fields_used, sample_values
from notifications.unsubscribe import unsubscribe_url_for_key
from practices.templatetags.portal import phone

from ..models import PaymentSettings

PURPOSE = TemplatePurpose.PAYMENT_REQUEST


@dataclass(frozen=True)
class StandardText:
    name: str
    subject: str
    body: str


_EMAIL_END = ("If you have already paid, thank you, and please disregard this message. Questions? Call "
              "us at {{ practice.phone }}.\n\n{{ practice.name }}\n\n"
              "To stop these emails: {{ unsubscribe_link }}")
# (message, channel) -> the Standard template; "request" is the first message, "reminder" the others.
STANDARD = {
    ("request", "sms"): StandardText(
        "Payment request text", "",
        "{{ practice.name }}: Hi {{ patient.first_name }}, you have a balance with us. Pay securely "
        "online: {{ quickpay_link }} Questions? Call {{ practice.phone }}. Reply STOP to opt out."),
    ("request", "email"): StandardText(
        "Payment request email", "{{ practice.name }}: your balance, and a quick way to pay it",
        "Hello {{ patient.first_name }},\n\nYou have a balance with {{ practice.name }}. You can see it "
        "and pay it securely online, from your phone or computer:\n\n{{ quickpay_link }}\n\n" + _EMAIL_END),
    ("reminder", "sms"): StandardText(
        "Payment reminder text", "",
        "{{ practice.name }}: Hi {{ patient.first_name }}, a reminder that you have a balance with us. "
        "Pay securely online: {{ quickpay_link }} Questions? Call {{ practice.phone }}. Reply STOP to "
        "opt out."),
    ("reminder", "email"): StandardText(
        "Payment reminder email", "{{ practice.name }}: a reminder about your balance",
        "Hello {{ patient.first_name }},\n\nA reminder that you have a balance with {{ practice.name }}. "
        "You can see it and pay it securely online:\n\n{{ quickpay_link }}\n\n" + _EMAIL_END),
}
# The payment settings field that holds each choice.
SETTINGS_FIELDS = {("request", "sms"): "request_sms_template", ("request", "email"): "request_email_template",
                   ("reminder", "sms"): "reminder_sms_template",
                   ("reminder", "email"): "reminder_email_template"}


def _standard_template(practice, key: tuple[str, str]) -> MessageTemplate:
    text = STANDARD[key]
    channel = key[1]
    found = MessageTemplate.objects.filter(practice=practice, purpose=PURPOSE, channel=channel,
                                           name__startswith=text.name).order_by("id").first()
    if found is not None:
        return found
    for name in (text.name, f"{text.name} (payment requests)"):
        try:
            with transaction.atomic():
                template = MessageTemplate.objects.create(practice=practice, purpose=PURPOSE, channel=channel,
                                                          name=name, current_version=1)
                MessageTemplateVersion.objects.create(template=template, number=1, subject=text.subject,
                                                      body=text.body)
                return template
        except IntegrityError:  # an office template of another purpose has the name
            continue
    raise RuntimeError(f"no free name for the {text.name!r} template")


def request_templates_ensure(practice) -> PaymentSettings:
    """The office's payment settings with a template chosen for each message and channel (the
    Standard ones made where none is)."""
    payment_settings, _ = PaymentSettings.objects.get_or_create(practice=practice)
    missing = [(key, field) for key, field in SETTINGS_FIELDS.items()
               if getattr(payment_settings, f"{field}_id") is None]
    for key, field in missing:
        setattr(payment_settings, field, _standard_template(practice, key))
    if missing:
        payment_settings.save(update_fields=[field for _, field in missing])
    return payment_settings


def practice_values(practice) -> dict:
    return {"name": practice.name, "phone": phone(practice.phone),
            "address": " ".join(line.strip() for line in (practice.address or "").splitlines()
                                if line.strip())}


@dataclass(frozen=True)
class Rendered:
    template_name: str
    template_version: str
    subject: str
    body: str


class RequestTexts:
    """The office's chosen templates at their current versions, ready to render many messages:
    `render(step=..., channel=..., first_name=..., link=..., key=...)`."""

    def __init__(self, practice, payment_settings: PaymentSettings | None = None):
        payment_settings = payment_settings or request_templates_ensure(practice)
        ids = {key: getattr(payment_settings, f"{field}_id") for key, field in SETTINGS_FIELDS.items()}
        templates = MessageTemplate.objects.in_bulk(list(ids.values()))
        versions = {(v.template_id, v.number): v for v in MessageTemplateVersion.objects.filter(
            template_id__in=list(ids.values()))
            .filter(number__in={t.current_version for t in templates.values()})}
        self.office = practice_values(practice)
        self.template_ids = ids
        self._texts = {}
        for key, template_id in ids.items():
            template = templates[template_id]
            version = versions[(template.pk, template.current_version)]
            used = fields_used(version.body) | (fields_used(version.subject) if version.subject else set())
            subject = compiled(version.subject) if version.subject else None
            self._texts[key] = (template.name, str(version.number), subject, compiled(version.body),
                                "unsubscribe_link" in used)

    def render(self, *, step: int, channel: str, first_name: str, link: str, key: str,
               unsubscribe: str = "") -> Rendered:
        message = "reminder" if step else "request"
        name, version, subject, body, wants_unsubscribe = self._texts[(message, channel)]
        if wants_unsubscribe and not unsubscribe:
            unsubscribe = unsubscribe_url_for_key(key)
        values = {"patient": {"first_name": first_name}, "practice": self.office, "quickpay_link": link,
                  "unsubscribe_link": unsubscribe}
        return Rendered(name, version, subject.render(values) if subject else "", body.render(values))


def text_samples(*, practice) -> list[dict]:
    """Each chosen template as a guarantor would get it, with the editor's sample values."""
    texts = RequestTexts(practice)
    sample = sample_values()
    out = []
    for step, (message, label) in enumerate((("request", "The request"), ("reminder", "A reminder"))):
        for channel, by in (("sms", "by text"), ("email", "by email")):
            rendered = texts.render(step=step, channel=channel, first_name=sample["patient"]["first_name"],
                                    link=sample["quickpay_link"], key="",
                                    unsubscribe=sample["unsubscribe_link"])
            out.append({"label": f"{label}, {by}", "name": rendered.template_name,
                        "version": rendered.template_version, "subject": rendered.subject,
                        "body": rendered.body, "template_id": texts.template_ids[(message, channel)]})
    return out
