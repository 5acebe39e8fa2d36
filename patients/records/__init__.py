"""The patient record the PMS sends (API and CSV), and its validation.

Both doors turn their input into the same `PatientRecord`, normalised the way it is stored
(E.164 phones, lower-cased email), so that comparing a record with the stored row in SQL tells
"updated" from "unchanged". Validation is per record: each problem is a `RecordError` naming the
field as the caller spelled it (`balance.aging.d31_60` in JSON, `aging_31_60` in a CSV file).

- `shape`: the record and its error;
- `fields`: one cleaner per kind of field (the rules), and the full check built from them;
- `quick`: the same rules for the usual value, written for speed; anything unusual is left to
  the full check, which decides and explains;
- `json_format` and `csv_format`: the two doors, each with a quick path and the full check;
- `gc_pause`: no cyclic garbage collection while a batch is checked.
"""

from .csv_format import (
    CSV_COLUMN_NAMES,
    CSV_COLUMNS,
    CSV_REQUIRED,
    csv_copy_row_reader,
    record_from_csv,
    record_from_csv_checked,
)
from .fields import UNSAFE_TEXT, FieldInvalid, clean_phone
from .gc_pause import collector_paused
from .json_format import record_from_json, record_from_json_checked, record_to_json
from .quick import LEFT_TO_FULL_CHECK, NotSimple
from .shape import BalanceRecord, PatientRecord, RecordError

__all__ = [
    "CSV_COLUMNS",
    "CSV_COLUMN_NAMES",
    "CSV_REQUIRED",
    "LEFT_TO_FULL_CHECK",
    "UNSAFE_TEXT",
    "BalanceRecord",
    "FieldInvalid",
    "NotSimple",
    "PatientRecord",
    "RecordError",
    "clean_phone",
    "collector_paused",
    "csv_copy_row_reader",
    "record_from_csv",
    "record_from_csv_checked",
    "record_from_json",
    "record_from_json_checked",
    "record_to_json",
]
