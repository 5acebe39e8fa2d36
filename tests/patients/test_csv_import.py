"""The CSV import through the portal's URLs: upload, check, preview, confirm, all or nothing."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from patients.models import ImportStatus, Patient, PatientImport
from patients.records import CSV_COLUMN_NAMES

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def csv_bytes(rows, header=None, *, bom=False, encoding="utf-8"):
    out = io.StringIO()
    writer = csv.writer(out)
    header = header or ["external_id", "first_name", "last_name", "email", "mobile_phone",
                        "guarantor_external_id", "balance_total", "aging_over_120"]
    writer.writerow(header)
    writer.writerows(rows)
    data = out.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


GOOD = [
    ["K1", "Mia", "Reyes", "", "", "G1", "", ""],
    ["G1", "Ana", "Reyes", "ana@example.test", "(312) 555-0142", "", "120.50", "20.00"],
    ["G2", "José", "Núñez", "", "773.555.0187", "G2", "", ""],
]


def upload(client, data, name="patients.csv"):
    return client.post(reverse("patient_import"), {"file": SimpleUploadedFile(name, data, "text/csv")})


@pytest.fixture
def admin(client_of, world):
    return client_of(world.admin_ab, office="lakeside")


def _last_import():
    return PatientImport.objects.latest("id")


def test_a_clean_file_is_checked_previewed_and_imported_all(admin, world):
    response = upload(admin, csv_bytes(GOOD, bom=True))
    imp = _last_import()
    assert response.status_code == 302
    assert response["Location"] == reverse("patient_import_detail", args=[imp.pk])
    assert imp.status == ImportStatus.VALIDATED
    assert (imp.total_rows, imp.valid_rows, imp.error_count) == (3, 3, 0)
    page = admin.get(response["Location"]).content.decode()
    assert "Import all 3 rows" in page and "Núñez" in page
    assert not Patient.objects.exists()  # nothing before the admin confirms
    admin.post(reverse("patient_import_confirm", args=[imp.pk]), {"mode": "all"})
    imp.refresh_from_db()
    assert imp.status == ImportStatus.DONE and (imp.created, imp.updated, imp.unchanged) == (3, 0, 0)
    kid = Patient.objects.get(practice=world.practice_a, external_id="K1")
    assert kid.guarantor.external_id == "G1" and kid.guarantor.balance.aging_over_120 == 20
    assert Patient.objects.get(external_id="G2").mobile_phone == "+17735550187"
    # The same file again: everything unchanged.
    upload(admin, csv_bytes(GOOD))
    again = _last_import()
    admin.post(reverse("patient_import_confirm", args=[again.pk]), {"mode": "all"})
    again.refresh_from_db()
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


def test_bad_values_are_listed_by_row_and_only_the_valid_rows_are_imported(admin, world):
    rows = [*GOOD,
            ["B1", "Bad", "Phone", "", "555-12", "", "", ""],
            ["B2", "Bad", "Email", "nope@", "", "", "", ""],
            ["B3", "Bad", "Amount", "", "", "", "12,50", ""],
            ["B4", "Orphan", "Kid", "", "", "NOBODY", "", ""],
            ["G1", "Twice", "Reyes", "", "", "", "", ""],
            ["B5", "Short", "Row"]]
    upload(admin, csv_bytes(rows))
    imp = _last_import()
    assert (imp.total_rows, imp.valid_rows) == (9, 3)
    errors = {(e["row"], e["field"]) for e in imp.errors}
    assert errors == {(5, "mobile_phone"), (6, "email"), (7, "balance_total"), (8, "guarantor_external_id"),
                      (9, "external_id"), (10, "")}
    page = admin.get(reverse("patient_import_detail", args=[imp.pk])).content.decode()
    assert "unknown guarantor &#x27;NOBODY&#x27;" in page and "Import the 3 valid rows" in page
    assert "Import all" not in page
    refused = admin.post(reverse("patient_import_confirm", args=[imp.pk]), {"mode": "all"}, follow=True)
    assert "errors remain" in refused.content.decode() and not Patient.objects.exists()
    admin.post(reverse("patient_import_confirm", args=[imp.pk]), {"mode": "valid"})
    imp.refresh_from_db()
    assert imp.status == ImportStatus.DONE
    assert set(Patient.objects.values_list("external_id", flat=True)) == {"K1", "G1", "G2"}
    assert Patient.objects.get(external_id="G1").first_name == "Ana"  # the repeated row was skipped
    # Confirming twice imports once.
    response = admin.post(reverse("patient_import_confirm", args=[imp.pk]), {"mode": "valid"}, follow=True)
    assert "not waiting for confirmation" in response.content.decode()


@pytest.mark.parametrize(("data", "expected"), [
    (csv_bytes(GOOD, header=["id", "first_name", "surname"] + [""] * 5),
     "missing required columns: external_id, last_name; unknown columns: 'id', 'surname'"),
    (csv_bytes(GOOD, encoding="latin-1"), "not UTF-8"),
    ("\ufeff".encode("utf-16-le") + csv_bytes(GOOD).decode().encode("utf-16-le"), "encoded as UTF-16"),
    (b"\n\n", "The file is empty"),
    (b"\xef\xbb\xbf", "The file is empty"),
    (",".join(CSV_COLUMN_NAMES).encode() + b"\r\n", "a header but no patient rows"),
])
def test_a_refused_file_gets_a_clear_message_and_changes_nothing(admin, world, data, expected):
    response = upload(admin, data)
    imp = _last_import()
    assert imp.status == ImportStatus.INVALID and expected in imp.file_error
    page = admin.get(response["Location"]).content.decode()
    assert "Nothing was imported" in page and "Import all" not in page
    assert admin.post(reverse("patient_import_confirm", args=[imp.pk]), {"mode": "valid"}).status_code == 302
    assert not Patient.objects.exists()


def test_a_zero_byte_upload_is_refused_on_the_form(admin, world):
    response = upload(admin, b"")
    assert response.status_code == 200
    assert "The file is empty (0 bytes)" in response.content.decode()
    assert not PatientImport.objects.exists()


def test_a_failed_import_changes_nothing(admin, world):
    """The guarantor a row names disappears between the check and the import: nothing applies."""
    stored = Patient.objects.create(practice=world.practice_a, external_id="OLD", first_name="O",
                                    last_name="G")
    stored.guarantor = stored
    stored.save()
    upload(admin, csv_bytes([*GOOD, ["K9", "Kid", "Of", "", "", "OLD", "", ""]]))
    imp = _last_import()
    assert imp.error_count == 0
    stored.delete()
    admin.post(reverse("patient_import_confirm", args=[imp.pk]), {"mode": "all"})
    imp.refresh_from_db()
    assert imp.status == ImportStatus.FAILED and "Nothing was changed" in imp.failure
    assert not Patient.objects.exists()


def test_staff_cannot_import_and_another_offices_import_is_404(client_of, world, admin):
    upload(admin, csv_bytes(GOOD))
    imp = _last_import()
    staff = client_of(world.staff_a)
    assert staff.get(reverse("patient_import")).status_code == 403
    c_admin = client_of(world.admin_c)
    assert c_admin.get(reverse("patient_import_detail", args=[imp.pk])).status_code == 404
    assert c_admin.post(reverse("patient_import_confirm", args=[imp.pk]), {"mode": "all"}).status_code == 404
    assert not Patient.objects.exists()


def test_the_template_downloads_with_every_column(admin):
    response = admin.get(reverse("patient_import_template"))
    assert response["Content-Disposition"] == 'attachment; filename="patients-template.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == CSV_COLUMN_NAMES and all(len(r) == len(CSV_COLUMN_NAMES) for r in rows)


@pytest.mark.worker
def test_a_large_file_is_checked_and_imported_by_the_worker_with_progress(
        client_of, world, settings, celery_worker, tmp_path):
    settings.PATIENT_IMPORT_INLINE_BYTES = 10
    settings.PATIENT_IMPORT_INLINE_ROWS = 10
    worker = celery_worker(env_overrides={"VAR_DIR": str(tmp_path)})  # MEDIA_ROOT is VAR_DIR/media
    from tests.conftest import wait_for

    admin = client_of(world.admin_ab, office="lakeside")
    rows = [[f"P{i}", "Pat", f"Number{i}", "", "", "", "", ""] for i in range(3000)]
    response = upload(admin, csv_bytes(rows))
    imp = _last_import()
    page = admin.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' in page or imp.status != ImportStatus.VALIDATING
    wait_for(lambda: PatientImport.objects.get(pk=imp.pk).status == ImportStatus.VALIDATED, timeout=60,
             message=f"validation by the worker\n{worker.log()}")
    assert admin.get(reverse("patient_import_progress", args=[imp.pk]), HTTP_HX_REQUEST="true")[
        "HX-Refresh"] == "true"
    admin.post(reverse("patient_import_confirm", args=[imp.pk]), {"mode": "all"})
    wait_for(lambda: PatientImport.objects.get(pk=imp.pk).status == ImportStatus.DONE, timeout=60,
             message=f"import by the worker\n{worker.log()}")
    assert Patient.objects.filter(practice=world.practice_a).count() == 3000


def test_awkward_text_survives_the_import_exactly(admin, world):
    names = ['O\'Brien, "Jr"', "Back\\slash\\t", "Semi;colon|pipe", "Zoë 李", "NULL", "\\N"]
    rows = [[f"W{i}", name, name, "", "", "", "", ""] for i, name in enumerate(names)]
    upload(admin, csv_bytes(rows))
    imp = _last_import()
    assert imp.error_count == 0, imp.errors
    admin.post(reverse("patient_import_confirm", args=[imp.pk]), {"mode": "all"})
    stored = dict(Patient.objects.filter(practice=world.practice_a).values_list("external_id", "first_name"))
    assert stored == {f"W{i}": name for i, name in enumerate(names)}


def test_a_file_that_cannot_be_read_ends_the_check_with_a_message(world):
    from patients.services import patient_import_validate

    lost = PatientImport.objects.create(practice=world.practice_a, file="patient-imports/gone.csv",
                                        original_name="gone.csv", size=10)
    checked = patient_import_validate(import_id=lost.pk)
    assert checked.status == ImportStatus.FAILED and "could not be checked" in checked.failure


def test_the_import_limits_are_settings_an_operator_sets_in_the_environment(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = ("from django.conf import settings as s; print(s.PATIENT_IMPORT_INLINE_BYTES, "
              "s.PATIENT_IMPORT_INLINE_ROWS, s.PATIENT_IMPORT_STUCK_SECONDS)")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.embedded", "VAR_DIR": str(tmp_path),
           "PATIENT_IMPORT_INLINE_BYTES": "5000", "PATIENT_IMPORT_INLINE_ROWS": "7"}
    result = subprocess.run([sys.executable, "manage.py", "shell", "--verbosity", "0", "-c", script],
                            cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["5000", "7", "3600"]
