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


def _opted_out_of(practice, addresses: set) -> set:
    return set(OptOut.objects.filter(practice=practice, address__in=addresses)
               .values_list("channel", "address")) if addresses else set()


def people_of(*, practice, patients: list[Patient]) -> dict[int, Person]:
    """As people_for, for patient rows already read (a page's): two queries."""
    fixes = {g: (mobile, pms) for g, mobile, pms in ContactFix.objects.filter(
        practice=practice, guarantor_id__in=[p.pk for p in patients]).values_list(
        "guarantor_id", "mobile_phone", "pms_mobile")}
    opted_out = _opted_out_of(practice, {p.mobile_phone for p in patients if p.mobile_phone}
                              | {p.email for p in patients if p.email} | {m for m, _ in fixes.values()})
    found = {}
    for p in patients:
        fixed, pms = fixes.get(p.pk, ("", None))
        contact = contact_choose(mobile=p.mobile_phone, consent_sms=p.consent_sms, email=p.email,
                                 consent_email=p.consent_email, opted_out=opted_out,
                                 fix=fixed if pms == p.mobile_phone else "")
        found[p.pk] = Person(p.pk, p.first_name, p.last_name, p.time_zone, contact)
    return found


def people_for(*, practice, guarantor_ids, chunk: int = 5000) -> dict[int, Person]:
    """The guarantors' names, time zones and contacts: a few queries per chunk of ids."""
    found: dict[int, Person] = {}
    guarantor_ids = list(guarantor_ids)
    # A few guarantors: their addresses' opt-outs; many: the office's whole (short) opt-out list
    # in one query, rather than thousands of addresses as parameters.
    everyone = len(guarantor_ids) > chunk // 10
    opted_out = set(OptOut.objects.filter(practice=practice, channel__in=("sms", "email"))
                    .values_list("channel", "address")) if everyone else set()
    it = iter(guarantor_ids)
    while ids := list(islice(it, chunk)):
        rows = list(Patient.objects.filter(practice=practice, pk__in=ids).values_list(*_FIELDS))
        fixes = {g: (mobile, pms) for g, mobile, pms in ContactFix.objects.filter(
            practice=practice, guarantor_id__in=ids).values_list(
            "guarantor_id", "mobile_phone", "pms_mobile")}
        addresses = ({r[4] for r in rows if r[4]} | {r[6] for r in rows if r[6]}
                     | {mobile for mobile, _ in fixes.values()})
        if not everyone:
            opted_out |= _opted_out_of(practice, addresses)
        for pk, first, last, tz, mobile, consent_sms, email, consent_email in rows:
            fixed, pms = fixes.get(pk, ("", None))
            contact = contact_choose(mobile=mobile, consent_sms=consent_sms, email=email,
                                     consent_email=consent_email, opted_out=opted_out,
                                     fix=fixed if pms == mobile else "")
            found[pk] = Person(pk, first, last, tz, contact)
    return found
