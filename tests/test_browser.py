"""Headless Chromium (Debian's package) driven by Playwright against the live server."""

import pytest
from playwright.sync_api import expect

# The browser and page fixtures live in tests/conftest.py.

pytestmark = pytest.mark.browser


def sign_in(page, live_server, email, password):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_switch_office_and_see_the_right_office(page, live_server, world):
    sign_in(page, live_server, world.admin_ab.email, world.password)
    expect(page.get_by_test_id("dashboard-office")).to_have_text("Hillcrest Dental")
    page.get_by_role("combobox", name="Office").select_option(label="Lakeside Dental")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_test_id("dashboard-office")).to_have_text("Lakeside Dental")
    expect(page.get_by_text("Now working in Lakeside Dental.")).to_be_visible()
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", name="Lakeside Dental")).to_be_visible()
    page.reload()
    expect(page.get_by_role("combobox", name="Office")).to_have_value("lakeside")
    assert page.csp_errors == []


def test_wrong_password_shows_the_generic_message(page, live_server, world):
    sign_in(page, live_server, world.staff_a.email, "not-it-at-all")
    expect(page.get_by_role("alert")).to_contain_text("don't match an account")


def test_admin_adds_a_team_member_from_the_team_page(page, live_server, world):
    sign_in(page, live_server, world.admin_ab.email, world.password)
    page.goto(f"{live_server.url}/settings/team/")
    page.get_by_label("Email").fill("new.person@example.test")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_text("Added new.person@example.test.")).to_be_visible()
    expect(page.locator('tr[data-member="new.person@example.test"]')).to_contain_text("invited")
    assert page.csp_errors == []


def test_admin_turns_an_add_on_on_and_the_dashboard_shows_it(page, live_server, world):
    sign_in(page, live_server, world.admin_ab.email, world.password)
    page.get_by_role("link", name="Settings").click()
    page.get_by_role("link", name="Office details and add-ons").click()
    page.get_by_label("Voice messages").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Office settings saved.")).to_be_visible()
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator(".addons li", has_text="Voice")).to_contain_text("on")
    assert page.csp_errors == []


def test_a_form_left_open_before_switching_office_in_another_tab_is_refused(browser, live_server, world):
    from practices.models import Membership

    context = browser.new_context()
    first, second = context.new_page(), context.new_page()
    sign_in(first, live_server, world.admin_ab.email, world.password)
    first.goto(f"{live_server.url}/settings/team/")  # Hillcrest, the first office
    expect(first.get_by_role("heading", name="Team · Hillcrest Dental")).to_be_visible()
    second.goto(f"{live_server.url}/")
    second.get_by_role("combobox", name="Office").select_option(label="Lakeside Dental")
    second.get_by_role("button", name="Switch").click()
    expect(second.get_by_test_id("dashboard-office")).to_have_text("Lakeside Dental")
    # The team form has no office field of its own: the portal script adds it on submit.
    first.get_by_label("Email").fill("stale.tab@example.test")
    first.get_by_role("button", name="Add member").click()
    expect(first.get_by_text("That page was opened for another office")).to_be_visible()
    assert not Membership.objects.filter(user__email="stale.tab@example.test").exists()
    context.close()
