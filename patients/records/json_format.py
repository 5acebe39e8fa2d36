"""The record as the API sends it (JSON), read and written back."""

from datetime import date
from decimal import Decimal

from .fields import (
    EMAIL,
    UNSAFE_TEXT,
    Collector,
    build_record,
    clean_amount,
    clean_bool,
    clean_count,
    clean_datetime,
    time_zones,
    today,
)
from .quick import EARLIEST_TEXT, ISO_DAY, LEFT_TO_FULL_CHECK, NotSimple, quick_phone
from .shape import RECORD_FIELDS, BalanceRecord, PatientRecord, RecordError

# The record's fields as the JSON names them (where they differ: inside `consents`).
_JSON_NAMES = {name: name for name in RECORD_FIELDS}
_JSON_NAMES.update({"consent_email": "consents.email", "consent_sms": "consents.sms",
                    "consent_voice": "consents.voice", "paperless": "consents.paperless"})
JSON_FIELDS = {"external_id", "first_name", "last_name", "date_of_birth", "email", "mobile_phone",
               "home_phone", "time_zone", "guarantor_external_id", "consents", "do_not_recall",
               "last_visit_on", "balance"}
_AGING_KEYS = {"current": "aging_current", "d31_60": "aging_31_60", "d61_90": "aging_61_90",
               "d91_120": "aging_91_120", "over_120": "aging_over_120"}
_BALANCE_KEYS = {"total", "amount_due", "aging", "in_collections", "on_payment_plan",
                 "outstanding_claims", "as_of"}


def _jbool(value) -> bool:
    if value is None:
        return False
    if type(value) is not bool:
        raise NotSimple
    return value


def _json_str(value) -> str:
    if value is None:
        return ""
    if type(value) is not str:
        raise NotSimple
    return value


def _json_day(value, earliest: str, latest: str) -> date | None:
    if value is None or value == "":
        return None
    # YYYY-MM-DD compares as text as it does as a date; anything else: the full check.
    if type(value) is not str or not ISO_DAY.fullmatch(value) or value > latest or value < earliest:
        raise NotSimple
    return date.fromisoformat(value)


def _json_fast(data) -> PatientRecord:
    """The usual JSON record, with the same rules as the full check (see csv_format._csv_fast), written
    out with few calls: this runs for every record of every request."""
    if type(data) is not dict or not data.keys() <= JSON_FIELDS:
        raise NotSimple
    get = data.get
    external_id = _json_str(get("external_id")).strip()
    first = _json_str(get("first_name")).strip()
    last = _json_str(get("last_name")).strip()
    guarantor = _json_str(get("guarantor_external_id")).strip() or external_id
    if (not external_id or not first or not last or len(external_id) > 64 or len(guarantor) > 64
            or len(first) > 100 or len(last) > 100
            or (not (ids_and_names := external_id + first + last + guarantor).isprintable()
            and UNSAFE_TEXT.search(ids_and_names))):
        raise NotSimple
    email = _json_str(get("email"))
    if email:
        if len(email) > 254:
            raise NotSimple
        email = email.lower()
        if not EMAIL.fullmatch(email):
            raise NotSimple
    time_zone = _json_str(get("time_zone"))
    if time_zone and time_zone not in time_zones():
        raise NotSimple
    consents = get("consents") or {}
    if type(consents) is not dict:
        raise NotSimple
    cget = consents.get
    flags = (cget("email"), cget("sms"), cget("voice"), cget("paperless"), get("do_not_recall"))
    for flag in flags:
        if flag is not None and type(flag) is not bool:
            raise NotSimple
    balance = None
    raw = get("balance")
    if raw is not None:
        if type(raw) is not dict or not raw.keys() <= _BALANCE_KEYS or "total" not in raw:
            raise NotSimple
        if guarantor != external_id:
            raise NotSimple
        aging = raw.get("aging") or {}
        if type(aging) is not dict or not aging.keys() <= _AGING_KEYS.keys():
            raise NotSimple
        balance = BalanceRecord(
            total=clean_amount(raw.get("total")), amount_due=clean_amount(raw.get("amount_due")),
            aging_current=clean_amount(aging.get("current")), aging_31_60=clean_amount(aging.get("d31_60")),
            aging_61_90=clean_amount(aging.get("d61_90")), aging_91_120=clean_amount(aging.get("d91_120")),
            aging_over_120=clean_amount(aging.get("over_120")),
            in_collections=_jbool(raw.get("in_collections")),
            on_payment_plan=_jbool(raw.get("on_payment_plan")),
            outstanding_claims=clean_count(raw.get("outstanding_claims")),
            as_of=clean_datetime(raw.get("as_of")))
    latest = today().isoformat()
    return PatientRecord(
        external_id=external_id, first_name=first, last_name=last,
        date_of_birth=_json_day(get("date_of_birth"), EARLIEST_TEXT, latest),
        email=email, mobile_phone=quick_phone(_json_str(get("mobile_phone"))),
        home_phone=quick_phone(_json_str(get("home_phone"))), time_zone=time_zone,
        guarantor_external_id=guarantor,
        consent_email=flags[0] is True, consent_sms=flags[1] is True, consent_voice=flags[2] is True,
        paperless=flags[3] is True, do_not_recall=flags[4] is True,
        last_visit_on=_json_day(get("last_visit_on"), EARLIEST_TEXT, latest),
        balance=balance,
    )


