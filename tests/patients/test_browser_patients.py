"""A practice admin imports a CSV file, then finds a patient and opens the guarantor."""


import pytest
from playwright.sync_api import expect

from tests.patients.test_csv_import import GOOD, csv_bytes
from tests.test_browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_upload_preview_errors_import_valid_rows_then_find_the_patient_and_guarantor(
        page, live_server, world, tmp_path):
    path = tmp_path / "from-pms.csv"
    path.write_bytes(csv_bytes([*GOOD, ["B1", "Bad", "Phone", "", "555-12", "", "", ""]], bom=True))
    sign_in(page, live_server, world.admin_ab.email, world.password)
    page.get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Import a CSV file").click()
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and check").click()

    expect(page.get_by_test_id("import-summary")).to_contain_text("4 rows: 3 valid, 1 error in 1 row")
    expect(page.get_by_test_id("import-errors")).to_contain_text("'555-12' is not a valid phone number")
    expect(page.get_by_test_id("import-preview")).to_contain_text("Núñez")
    expect(page.get_by_role("button", name="Import all")).to_have_count(0)
    page.get_by_role("button", name="Import the 3 valid rows").click()
    expect(page.get_by_test_id("import-result")).to_contain_text("Imported 3 new patients")

    page.get_by_role("link", name="See the patients").click()
    page.get_by_label("Search").fill("mia")  # htmx live search, no submit
    expect(page.locator("#patient-results tbody tr")).to_have_count(1)
    assert "mia" not in page.url.lower()  # the term is patient data: posted, never in the URL
    page.get_by_role("link", name="Reyes, Mia").click()
    expect(page.get_by_role("heading", name="Mia Reyes")).to_be_visible()
    page.get_by_role("link", name="Ana Reyes").click()
    expect(page.get_by_role("heading", name="Account of Ana Reyes")).to_be_visible()
    expect(page.get_by_test_id("balance-total")).to_have_text("$120.50")
    expect(page.get_by_role("link", name="Mia Reyes")).to_be_visible()
    assert page.csp_errors == []
