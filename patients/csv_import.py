"""Reading an uploaded patient CSV file: encoding, header, rows, streamed.

The file is never held in memory: rows are validated and handed on one at a time. On
PostgreSQL the check also writes each valid row as a COPY line, which the import loads as it is;
elsewhere the import reads the file again.
"""

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .guarantor_links import GuarantorLinks
from .records import (
    CSV_COLUMN_NAMES,
    CSV_REQUIRED,
    LEFT_TO_FULL_CHECK,
    UNSAFE_TEXT,
    PatientRecord,
    collector_paused,
    csv_copy_row_reader,
    record_from_csv,
    record_from_csv_checked,
)
from .upsert import copy_csv_writer, copy_row

PREVIEW_ROWS = 10
KEPT_ERRORS = 500
FLUSH_CHARS = 1 << 20
_OTHER_BOMS = [
    (codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"),
]
SAVE_AS = ("Save it as \u201cCSV UTF-8\u201d in your spreadsheet (or export it again as UTF-8) and "
           "upload it again.")


class FileRefused(Exception):
    """The whole file is refused: the message says why and what to do."""


class _CountingReader(io.RawIOBase):
    """Counts the bytes read from a binary file, for a progress bar."""

    def __init__(self, raw):
        self.raw = raw
        self.bytes_read = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.bytes_read += n
        return n


@dataclass
class CsvRow:
    number: int  # the line's row number in the file (the header is row 1)
    values: dict


def csv_lines(binary, *, on_bytes: Callable[[int], None] | None = None, columns=CSV_COLUMN_NAMES,
              required=CSV_REQUIRED, noun: str = "patient") -> Iterator:
    """A UTF-8 CSV file (with or without BOM): first its checked header's columns, then
    (row number, values) for each line that is not blank; a line may have the wrong width.

    `columns` are those a header may name, `required` those it must; `noun` names a row in
    messages. Raises FileRefused for another encoding, a missing or wrong header, or no rows.
    """
    start = binary.read(4)
    for bom, name in _OTHER_BOMS:
        if start.startswith(bom):
            raise FileRefused(f"The file is encoded as {name}; only UTF-8 is accepted. {SAVE_AS}")
    binary.seek(0)
    counter = _CountingReader(binary)
    text = io.TextIOWrapper(io.BufferedReader(counter, 65536), encoding="utf-8-sig", errors="strict",
                            newline="")
    reader = csv.reader(text)
    number = 1
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)  # blank lines before the header
        if header is None:
            raise FileRefused(f"The file is empty: it has no header row and no {noun}s. Download the "
                              "template to see the columns.")
        yield _check_header(header, columns, required)
        any_rows = False
        for values in reader:
            number = reader.line_num
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            any_rows = True
            yield number, values
            if on_bytes and number % 1000 == 0:
                on_bytes(counter.bytes_read)
        if not any_rows:
            raise FileRefused(f"The file has a header but no {noun} rows.")
    except UnicodeDecodeError:
        raise FileRefused(f"The file is not UTF-8 text (the first bad character is near row {number + 1}); "
                          f"only UTF-8 is accepted. {SAVE_AS}") from None
    except csv.Error as exc:
        raise FileRefused(f"The file is not a readable CSV file near row {number + 1}: {exc}.") from None


def _width_problem(values: list, width: int) -> str:
    return f"has {len(values)} values; the header has {width} columns"


def csv_rows(binary, *, on_bytes: Callable[[int], None] | None = None, **header) -> Iterator[CsvRow]:
    """Rows of a UTF-8 CSV file (with or without BOM), each as column -> text (`header`: the
    columns, required and noun of csv_lines).

    Raises FileRefused for another encoding, a missing or wrong header, or no rows at all.
    """
    lines = csv_lines(binary, on_bytes=on_bytes, **header)
    columns = next(lines)
    width = len(columns)
    for number, values in lines:
        if len(values) != width:
            yield CsvRow(number, {"__width__": _width_problem(values, width)})
        else:
            yield CsvRow(number, dict(zip(columns, values, strict=True)))


def _check_header(header: list[str], known, required) -> list[str]:
    columns = [cell.strip().lower() for cell in header]
    unknown = [c for c in columns if c not in known]
    missing = [c for c in required if c not in columns]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    problems = []
    if missing:
        problems.append("missing required columns: " + ", ".join(missing))
    if unknown:
        problems.append("unknown columns: " + ", ".join(repr(c) for c in unknown))
    if repeated:
        problems.append("repeated columns: " + ", ".join(repeated))
    if problems:
        raise FileRefused("The header row is not the template's: " + "; ".join(problems)
                          + ". Download the template to see the columns.")
    return columns


