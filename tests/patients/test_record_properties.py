"""Properties of the record checks, over generated records mixing usual, odd and hostile values.

- Nothing raises: every record is accepted or refused field by field, whatever it holds.
- The API and a CSV file agree: the same values accepted give the same record, refused are
  refused in the same fields (each door naming them its own way).
- The quick paths agree with the full check (the CSV row's straight-to-COPY line byte for byte).
- What the checks accept, the database stores, and reads back as the same record.
"""

import io

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patients.records import (
    CSV_COLUMN_NAMES,
    LEFT_TO_FULL_CHECK,
    csv_copy_row_reader,
    record_from_csv,
    record_from_csv_checked,
    record_from_json,
    record_from_json_checked,
    record_to_json,
)
from patients.selectors import patient_get_by_external_id
from patients.upsert import copy_csv_writer, copy_row, patients_upsert

EXAMPLES = settings(max_examples=300, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))

HOSTILE = [
    "\x00", "a\x00b", "Ana\r\nReyes", "x\x1b[2Jy", "\u202eana", "r\u2066x", "\ud800", "\x85", "\t",
    "\uff11\uff12.50", "\u0663", "1e999999999", "-Infinity", "NaN", str(2**63), str(2**64), "9" * 30,
    "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "0001-01-01", "9999-12-31", "x" * 300, " ",
]
DATES = ["", "1984-09-30", "1899-12-31", "1900-01-01", "2999-01-01", "1984-02-30", "2026-W05-3",
         " 1984-09-30"]
AMOUNTS = ["", "0.00", "12.50", "7", "-4.50", "12.345", "1e2", "9999999999.99", "10000000000.00", ".5", "+3",
           "0012.30", "-0.00", " 12.50 ", "1,000.00", "5."]
BOOLS = ["", "true", "TRUE", "yes", "0", "n", " y ", "maybe", "X"]
USUAL = {
    "external_id": ["G1", "PMS-1", " G1 ", "DX/1042", ""],
    "first_name": ["Ana", "Zoë", "O'Brien", "Ана", ""],
    "last_name": ["Reyes", "Núñez", "李", "\\N", "NULL"],
    "date_of_birth": DATES,
    "email": ["", "ana@example.com", "o'brien+x@example.com", "ANA@EXAMPLE.COM", "ana@", "a b@example.com",
              "ana@example.com\n", "first.last@example.co.uk", "a..b@example.com"],
    "mobile_phone": ["", "(312) 555-0142", "+44 20 7946 0958", "+13125550142", "12", "+19995550100",
                     "\uff13\uff11\uff12\uff15\uff15\uff15\uff10\uff11\uff14\uff12"],
    "home_phone": ["", "312.555.0142", "+1 773 555 0187"],
    "time_zone": ["", "America/Chicago", "Mars/Olympus", " America/Denver ", "america/chicago"],
    "guarantor_external_id": ["", "G1", "OTHER"],
    "consent_email": BOOLS, "consent_sms": BOOLS, "consent_voice": BOOLS, "paperless": BOOLS,
    "do_not_recall": BOOLS,
    "last_visit_on": DATES,
    "balance_total": AMOUNTS, "balance_amount_due": AMOUNTS, "aging_current": AMOUNTS, "aging_31_60": AMOUNTS,
    "aging_61_90": AMOUNTS, "aging_91_120": AMOUNTS, "aging_over_120": AMOUNTS,
    "in_collections": BOOLS, "on_payment_plan": BOOLS,
    "outstanding_claims": ["", "0", "7", "-1", "2.5", "2147483647", "2147483648", "007", "+2"],
    "balance_as_of": ["", "2026-02-02T08:00:00Z", "2026-02-02", "yesterday", "2026-02-02T08:00:00-06:00",
                      "1900-01-01T00:00:00+14:00"],
}
BALANCE_COLUMNS = ["balance_total", "balance_amount_due", "aging_current", "aging_31_60", "aging_61_90",
                   "aging_91_120", "aging_over_120", "in_collections", "on_payment_plan",
                   "outstanding_claims", "balance_as_of"]
