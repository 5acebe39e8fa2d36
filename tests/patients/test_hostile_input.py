"""Hostile values in patient records: each is refused by name, through the API's `rejected` and
the CSV file's errors alike, the valid records beside it still apply, and nothing answers 500."""

import copy
import csv
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from patients.models import ImportStatus, Patient, PatientImport
from patients.records import CSV_COLUMN_NAMES
from practices.services import api_key_create
from tests.patients.records import family

pytestmark = pytest.mark.django_db

BIDI_OVERRIDE = "\u202e"
# (the field as the API names it, its CSV column, the value, a word of the expected message)
HOSTILE = [
    ("balance.outstanding_claims", "outstanding_claims", 10**19, "more than 2,147,483,647"),
    ("balance.outstanding_claims", "outstanding_claims", 2**63, "more than 2,147,483,647"),
    ("balance.outstanding_claims", "outstanding_claims", 2**31, "more than 2,147,483,647"),
    ("balance.outstanding_claims", "outstanding_claims", "99999999999999999999", "more than"),
    ("balance.outstanding_claims", "outstanding_claims", "\uff17", "not a whole number"),
    ("balance.total", "balance_total", "1e999999999", "not an amount"),
    ("balance.total", "balance_total", "9" * 40 + ".00", "more than 9,999,999,999.99"),
    ("balance.total", "balance_total", "\uff11\uff12.50", "not an amount"),
    ("balance.amount_due", "balance_amount_due", "NaN", "not an amount"),
    ("balance.aging.d61_90", "aging_61_90", "-Infinity", "not an amount"),
    ("balance.as_of", "balance_as_of", "0001-01-01T00:00:00+05:00", "before 1900"),
    ("balance.as_of", "balance_as_of", "9999-12-31T23:59:59-05:00", "in the future"),
    ("balance.as_of", "balance_as_of", "0001-01-01T00:00:00Z", "before 1900"),
    ("last_visit_on", "last_visit_on", "0001-01-01", "before 1900"),
    ("last_visit_on", "last_visit_on", "9999-12-31", "in the future"),
    ("date_of_birth", "date_of_birth", "0001-01-01", "before 1900"),
    ("first_name", "first_name", "Ana\x00", "U+0000"),
    ("last_name", "last_name", "Re\r\nyes", "U+000D"),
    ("last_name", "last_name", "Reyes\nDROP", "U+000A"),
    ("external_id", "external_id", "G1\x1b[2J", "U+001B"),
    ("first_name", "first_name", f"Ana{BIDI_OVERRIDE}gpj.exe", "U+202E"),
    ("last_name", "last_name", "Re\u2066yes", "U+2066"),
    ("home_phone", "home_phone", "+1 312 555 0142\x1b", "U+001B"),
    ("email", "email", "ana\x00@example.test", "U+0000"),
    ("email", "email", f"ana{BIDI_OVERRIDE}@example.test", "U+202E"),
    ("email", "email", "ana(x)@example.test", "not an email address"),
    ("time_zone", "time_zone", "America/Chicago\x00", "U+0000"),
]


def _set(record: dict, path: str, value):
    *parents, last = path.split(".")
    for key in parents:
        record = record.setdefault(key, {})
    record[last] = value


@pytest.fixture
def key_a(world):
    return api_key_create(practice=world.practice_a, label="PMS")[1]


@pytest.mark.parametrize(("field", "column", "value", "message"), HOSTILE)
def test_the_api_refuses_a_hostile_value_by_name_and_applies_the_rest(client, world, key_a, field, column,
                                                                      value, message):
    records = family("F1") + family("F2")
    records[2] = copy.deepcopy(records[2])
    _set(records[2], field, value)  # F1's guarantor
    response = client.post("/api/v1/patients/bulk", {"patients": records}, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key_a}")
    assert response.status_code == 200, response.content
    body = response.json()
    mine = [r for r in body["rejected"] if r["index"] == 2]
    assert [r["field"] for r in mine] == [field], body["rejected"]
    assert message in mine[0]["message"]
    assert body["created"] == 3  # F2's family
    assert not Patient.objects.filter(external_id__startswith="F1-").exists()


def test_a_json_number_too_large_for_a_double_is_refused_in_its_field(client, world, key_a):
    body = ('{"patients": [{"external_id": "G1", "first_name": "Ana", "last_name": "Reyes", '
            '"balance": {"total": 1e999999999, "outstanding_claims": 18446744073709551616}}]}')
    response = client.post("/api/v1/patients/bulk", body, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key_a}")
    assert response.status_code == 200, response.content
    fields = [r["field"] for r in response.json()["rejected"]]
    assert fields == ["balance.total", "balance.outstanding_claims"]


