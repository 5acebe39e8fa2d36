"""The front desk's morning in a browser: the dashboard, two of its items followed to the screens
they count, then Payments -> Analytics: charts drawn under the page's CSP, the range changed,
a table downloaded as CSV. Each screen is photographed at 1280 and 390 px (/tmp/shots)."""

import csv
import io
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.payments.conftest import make_guarantor
from tests.payments.outreach import link, message, pay
from tests.test_browser import sign_in

pytestmark = pytest.mark.browser


def wait_until(page, expression: str, timeout: float = 10.0) -> None:
    """Poll an expression in the page (wait_for_function evaluates a string, which the page's CSP
    refuses; evaluate does not)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(50)


def shoot(page, name):
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        # Charts redraw for the new width (a ResizeObserver) before the picture is taken.
        wait_until(page, "[...document.querySelectorAll('canvas')]"
                         ".every((c) => c.getBoundingClientRect().right <= window.innerWidth)")
        page.screenshot(path=f"/tmp/shots/{name}-{width}.png", full_page=True)
        # Nothing but the tables' own scrolling boxes is wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.fixture
def lakeside(world):
    office = world.practice_a
    office.addon_online_payments = True
    office.save(update_fields=["addon_online_payments"])
    payer = make_guarantor(office, total="5000.00", due="5000.00", over_120="0.00")
    now = timezone.now()
    for n, (days, channel, status) in enumerate([(20, "email", "delivered"), (3, "sms", "delivered"),
                                                 (2, "sms", "undeliverable_permanent")]):
        at = now - timedelta(days=days)
        message(office, make_guarantor(office, f"B-{n}", total=None) if status != "delivered" else payer,
                f"s:{n}", kind="balance_notification", channel=channel, status=status, at=at)
        if status == "delivered":
            token = link(office, payer, f"s:{n}", source="statement", channel=channel, level=n + 1, at=at)
            pay(token, f"{(n + 1) * 100}.00", at + timedelta(hours=5))
    return office


def test_the_dashboard_leads_to_the_work_and_analytics_export_what_they_show(page, live_server, world,
                                                                            lakeside, tmp_path):
    sign_in(page, live_server, world.admin_ab.email, world.password)
    page.get_by_role("combobox", name="Office").select_option(label="Lakeside Dental")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_test_id("dashboard-office")).to_have_text("Lakeside Dental")
    expect(page.get_by_test_id("errors-figure")).to_have_text("1")
    shoot(page, "dashboard")

    page.get_by_role("link", name="Messages in error to manage").click()
    expect(page.get_by_role("heading", name="Manage errors")).to_be_visible()
    expect(page.locator("[data-notification]")).to_have_count(1)
    shoot(page, "dashboard-errors")
    page.go_back()
    page.get_by_role("link", name="Payments received this week").click()
    expect(page.get_by_role("heading", name="Payments")).to_be_visible()
    shoot(page, "dashboard-payments-week")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_test_id("payments-today")).to_be_visible()

    page.get_by_role("link", name="Recovery analytics").click()
    expect(page.get_by_role("heading", name="Collected by source")).to_be_visible()
    sources = page.get_by_test_id("table-sources")
    expect(sources.locator("tfoot")).to_contain_text("$300.00")  # $100 (20 days ago) + $200 (3 days)
    # Each chart is drawn by Chart.js from the table's numbers, under the page's CSP.
    wait_until(page, "document.querySelectorAll('canvas[data-chart]').length === 5"
                     " && [...document.querySelectorAll('canvas[data-chart]')]"
                     ".every((c) => window.Chart && window.Chart.getChart(c) !== undefined && c.width > 0)")
    drawn = page.evaluate("window.Chart.getChart(document.querySelector("
                          "'canvas[data-chart=\"chart-sources\"]')).data.datasets[0].data")
    assert drawn == [100, 200]
    assert page.csp_errors == []
    shoot(page, "analytics")

    week_ago = timezone.localdate(timezone.now(), lakeside.tz) - timedelta(days=7)
    page.get_by_label("From", exact=True).fill(week_ago.isoformat())
    page.get_by_role("button", name="Show").click()
    today = timezone.localdate(timezone.now(), lakeside.tz)
    expect(page).to_have_url(f"{live_server.url}/payments/analytics/?date_from={week_ago.isoformat()}"
                             f"&date_to={today.isoformat()}&offices=current")
    expect(sources.locator("tfoot")).to_contain_text("$200.00")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV of collected by source").click()
    saved = tmp_path / "sources.csv"
    download.value.save_as(saved)
    assert download.value.suggested_filename.startswith(f"sources-lakeside-{week_ago:%Y%m%d}-")
    rows = list(csv.reader(io.StringIO(saved.read_text())))
    assert rows == [["Source", "Payments", "Received", "Refunded", "Collected"],
                    ["Statement, level 2", "1", "200.00", "0.00", "200.00"],
                    ["Total", "1", "200.00", "0.00", "200.00"]]
    shoot(page, "analytics-week")
    assert page.csp_errors == []
