"""The record as a CSV file's row: its columns, the full check, and the quick path to COPY."""

from operator import itemgetter

from .fields import (
    EARLIEST_DATE,
    EMAIL,
    UNSAFE_TEXT,
    Collector,
    build_record,
    clean_amount,
    clean_bool,
    clean_count,
    clean_datetime,
    clean_phone,
    time_zones,
    today,
)
from .quick import (
    BOOL_SPELLINGS,
    BOOLS,
    DIGITS,
    EARLIEST_TEXT,
    LEFT_TO_FULL_CHECK,
    NotSimple,
    quick_amount,
    quick_date,
    quick_day,
    quick_phone,
    quick_text,
)
from .shape import RECORD_FIELDS, BalanceRecord, PatientRecord, RecordError

CSV_COLUMNS = [
    ("external_id", "required: the patient's id in your practice-management system"),
    ("first_name", "required"),
    ("last_name", "required"),
    ("date_of_birth", "YYYY-MM-DD"),
    ("email", ""),
    ("mobile_phone", "any usual format; stored as +13125550142"),
    ("home_phone", "any usual format"),
    ("time_zone", "e.g. America/Chicago; empty means the office's"),
    ("guarantor_external_id", "the guarantor's external_id; empty or the patient's own id for a guarantor"),
    ("consent_email", "true/false (also yes/no, 1/0); empty is false"),
    ("consent_sms", "true/false"),
    ("consent_voice", "true/false"),
    ("paperless", "true/false"),
    ("do_not_recall", "true/false"),
    ("last_visit_on", "YYYY-MM-DD"),
    ("balance_total", "guarantors only: the account total, e.g. 125.40; empty means no balance"),
    ("balance_amount_due", "amount due now"),
    ("aging_current", "0-30 days"),
    ("aging_31_60", ""),
    ("aging_61_90", ""),
    ("aging_91_120", ""),
    ("aging_over_120", ""),
    ("in_collections", "true/false"),
    ("on_payment_plan", "true/false: on a payment plan in the PMS"),
    ("outstanding_claims", "number of insurance claims outstanding"),
    ("balance_as_of", "when the PMS computed the balance, ISO 8601"),
]
CSV_COLUMN_NAMES = [name for name, _ in CSV_COLUMNS]
CSV_REQUIRED = ["external_id", "first_name", "last_name"]
_BALANCE_COLUMNS = ["balance_total", "balance_amount_due", "aging_current", "aging_31_60", "aging_61_90",
                    "aging_91_120", "aging_over_120", "in_collections", "on_payment_plan",
                    "outstanding_claims", "balance_as_of"]
_CSV_NAMES = {name: name for name in RECORD_FIELDS}


def _csv_fast(row: dict) -> PatientRecord:
    """The usual row, checked with the same rules as the full check but without collecting
    errors; anything unusual raises and the full check (record_from_csv) decides and explains."""
    get = row.get
    external_id = quick_text(get("external_id", ""), 64, True)
    guarantor = quick_text(get("guarantor_external_id", ""), 64, False)
    email = quick_text(get("email", ""), 254, False).lower()
    if email and not EMAIL.match(email):
        raise NotSimple
    time_zone = quick_text(get("time_zone", ""), 64, False)
    if time_zone and time_zone not in time_zones():
        raise NotSimple
    balance = None
    if (get("balance_total") or get("balance_amount_due") or get("aging_current") or get("aging_31_60")
            or get("aging_61_90") or get("aging_91_120") or get("aging_over_120") or get("in_collections")
            or get("on_payment_plan") or get("outstanding_claims") or get("balance_as_of")):
        if not get("balance_total", "").strip() or (guarantor and guarantor != external_id):
            raise NotSimple
        balance = BalanceRecord(
            total=clean_amount(get("balance_total")), amount_due=clean_amount(get("balance_amount_due")),
            aging_current=clean_amount(get("aging_current")), aging_31_60=clean_amount(get("aging_31_60")),
            aging_61_90=clean_amount(get("aging_61_90")), aging_91_120=clean_amount(get("aging_91_120")),
            aging_over_120=clean_amount(get("aging_over_120")),
            in_collections=BOOLS[get("in_collections", "").strip().lower()],
            on_payment_plan=BOOLS[get("on_payment_plan", "").strip().lower()],
            outstanding_claims=clean_count(get("outstanding_claims")),
            as_of=clean_datetime(get("balance_as_of")))
    return PatientRecord(
        external_id=external_id,
        first_name=quick_text(get("first_name", ""), 100, True),
        last_name=quick_text(get("last_name", ""), 100, True),
        date_of_birth=quick_date(get("date_of_birth", ""), EARLIEST_DATE),
        email=email,
        mobile_phone=clean_phone(get("mobile_phone", "")),
        home_phone=clean_phone(get("home_phone", "")),
        time_zone=time_zone,
        guarantor_external_id=guarantor or external_id,
        consent_email=BOOLS[get("consent_email", "").strip().lower()],
        consent_sms=BOOLS[get("consent_sms", "").strip().lower()],
        consent_voice=BOOLS[get("consent_voice", "").strip().lower()],
        paperless=BOOLS[get("paperless", "").strip().lower()],
        do_not_recall=BOOLS[get("do_not_recall", "").strip().lower()],
        last_visit_on=quick_date(get("last_visit_on", ""), EARLIEST_DATE),
        balance=balance,
    )


