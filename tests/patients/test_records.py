"""The record checks: the fast path for usual CSV rows agrees with the full check."""

import itertools

import pytest

from patients.records import (
    CSV_COLUMN_NAMES,
    LEFT_TO_FULL_CHECK,
    FieldInvalid,
    clean_phone,
    record_from_csv,
    record_from_csv_checked,
)
from patients.records.csv_format import _csv_fast

BASE = {"external_id": "G1", "first_name": "Ana", "last_name": "Reyes", "date_of_birth": "1984-09-30",
        "email": "ana@example.com", "mobile_phone": "(312) 555-0142", "home_phone": "",
        "time_zone": "America/Chicago", "guarantor_external_id": "", "consent_email": "true",
        "consent_sms": "yes", "consent_voice": "0", "paperless": "", "do_not_recall": "false",
        "last_visit_on": "2026-01-10", "balance_total": "10.00", "balance_amount_due": "5",
        "aging_current": "5.00", "aging_31_60": "5", "aging_61_90": "", "aging_91_120": "",
        "aging_over_120": "", "in_collections": "", "on_payment_plan": "true", "outstanding_claims": "2",
        "balance_as_of": "2026-02-02T08:00:00Z"}
ODD_VALUES = {
    "external_id": ["", " G1 ", "x" * 65], "first_name": ["", "\u00a0Ana\u00a0", "Ана"],
    "date_of_birth": ["", "1984-9-30", "1899-12-31", "2999-01-01", "1984-02-30", "19840930"],
    "email": ["", "ANA@EXAMPLE.COM", "ana@", "a b@example.com"],
    "mobile_phone": ["", "+1 312 555 0142", "+44 20 7946 0958", "12", "999-555-0100"],
    "time_zone": ["", "Mars/Olympus", " America/Denver "],
    "guarantor_external_id": ["", "G1", "OTHER"], "consent_sms": ["", "TRUE", "maybe", " n "],
    "balance_total": ["", "1e2", "12.345", "-4.50", "abc", "1,000.00"],
    "aging_61_90": ["", "3.5", "x"], "outstanding_claims": ["", "-1", "2.5", "7"],
    "balance_as_of": ["", "2026-02-02", "2026-02-02 08:00", "yesterday"],
}


def _variants():
    for column, values in ODD_VALUES.items():
        for value in values:
            yield {**BASE, column: value}
    for a, b in itertools.combinations(["guarantor_external_id", "balance_total", "in_collections"], 2):
        yield {**BASE, a: "OTHER" if a == "guarantor_external_id" else "", b: ""}


@pytest.mark.parametrize("row", list(_variants()))
def test_the_fast_path_accepts_only_what_the_full_check_accepts_and_stores_the_same(row):
    checked = record_from_csv_checked(row)
    try:
        fast = _csv_fast(row)
    except LEFT_TO_FULL_CHECK:
        fast = None
    if fast is not None:
        assert checked == (fast, [])
    assert record_from_csv(row) == checked


def test_every_template_column_is_read():
    assert set(BASE) == set(CSV_COLUMN_NAMES)


@pytest.mark.parametrize(("given", "stored"), [
    ("(312) 555-0142", "+13125550142"), ("312.555.0142", "+13125550142"), ("+1 773 555 0187", "+17735550187"),
    ("+44 20 7946 0958", "+442079460958"),
])
def test_phones_are_stored_in_e164(given, stored):
    assert clean_phone(given) == stored


@pytest.mark.parametrize("bad", ["12", "+1 999 555 0100", "call me", "(312) 055-0142x"])
def test_impossible_phones_are_refused(bad):
    with pytest.raises(FieldInvalid):
        clean_phone(bad)


JSON_BASE = {
    "external_id": "G1", "first_name": "Ana", "last_name": "Reyes", "date_of_birth": "1984-09-30",
    "email": "Ana@Example.com", "mobile_phone": "(312) 555-0142", "home_phone": None,
    "time_zone": "America/Chicago", "guarantor_external_id": None,
    "consents": {"email": True, "sms": False, "voice": False, "paperless": True},
    "do_not_recall": False, "last_visit_on": "2026-01-10",
    "balance": {"total": "10.00", "amount_due": "5.00", "aging": {"current": "5.00", "d31_60": "5.00"},
                "in_collections": False, "on_payment_plan": True, "outstanding_claims": 1,
                "as_of": "2026-02-02T08:00:00Z"},
}
JSON_ODD = {
    "external_id": [None, 7, " G1 "], "first_name": [None, "", 3], "email": [None, "x@", 5],
    "date_of_birth": [None, 19840930, "1984-02-30"], "mobile_phone": [None, 3125550142, "12"],
    "guarantor_external_id": ["G1", "OTHER", 5], "do_not_recall": [None, "true", 1, "nope"],
    "consents": [None, [], "all", {"email": "yes"}, {"sms": None}],
    "balance": [None, {}, {"total": 10}, {"total": 10.5}, {"total": "1", "aging": {"d1": "1"}},
                {"total": "1", "extra": 1}, {"total": "1", "aging": []},
                {"total": "1", "outstanding_claims": "2"}],
    "unknown_field": ["x"],
    "last_visit_on": [None, "", " ", "2026-W05-3", "\u0662026-01-10", "2999-01-01", "2026-01-10 "],
    "home_phone": ["", "+13125550142", "+19995550100", " +13125550142", "+44 20 7946 0958"],
    "time_zone": ["", None, " America/Chicago", 5],
}
JSON_ODD["email"] = [*JSON_ODD["email"], "", " ana@example.com", "ANA@EXAMPLE.COM", "ana@example.com\n"]