@dataclass
class ValidationReport:
    total_rows: int = 0
    valid_rows: int = 0
    error_count: int = 0
    errors: list = field(default_factory=list)  # the first KEPT_ERRORS: {row, field, message}
    rejected_rows: list = field(default_factory=list)  # every rejected row number, ascending
    preview: list = field(default_factory=list)  # {row, values: [...], valid}

    def finish(self, rejected: dict[int, list]) -> "ValidationReport":
        """Count and keep the rejections ({row number: [(field, message), ...]}) of a checked
        file whose total_rows and preview are set."""
        self.rejected_rows = sorted(rejected)
        self.valid_rows = self.total_rows - len(rejected)
        for number in self.rejected_rows:
            for field_name, message in rejected[number]:
                self.error_count += 1
                if len(self.errors) < KEPT_ERRORS:
                    self.errors.append({"row": number, "field": field_name, "message": message})
        for item in self.preview:
            item["valid"] = item["row"] not in rejected
        return self


def csv_validate(binary, *, practice, on_bytes=None, normalized=None) -> ValidationReport:
    """Check every row of the file; raises FileRefused when the file as a whole is refused.

    With `normalized` (a text file), each row that passes its own checks is also written there
    as a CSV line for PostgreSQL's COPY, led by its row number, for the import to load as it is.
    """
    with collector_paused():
        return _csv_validate(binary, practice=practice, on_bytes=on_bytes, normalized=normalized)


def _csv_validate(binary, *, practice, on_bytes, normalized) -> ValidationReport:
    # Checked rows are written to memory and passed on to the file by the megabyte: the
    # csv module writing straight into a text file costs about twice as much a row.
    buffer = io.StringIO()
    writerow = copy_csv_writer(buffer).writerow
    report = ValidationReport()
    links = GuarantorLinks(practice=practice, where="row")
    rejected: dict[int, list] = {}

    def reject(number, field_name, message):
        rejected.setdefault(number, []).append((field_name, message))

    lines = csv_lines(binary, on_bytes=on_bytes)
    columns = next(lines)
    width = len(columns)
    # The usual row goes from the file's values to its COPY line in one step; anything unusual
    # (or wrong) goes to the full check, which decides and names every problem.
    fast = csv_copy_row_reader(columns)
    add = links.add_ids
    id_at = columns.index("external_id")
    total = 0
    for number, values in lines:
        total += 1
        if total <= PREVIEW_ROWS:
            shown = dict(zip(columns, values, strict=True)) if len(values) == width else {}
            # As read, but without the characters a row is refused for (NUL cannot even be stored).
            report.preview.append({"row": number, "values": [UNSAFE_TEXT.sub("\ufffd", shown.get(c, ""))
                                                             for c in CSV_COLUMN_NAMES]})
        if len(values) != width:
            reject(number, "", _width_problem(values, width))
            continue
        try:
            row = fast(number, values)
        except LEFT_TO_FULL_CHECK:
            record, errors = record_from_csv_checked(dict(zip(columns, values, strict=True)))
            if record is None:
                links.add_rejected(number, values[id_at])
                for error in errors:
                    reject(number, error.field, error.message)
                continue
            row = (number, *copy_row(record))
        duplicate = add(number, row[1], row[14])
        if duplicate:
            reject(number, duplicate.field, duplicate.message)
        elif normalized is not None:
            writerow(row)
            if buffer.tell() > FLUSH_CHARS:
                normalized.write(buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()
    if normalized is not None:
        normalized.write(buffer.getvalue())
    report.total_rows = total
    for rejection in links.finish():
        reject(rejection.index, rejection.field, rejection.message)
    return report.finish(rejected)


class RowsChanged(Exception):
    """The file no longer validates as it did when it was checked."""


def csv_records(binary, *, rejected_rows: list[int]) -> Iterator[PatientRecord]:
    """The records of the rows that passed validation, in file order."""
    skip = set(rejected_rows)
    for row in csv_rows(binary):
        if row.number in skip:
            continue
        record = record_from_csv(row.values)[0] if "__width__" not in row.values else None
        if record is None:
            raise RowsChanged(f"row {row.number} no longer validates")
        yield record