# Where a CSV column's value goes in the JSON record.
JSON_PATH = {name: (name,) for name in CSV_COLUMN_NAMES}
JSON_PATH.update({f"consent_{c}": ("consents", c) for c in ("email", "sms", "voice")})
JSON_PATH.update(paperless=("consents", "paperless"), balance_total=("balance", "total"),
                 balance_amount_due=("balance", "amount_due"), in_collections=("balance", "in_collections"),
                 on_payment_plan=("balance", "on_payment_plan"),
                 outstanding_claims=("balance", "outstanding_claims"), balance_as_of=("balance", "as_of"),
                 aging_current=("balance", "aging", "current"), aging_31_60=("balance", "aging", "d31_60"),
                 aging_61_90=("balance", "aging", "d61_90"), aging_91_120=("balance", "aging", "d91_120"),
                 aging_over_120=("balance", "aging", "over_120"))
JSON_NAME = {".".join(path): column for column, path in JSON_PATH.items()}
JSON_NAME["balance"] = "balance_total"  # "only a guarantor has a balance": the whole balance


# A guarantor as a PMS usually sends one, and as a dependent with no balance.
GUARANTOR = {"external_id": "G1", "first_name": "Ana", "last_name": "Reyes", "date_of_birth": "1984-09-30",
             "email": "ana@example.com", "mobile_phone": "(312) 555-0142", "home_phone": "",
             "time_zone": "America/Chicago", "guarantor_external_id": "", "consent_email": "true",
             "consent_sms": "yes", "consent_voice": "0", "paperless": "", "do_not_recall": "false",
             "last_visit_on": "2026-01-10", "balance_total": "10.00", "balance_amount_due": "5.00",
             "aging_current": "5.00", "aging_31_60": "5.00", "aging_61_90": "", "aging_91_120": "",
             "aging_over_120": "", "in_collections": "", "on_payment_plan": "true", "outstanding_claims": "2",
             "balance_as_of": "2026-02-02T08:00:00Z"}
DEPENDENT = {**GUARANTOR, "external_id": "K1", "guarantor_external_id": "G1",
             **dict.fromkeys(BALANCE_COLUMNS, "")}


# The edges of each kind of value: where a check that parses but does not bound would fail.
TEXT_EDGES = ("a\x00b", "A\r\nB", "x\u202ey", "\x1b[2J", "z\u2066", "\ud800")
DAY_EDGES = ("0001-01-01", "9999-12-31", "1899-12-31")
AMOUNT_EDGES = ("1e999999999", "9" * 40 + ".00", "NaN", "-Infinity", "\uff11\uff12.50", "10000000000.00",
                "1E+2", "0.001")
PHONE_EDGES = ("312 555 0142\x00", "\u202e3125550142", "+1" + "9" * 30)
EDGES = {
    **dict.fromkeys(["date_of_birth", "last_visit_on"], DAY_EDGES),
    **dict.fromkeys(BALANCE_COLUMNS[:7], AMOUNT_EDGES),
    "outstanding_claims": (str(2**31), str(2**63), str(2**64), "9" * 25, "\uff17", "1e3"),
    "balance_as_of": ("0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00Z",
                      "9999-12-31T23:59:59Z", "2026-02-02T08:00:00+23:59", "1899-12-31T23:00:00-05:00"),
    **dict.fromkeys(["mobile_phone", "home_phone"], PHONE_EDGES),
    "email": ("o'brien+x@example.com", "ana\x00@example.com", "ana@exa\u202emple.com", "a@b.c" * 60),
}


def _value(column):
    return st.one_of(st.sampled_from(USUAL[column]), st.sampled_from(EDGES.get(column, TEXT_EDGES)),
                     st.sampled_from(HOSTILE), st.text(max_size=12))


# A usual row with one to three of its cells changed to usual, odd or hostile values.
rows = st.builds(lambda base, changes: {**base, **changes},
                 st.sampled_from([GUARANTOR, GUARANTOR, DEPENDENT]),
                 st.lists(st.sampled_from(CSV_COLUMN_NAMES), min_size=1, max_size=3, unique=True).flatmap(
                     lambda columns: st.fixed_dictionaries({c: _value(c) for c in columns})))


def _as_json(row: dict) -> dict:
    """The same values as the API would carry them, each as text; empty cells left out."""
    record: dict = {}
    for column, value in row.items():
        if value == "":
            continue
        target = record
        *parents, last = JSON_PATH[column]
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
    return record


def _copy_line(row: tuple) -> str:
    out = io.StringIO()
    copy_csv_writer(out).writerow(row)
    return out.getvalue()


