"""Where a guarantor's payment request goes: a text to their mobile number, or an email when
there is no usable mobile but an email with consent; nowhere (the undeliverable list) otherwise.

A mobile number staff added for an undeliverable request (`ContactFix`) is used, with the
guarantor's consent as staff confirmed it, while the PMS still sends the number it had when the
fix was made. Addresses that opted out of a channel are passed over.
"""

from dataclasses import dataclass
from itertools import islice

from notifications.models import OptOut
from patients.models import Patient

from ..models import ContactFix, UndeliverableReason


@dataclass(frozen=True)
class Contact:
    channel: str  # "sms", "email" or "" (nothing to send to)
    address: str
    consent: bool
    fixed: bool = False  # the number is one staff added
    missing: str = ""  # an UndeliverableReason when there is nothing to send to

    @property
    def label(self) -> str:
        return {"sms": "Text", "email": "Email"}.get(self.channel, "None")


@dataclass(frozen=True)
class Person:
    id: int
    first_name: str
    last_name: str
    time_zone: str
    contact: Contact

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def contact_choose(*, mobile: str, consent_sms: bool, email: str, consent_email: bool, fix: str,
                   opted_out: set) -> Contact:
    """The channel and address for one guarantor (see the module's docstring)."""
    if fix and ("sms", fix) not in opted_out:
        return Contact("sms", fix, True, fixed=True)
    if mobile and consent_sms and ("sms", mobile) not in opted_out:
        return Contact("sms", mobile, True)
    if email and consent_email and ("email", email) not in opted_out:
        return Contact("email", email, True)
    if ("sms", fix or mobile) in opted_out or ("email", email) in opted_out:
        return Contact("", "", False, missing=UndeliverableReason.OPTED_OUT)
    if not (mobile or email):
        return Contact("", "", False, missing=UndeliverableReason.NO_CONTACT)
    return Contact("", "", False, missing=UndeliverableReason.NO_CONSENT)


_FIELDS = ("id", "first_name", "last_name", "time_zone", "mobile_phone", "consent_sms", "email",
           "consent_email")


def people_for(*, practice, guarantor_ids, chunk: int = 5000) -> dict[int, Person]:
    """The guarantors' names, time zones and contacts: three queries per chunk of ids."""
    found: dict[int, Person] = {}
    it = iter(guarantor_ids)
    while ids := list(islice(it, chunk)):
        rows = list(Patient.objects.filter(practice=practice, pk__in=ids).values_list(*_FIELDS))
        fixes = {g: (mobile, pms) for g, mobile, pms in ContactFix.objects.filter(
            practice=practice, guarantor_id__in=ids).values_list("guarantor_id", "mobile_phone", "pms_mobile")}
        addresses = {r[4] for r in rows if r[4]} | {r[6] for r in rows if r[6]} | {m for m, _ in fixes.values()}
        opted_out = set(OptOut.objects.filter(practice=practice, address__in=addresses)
                        .values_list("channel", "address")) if addresses else set()
        for pk, first, last, tz, mobile, consent_sms, email, consent_email in rows:
            fixed, pms = fixes.get(pk, ("", None))
            contact = contact_choose(mobile=mobile, consent_sms=consent_sms, email=email,
                                     consent_email=consent_email, opted_out=opted_out,
                                     fix=fixed if pms == mobile else "")
            found[pk] = Person(pk, first, last, tz, contact)
    return found
