"""The words of a payment request and its reminders, from the product's text files
(templates/sms/payment-request.txt, payment-reminder.txt; templates/emails/payment-request-*.txt,
payment-reminder-*.txt), with the merge fields message templates use: patient.first_name,
practice.name, practice.phone, quickpay_link.

A send renders each file once, through the plain-text engine, with a marker in place of each
guarantor's own values; each message is then that text with the markers replaced, so 10,000
messages cost 10,000 string replacements rather than 10,000 template renders. The files use
their per-guarantor fields plainly (no filters), which is what makes the markers safe.
"""

from dataclasses import dataclass

from config.plain_text import render_plain_text
from practices.templatetags.portal import phone

TEMPLATE_VERSION = "1"
_FIRST, _LINK = "\x01first_name\x02", "\x01link\x02"
STEP_TEMPLATES = {0: "payment-request", 1: "payment-reminder", 2: "payment-reminder"}


@dataclass(frozen=True)
class Rendered:
    template_name: str
    subject: str
    body: str


class RequestTexts:
    """The practice's texts, rendered once per send: `render(step, channel, first_name, link)`."""

    def __init__(self, practice):
        context = {"practice": {"name": practice.name, "phone": phone(practice.phone)},
                   "patient": {"first_name": _FIRST}, "quickpay_link": _LINK}
        self._texts = {}
        for name in set(STEP_TEMPLATES.values()):
            self._texts[(name, "sms")] = ("", render_plain_text(f"sms/{name}.txt", context).strip())
            self._texts[(name, "email")] = (
                render_plain_text(f"emails/{name}-subject.txt", context).strip(),
                render_plain_text(f"emails/{name}-body.txt", context).strip() + "\n")

    def render(self, *, step: int, channel: str, first_name: str, link: str) -> Rendered:
        name = STEP_TEMPLATES[step]
        subject, body = self._texts[(name, channel)]
        return Rendered(template_name=f"{name}-{channel}", subject=subject.replace(_FIRST, first_name),
                        body=body.replace(_FIRST, first_name).replace(_LINK, link))