def test_the_api_and_a_csv_file_accept_and_refuse_the_same_values():
    outcomes = []

    @EXAMPLES
    @given(row=rows)
    def check(row):
        csv_record, csv_errors = record_from_csv(row)
        json_record, json_errors = record_from_json(_as_json(row))
        assert (csv_record is None) == bool(csv_errors) and (json_record is None) == bool(json_errors)
        assert json_record == csv_record
        assert {JSON_NAME[e.field] for e in json_errors} == {e.field for e in csv_errors}
        assert all(e.message for e in csv_errors + json_errors)
        assert (csv_record, csv_errors) == record_from_csv_checked(row)
        assert (json_record, json_errors) == record_from_json_checked(_as_json(row))
        outcomes.append(csv_record is not None)

    check()
    assert outcomes.count(True) > 50 and outcomes.count(False) > 50, outcomes.count(True)


def test_the_straight_to_copy_line_is_the_full_checks_or_left_to_it():
    quick_rows = []

    @EXAMPLES
    @given(row=rows, shuffle=st.randoms(use_true_random=False))
    def check(row, shuffle):
        columns = list(row)
        shuffle.shuffle(columns)
        record, errors = record_from_csv_checked(row)
        try:
            quick = csv_copy_row_reader(columns)(7, [row[c] for c in columns])
        except LEFT_TO_FULL_CHECK:
            return
        assert record is not None, errors
        assert _copy_line(quick) == _copy_line((7, *copy_row(record)))
        quick_rows.append(row)

    check()
    assert len(quick_rows) > 50


def _any_json(depth=2):
    scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
                        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
                        st.sampled_from(HOSTILE))
    if depth == 0:
        return scalars
    return st.one_of(scalars, st.lists(_any_json(depth - 1), max_size=2),
                     st.dictionaries(st.text(max_size=8), _any_json(depth - 1), max_size=2))


AGING_KEYS = ("current", "d31_60", "d61_90", "d91_120", "over_120")


def _json_field(name):
    return st.one_of(_any_json(1), st.sampled_from(USUAL.get(name, [""])))


json_records = st.fixed_dictionaries(
    {"external_id": _json_field("external_id"), "first_name": _json_field("first_name"),
     "last_name": _json_field("last_name")},
    optional={
        **{name: _json_field(name) for name in ("date_of_birth", "email", "mobile_phone", "home_phone",
                                                "time_zone", "guarantor_external_id", "do_not_recall",
                                                "last_visit_on")},
        "consents": st.one_of(_any_json(1), st.fixed_dictionaries({}, optional={
            key: _any_json(0) for key in ("email", "sms", "voice", "paperless")})),
        "balance": st.one_of(_any_json(1), st.fixed_dictionaries(
            {"total": _json_field("balance_total")},
            optional={"amount_due": _any_json(0), "outstanding_claims": _any_json(0),
                      "as_of": _json_field("balance_as_of"), "in_collections": _any_json(0),
                      "aging": st.one_of(_any_json(1), st.fixed_dictionaries({}, optional={
                          key: _any_json(0) for key in AGING_KEYS}))})),
        "unknown": _any_json(0),
    })


@EXAMPLES
@given(record=st.one_of(json_records, _any_json()))
def test_any_json_value_is_accepted_or_refused_by_field_never_raised(record):
    accepted, errors = record_from_json(record)
    assert (accepted is None) == bool(errors)
    assert (accepted, errors) == record_from_json_checked(record)


class _Undo(Exception):
    pass


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["copy", "orm"])
def test_what_the_checks_accept_is_stored_and_read_back_the_same(world, method):
    stored_count = []

    @settings(max_examples=80, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(item=st.one_of(rows.map(_as_json), rows.map(_as_json), json_records))
    def store(item):
        record, _ = record_from_json({**item, "guarantor_external_id": ""})  # a guarantor keeps a balance
        if record is None:
            return
        try:
            with transaction.atomic():
                patients_upsert(practice=world.practice_a, records=[record], method=method)
                stored = patient_get_by_external_id(practice=world.practice_a, external_id=record.external_id)
                assert record_from_json(record_to_json(stored)) == (record, [])
                stored_count.append(1)
                raise _Undo
        except _Undo:
            pass

    store()
    assert len(stored_count) >= 10
