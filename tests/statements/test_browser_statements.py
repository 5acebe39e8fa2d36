"""In Chromium: an admin edits the Standard profile and approves its proof, uploads a CSV batch,
opens its queue; the dashboard's panel and a guarantor's account show what it caused."""

import pytest
from playwright.sync_api import expect

from statements.models import StatementBatch
from tests.test_browser import sign_in

from .conftest import make_guarantor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def sign_in_to_lakeside(page, live_server, world):
    sign_in(page, live_server, world.admin_ab.email, world.password)
    page.get_by_role("combobox", name="Office").select_option(label="Lakeside Dental")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_text("Now working in Lakeside Dental.")).to_be_visible()


def test_edit_a_step_and_its_text_with_the_live_counter_then_approve_the_proof(page, live_server, world,
                                                                                office):
    make_guarantor(office, "PMS-9", first_name="Nadia")
    sign_in_to_lakeside(page, live_server, world)
    page.get_by_role("link", name="Statements", exact=True).click()
    page.get_by_role("link", name="Statement profiles").click()
    page.get_by_role("link", name="Standard").click()
    level1 = page.locator("table[data-level='1']")
    level1.locator("tr", has_text="statement date + 10 days").get_by_role("link", name="Change").click()
    page.get_by_label("Days", exact=True).fill("7")
    page.get_by_role("button", name="Save the step").click()
    expect(page.get_by_test_id("proof-changed")).to_be_visible()
    expect(level1).to_contain_text("statement date + 7 days")

    level1.get_by_role("link", name="Statement reminder text").click()
    body = page.get_by_label("Body")
    body.fill("{{ practice.name }}: Hi {{ patient.first_name }}, {{ statement.amount_due }} is due. "
              "{{ quickpay_link }}")
    expect(page.get_by_test_id("sms-facts")).to_contain_text("GSM-7")
    body.press("End")
    body.type(" ç" + " more" * 4)  # a character outside GSM-7 past 70
    expect(page.get_by_test_id("sms-facts")).to_contain_text("UCS-2")
    expect(page.get_by_test_id("sms-facts")).to_contain_text("2 segments")
    body.fill("{{ practice.name }}: {{ patient.ssn }}")
    expect(page.get_by_test_id("template-problems")).to_contain_text("{{ patient.ssn }} is not a merge field")
    body.fill("{{ practice.name }}: Hi {{ patient.first_name }}, please pay {{ statement.amount_due }}. "
              "{{ quickpay_link }}")
    page.get_by_role("button", name="Save as v2").click()
    expect(page.get_by_text("Saved Statement reminder text v2.")).to_be_visible()  # back on the profile

    page.get_by_label("Guarantor's PMS id").fill("PMS-9")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("proof")).to_contain_text("Hi Nadia, please pay $125.00")
    expect(page.get_by_test_id("cadence-preview")).to_contain_text("sends")
    assert "PMS-9" not in page.url
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("proof-status")).to_contain_text("Sending: proof v2")
    expect(page.get_by_test_id("approve")).to_have_count(0)
    assert page.csp_errors == []


def test_upload_a_csv_batch_open_its_queue_and_see_the_panel_and_the_account(
        page, live_server, world, office, tmp_path):
    ana = make_guarantor(office, "g-1", first_name="Ana")
    make_guarantor(office, "g-2", first_name="Ben", mobile="")
    path = tmp_path / "november.csv"
    path.write_text("guarantor_external_id,statement_date,due_date,amount_due,balance\n"
                    "g-1,2026-11-02,2026-11-25,125.00,250.00\n"
                    "g-2,2026-11-02,2026-11-25,40.00,40.00\n"
                    "g-3,2026-11-02,2026-11-25,9.00,9.00\n")
    sign_in_to_lakeside(page, live_server, world)
    page.goto(f"{live_server.url}/statements/")
    page.get_by_role("link", name="Upload a CSV batch").click()
    page.get_by_label("Batch id").fill("2026-11-A")
    page.get_by_label("CSV file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_test_id("import-summary")).to_contain_text("3 rows: 2 valid, 1 error")
    expect(page.get_by_test_id("import-errors")).to_contain_text("unknown guarantor 'g-3'")
    page.get_by_role("button", name="Import the 2 valid rows").click()

    expect(page.get_by_role("heading", name="Batch 2026-11-A")).to_be_visible()
    expect(page.get_by_test_id("batch-queued")).to_have_text("3")
    expect(page.get_by_test_id("batch-rejected")).to_contain_text("unknown guarantor 'g-3'")
    page.get_by_test_id("batch-queue").click()
    expect(page.get_by_test_id("tag-filter")).to_contain_text("batch 2026-11-A (Standard)")
    expect(page.locator("#results tbody tr")).to_have_count(3)

    page.get_by_role("link", name="Statements", exact=True).click()
    panel = page.get_by_test_id("notifications-panel")
    expect(panel.locator("li[data-status='queued']")).to_contain_text("3")
    panel.get_by_role("link", name="All notifications").click()
    expect(page.locator("#results tbody tr")).to_have_count(3)

    page.goto(f"{live_server.url}/patients/guarantors/{ana.pk}/")
    history = page.get_by_test_id("statement-history")
    expect(history).to_contain_text("2026-11-A")
    expect(history).to_contain_text("Statement email v1")
    expect(page.get_by_test_id("account-preview")).to_contain_text("Statement reminder text")
    assert StatementBatch.objects.get().accepted == 2
    assert page.csp_errors == []