def _json_variants():
    for key, values in JSON_ODD.items():
        for value in values:
            yield {**JSON_BASE, key: value}
    yield "not a record"
    yield {k: v for k, v in JSON_BASE.items() if k != "consents"}


@pytest.mark.parametrize("record", list(_json_variants()))
def test_the_json_fast_path_agrees_with_the_full_check(record):
    from patients.records import record_from_json, record_from_json_checked
    from patients.records.json_format import _json_fast

    checked = record_from_json_checked(record)
    try:
        fast = _json_fast(record)
    except LEFT_TO_FULL_CHECK:
        fast = None
    if fast is not None:
        assert checked == (fast, [])
    assert record_from_json(record) == checked


@pytest.mark.parametrize("text", ["12.50", "-4.50", "0.00", "-0.00", "9999999999.99", " 12.50 ", "12.5", "7"])
def test_amounts_are_stored_with_two_decimals_whichever_way_they_are_read(text):
    from decimal import Decimal

    from patients.records.fields import clean_amount

    stored = clean_amount(text)
    assert stored == Decimal(text.strip())
    assert stored.as_tuple().exponent == -2


@pytest.mark.parametrize("bad", ["10000000000.00", "12.345", "NaN", "12.5x"])
def test_amounts_out_of_range_or_badly_written_are_refused(bad):
    from patients.records.fields import clean_amount

    with pytest.raises(FieldInvalid):
        clean_amount(bad)


def test_an_as_of_time_read_twice_is_the_same_aware_time():
    from patients.records.fields import clean_datetime

    first = clean_datetime("2026-02-02T08:00:00-06:00")
    assert first == clean_datetime("2026-02-02T08:00:00-06:00")
    assert first.utcoffset().total_seconds() == 0 and first.hour == 14
    with pytest.raises(FieldInvalid):
        clean_datetime("yesterday")
    with pytest.raises(FieldInvalid):
        clean_datetime("yesterday")  # a refusal is not remembered as a value


# Values the straight-to-COPY path must not pass on as text PostgreSQL would read otherwise.
COPY_ODD = {
    **ODD_VALUES,
    "date_of_birth": [*ODD_VALUES["date_of_birth"], "2026-W05-3", "\u0661\u0669\u0668\u0664-09-30",
                      " 1984-09-30"],
    "last_visit_on": ["", "2026-01-10 ", "2999-01-01", "0001-01-01", "0000-01-01"],
    "balance_total": [*ODD_VALUES["balance_total"], "\u0661\u0662.50", "12.30", "0012.30"],
    "outstanding_claims": [*ODD_VALUES["outstanding_claims"], "\u0663", "007", "99999999999"],
    "mobile_phone": [*ODD_VALUES["mobile_phone"], "+13125550142", "+19995550100", "+1312555014\u0662",
                     " +13125550142"],
    "consent_email": ["True", "YES", "Yes", "yEs", " y ", "X", "x", "0", "maybe"],
    "email": [*ODD_VALUES["email"], " ana@example.com", "ana@example.com\n", "Ana@Example.COM"],
    "time_zone": [*ODD_VALUES["time_zone"], "america/chicago"],
    "balance_as_of": [*ODD_VALUES["balance_as_of"], "2026-02-02T08:00:00-06:00"],
}


# BASE with amounts as a PMS usually writes them, so that most variants take the quick path.
COPY_BASE = {**BASE, "balance_amount_due": "5.00", "aging_31_60": "5.00"}


def _copy_variants():
    for column, values in COPY_ODD.items():
        for value in values:
            yield {**COPY_BASE, column: value}
    yield {**COPY_BASE, "guarantor_external_id": "OTHER", "balance_total": "", "balance_amount_due": "",
           "aging_current": "", "aging_31_60": "", "on_payment_plan": "", "outstanding_claims": "",
           "balance_as_of": ""}


def _copy_line(row: tuple) -> str:
    import io

    from patients.upsert import copy_csv_writer

    out = io.StringIO()
    copy_csv_writer(out).writerow(row)
    return out.getvalue()


@pytest.mark.parametrize("row", list(_copy_variants()))
@pytest.mark.parametrize("order", ["template", "shuffled"])
def test_the_straight_to_copy_path_writes_what_the_full_check_stores(row, order):
    """Either the row goes to the full check, or its COPY line is the full check's, byte for byte."""
    import random

    from patients.records import csv_copy_row_reader
    from patients.upsert import copy_row

    columns = list(row)
    if order == "shuffled":
        random.Random(5).shuffle(columns)
        columns = [c for c in columns if row[c] or c in ("external_id", "first_name", "last_name")]
    values = [row[c] for c in columns]
    record, errors = record_from_csv_checked({c: row[c] for c in columns})
    try:
        fast = csv_copy_row_reader(columns)(7, values)
    except LEFT_TO_FULL_CHECK:
        return
    assert record is not None, (fast, errors)
    assert _copy_line(fast) == _copy_line((7, *copy_row(record)))



def test_the_comparison_above_is_not_vacuous():
    from patients.records import csv_copy_row_reader

    quick = 0
    for row in _copy_variants():
        try:
            csv_copy_row_reader(list(row))(7, list(row.values()))
        except LEFT_TO_FULL_CHECK:
            continue
        quick += 1
    assert quick >= len(list(_copy_variants())) // 3


def test_the_collector_resumes_after_a_batch_even_when_it_fails_and_stays_off_if_it_was_off():
    import gc

    from patients.records import collector_paused

    assert gc.isenabled()
    with pytest.raises(ValueError), collector_paused():
        assert not gc.isenabled()
        raise ValueError
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