def record_from_json(data) -> tuple[PatientRecord | None, list[RecordError]]:
    try:
        return _json_fast(data), []
    except LEFT_TO_FULL_CHECK:
        return record_from_json_checked(data)


def record_from_json_checked(data) -> tuple[PatientRecord | None, list[RecordError]]:
    """The full check of a JSON record: every problem, by field."""
    if not isinstance(data, dict):
        return None, [RecordError("", "a record must be a JSON object")]
    c = Collector()
    for key in data.keys() - JSON_FIELDS:
        c.errors.append(RecordError(str(key)[:64], "is not a field of a patient record"))
    consents = data.get("consents") or {}
    if not isinstance(consents, dict):
        c.errors.append(RecordError("consents", "must be an object {email, sms, voice, paperless}"))
        consents = {}
    fields = {key: data.get(key) for key in _JSON_NAMES if key not in
              ("consent_email", "consent_sms", "consent_voice", "paperless")}
    fields.update(consent_email=consents.get("email"), consent_sms=consents.get("sms"),
                  consent_voice=consents.get("voice"), paperless=consents.get("paperless"))
    balance = None
    raw_balance = data.get("balance")
    if raw_balance is not None:
        if not isinstance(raw_balance, dict):
            c.errors.append(RecordError("balance", "must be an object"))
        else:
            for key in raw_balance.keys() - _BALANCE_KEYS:
                c.errors.append(RecordError(f"balance.{key}", "is not a field of a balance"))
            aging = raw_balance.get("aging") or {}
            if not isinstance(aging, dict):
                c.errors.append(RecordError("balance.aging", "must be an object"))
                aging = {}
            for key in aging.keys() - _AGING_KEYS.keys():
                c.errors.append(RecordError(f"balance.aging.{key}", "is not an aging bucket"))
            if "total" not in raw_balance:
                c.errors.append(RecordError("balance.total", "is required"))
            buckets = {stored: c(f"balance.aging.{key}", clean_amount, aging.get(key))
                       for key, stored in _AGING_KEYS.items()}
            balance = BalanceRecord(
                total=c("balance.total", clean_amount, raw_balance.get("total")),
                amount_due=c("balance.amount_due", clean_amount, raw_balance.get("amount_due")),
                in_collections=c("balance.in_collections", clean_bool, raw_balance.get("in_collections")),
                on_payment_plan=c("balance.on_payment_plan", clean_bool, raw_balance.get("on_payment_plan")),
                outstanding_claims=c("balance.outstanding_claims", clean_count,
                                     raw_balance.get("outstanding_claims")),
                as_of=c("balance.as_of", clean_datetime, raw_balance.get("as_of")),
                **buckets,
            )
    return build_record(c, fields, _JSON_NAMES, balance, "balance")


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def record_to_json(patient) -> dict:
    """The stored patient in the shape the API accepts."""
    data = {
        "external_id": patient.external_id,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "date_of_birth": patient.date_of_birth.isoformat() if patient.date_of_birth else None,
        "email": patient.email,
        "mobile_phone": patient.mobile_phone,
        "home_phone": patient.home_phone,
        "time_zone": patient.time_zone,
        "guarantor_external_id": (patient.guarantor.external_id if patient.guarantor_id
                                  else patient.external_id),
        "consents": {"email": patient.consent_email, "sms": patient.consent_sms,
                     "voice": patient.consent_voice, "paperless": patient.paperless},
        "do_not_recall": patient.do_not_recall,
        "last_visit_on": patient.last_visit_on.isoformat() if patient.last_visit_on else None,
        "balance": None,
    }
    balance = getattr(patient, "balance", None) if patient.is_guarantor else None
    if balance is not None:
        data["balance"] = {
            "total": _money(balance.total), "amount_due": _money(balance.amount_due),
            "aging": {key: _money(getattr(balance, stored)) for key, stored in _AGING_KEYS.items()},
            "in_collections": balance.in_collections, "on_payment_plan": balance.on_payment_plan,
            "outstanding_claims": balance.outstanding_claims,
            "as_of": balance.as_of.isoformat().replace("+00:00", "Z") if balance.as_of else None,
        }
    return data