def record_from_csv(row: dict) -> tuple[PatientRecord | None, list[RecordError]]:
    """A CSV row as a dict of column -> text (absent optional columns are missing keys)."""
    try:
        return _csv_fast(row), []
    except LEFT_TO_FULL_CHECK:
        return record_from_csv_checked(row)


def record_from_csv_checked(row: dict) -> tuple[PatientRecord | None, list[RecordError]]:
    """The full check of a CSV row: every problem, by column."""
    c = Collector()
    fields = {name: row.get(name, "") for name in _CSV_NAMES}
    balance = None
    if any(row.get(name) for name in _BALANCE_COLUMNS):
        if not (row.get("balance_total") or "").strip():
            c.errors.append(RecordError("balance_total", "is required when other balance columns are filled"))
        get = row.get
        balance = BalanceRecord(
            total=c("balance_total", clean_amount, get("balance_total")),
            amount_due=c("balance_amount_due", clean_amount, get("balance_amount_due")),
            aging_current=c("aging_current", clean_amount, get("aging_current")),
            aging_31_60=c("aging_31_60", clean_amount, get("aging_31_60")),
            aging_61_90=c("aging_61_90", clean_amount, get("aging_61_90")),
            aging_91_120=c("aging_91_120", clean_amount, get("aging_91_120")),
            aging_over_120=c("aging_over_120", clean_amount, get("aging_over_120")),
            in_collections=c("in_collections", clean_bool, get("in_collections")),
            on_payment_plan=c("on_payment_plan", clean_bool, get("on_payment_plan")),
            outstanding_claims=c("outstanding_claims", clean_count, get("outstanding_claims")),
            as_of=c("balance_as_of", clean_datetime, get("balance_as_of")),
        )
    return build_record(c, fields, _CSV_NAMES, balance, "balance_total")




def csv_copy_row_reader(columns: list[str]):
    """A function (row number, the file's values) -> the row for COPY, led by the row number.

    The same rules as record_from_csv with the values kept as text where COPY reads them as
    the same stored value; it raises (NotSimple, FieldInvalid, KeyError, ValueError) on anything
    unusual, which the caller then hands to record_from_csv_checked to decide and explain.
    """
    positions = [columns.index(name) if name in columns else -1 for name in CSV_COLUMN_NAMES]
    in_order = positions == list(range(len(CSV_COLUMN_NAMES)))
    empty_at = len(columns)
    pick = None if in_order else itemgetter(*[p if p >= 0 else empty_at for p in positions])
    zones = time_zones()
    bools = BOOL_SPELLINGS
    email_match = EMAIL.fullmatch
    no_balance = _NO_BALANCE_TEXT
    unsafe = UNSAFE_TEXT.search

    def read(number: int, values: list[str]) -> tuple:
        if pick is not None:
            values = pick([*values, ""])
        (external_id, first, last, birth, email, mobile, home, zone, guarantor, c_email, c_sms, c_voice,
         paperless, no_recall, visit, total, due, a_current, a_31, a_61, a_91, a_120, collections, plan,
         claims, as_of) = values
        external_id = external_id.strip()
        first = first.strip()
        last = last.strip()
        guarantor = guarantor.strip() or external_id
        if (not external_id or not first or not last or len(external_id) > 64 or len(guarantor) > 64
                or len(first) > 100 or len(last) > 100):
            raise NotSimple
        # A control or text-direction character in the free text goes to the full check, which
        # names its column (every other column is held to a pattern or a list that has none).
        # isprintable(), a loop in C, clears the usual names at once; what it leaves (a
        # non-breaking space, a joiner) is looked at closely.
        free_text = external_id + first + last + guarantor
        if not free_text.isprintable() and unsafe(free_text):
            raise NotSimple
        if email:
            if len(email) > 254:
                raise NotSimple
            email = email.lower()
            if not email_match(email):
                raise NotSimple
        if zone and zone not in zones:
            raise NotSimple
        latest = today().isoformat()
        if (total or due or a_current or a_31 or a_61 or a_91 or a_120 or collections or plan or claims
                or as_of):
            if not total or guarantor != external_id:
                raise NotSimple
            if claims and not DIGITS.fullmatch(claims):
                raise NotSimple
            balance = (True, quick_amount(total), quick_amount(due), quick_amount(a_current),
                       quick_amount(a_31), quick_amount(a_61), quick_amount(a_91), quick_amount(a_120),
                       bools[collections], bools[plan], claims or "0", clean_datetime(as_of))
        else:
            balance = no_balance
        return (number, external_id, first, last, quick_day(birth, EARLIEST_TEXT, latest), email,
                quick_phone(mobile), quick_phone(home), zone, bools[c_email], bools[c_sms], bools[c_voice],
                bools[paperless], bools[no_recall], guarantor, quick_day(visit, EARLIEST_TEXT, latest),
                *balance)

    return read


_NO_BALANCE_TEXT = (False, None, None, None, None, None, None, None, None, None, None, None)