@pytest.mark.parametrize("path", ["%00", "a%00b", "%E2%80%AE", "x" * 3000])
def test_reading_a_patient_by_an_id_no_record_can_have_is_a_json_404(client, world, key_a, path):
    response = client.get(f"/api/v1/patients/{path}", HTTP_AUTHORIZATION=f"Bearer {key_a}")
    assert response.status_code == 404
    assert "No patient with external_id" in response.json()["detail"]


@pytest.mark.parametrize("email", ["o'brien+x@example.com", "first.last@example.co.uk", "zoë@example.com"])
def test_valid_unusual_email_addresses_are_accepted(client, world, key_a, email):
    record = {"external_id": "G1", "first_name": "Ana", "last_name": "O'Brien", "email": email}
    response = client.post("/api/v1/patients/bulk", {"patients": [record]}, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key_a}")
    assert response.json()["rejected"] == []
    assert Patient.objects.get(external_id="G1").email == email


def test_full_width_digits_in_a_phone_are_stored_as_ascii(client, world, key_a):
    record = {"external_id": "G1", "first_name": "Ana", "last_name": "Reyes",
              "mobile_phone": "(\uff13\uff11\uff12) \uff15\uff15\uff15-\uff10\uff11\uff14\uff12"}
    client.post("/api/v1/patients/bulk", {"patients": [record]}, content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {key_a}")
    assert Patient.objects.get(external_id="G1").mobile_phone == "+13125550142"


# --- the same values in a CSV file ---

@pytest.fixture
def admin(client_of, world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return client_of(world.admin_ab, office="lakeside")


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMN_NAMES)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


GOOD_ROW = {"external_id": "G2", "first_name": "Bo", "last_name": "Lind", "balance_total": "10.00"}


@pytest.mark.parametrize(("field", "column", "value", "message"), HOSTILE)
def test_the_csv_import_refuses_the_same_values_by_column_and_imports_the_rest(admin, world, field, column,
                                                                             value, message):
    hostile = {"external_id": "G1", "first_name": "Ana", "last_name": "Reyes", "balance_total": "5.00",
               column: str(value)}
    response = admin.post(reverse("patient_import"),
                          {"file": SimpleUploadedFile("p.csv", _csv([hostile, GOOD_ROW]), "text/csv")})
    assert response.status_code == 302
    imp = PatientImport.objects.latest("id")
    assert imp.status == ImportStatus.VALIDATED, (imp.status, imp.failure, imp.file_error)
    assert [e["field"] for e in imp.errors] == [column]
    assert message in imp.errors[0]["message"]
    admin.post(reverse("patient_import_confirm", args=[imp.pk]), {"mode": "valid"})
    imp.refresh_from_db()
    assert imp.status == ImportStatus.DONE
    assert list(Patient.objects.values_list("external_id", flat=True)) == ["G2"]


# --- imports that cannot finish end `failed`, by themselves or by the sweep ---

def test_an_import_stuck_checking_or_waiting_for_the_worker_is_failed_by_the_due_work(admin, world, settings):
    from practices.due_work import due_work_run

    settings.PATIENT_IMPORT_STUCK_SECONDS = 600
    long_ago = timezone.now() - timedelta(seconds=601)
    checking = PatientImport.objects.create(practice=world.practice_a, file="patient-imports/a.csv",
                                            original_name="a.csv")
    waiting = PatientImport.objects.create(practice=world.practice_a, file="patient-imports/b.csv",
                                           original_name="b.csv", status=ImportStatus.QUEUED, valid_rows=5)
    recent = PatientImport.objects.create(practice=world.practice_a, file="patient-imports/c.csv",
                                          original_name="c.csv", status=ImportStatus.QUEUED, valid_rows=5,
                                          confirmed_at=timezone.now())
    PatientImport.objects.filter(pk__in=[checking.pk, waiting.pk]).update(created_at=long_ago)
    PatientImport.objects.filter(pk=recent.pk).update(created_at=long_ago)  # confirmed just now

    summary = due_work_run()["patients.services.patient_imports_sweep"]

    assert summary == "2 stuck imports failed"
    checking.refresh_from_db()
    waiting.refresh_from_db()
    recent.refresh_from_db()
    assert checking.status == waiting.status == ImportStatus.FAILED
    assert "check did not finish within 10 minutes" in checking.failure
    assert "is the worker running" in waiting.failure and "Nothing was changed" in waiting.failure
    assert recent.status == ImportStatus.QUEUED
    page = admin.get(reverse("patient_import_detail", args=[waiting.pk])).content.decode()
    assert "is the worker running" in page and "every 1s" not in page
