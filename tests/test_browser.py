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


def test_admin_invites_a_new_person_who_joins_by_choosing_a_password(browser, page, live_server,
                                                                     world, settings):
    import re

    from django.core import mail

    from practices.models import Invitation
    from practices.tasks import team_invite_send

    settings.PUBLIC_BASE_URL = live_server.url
    sign_in(page, live_server, world.admin_ab.email, world.password)
    page.goto(f"{live_server.url}/settings/team/")
    page.get_by_label("Email").fill("new.person@example.test")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to new.person@example.test.")).to_be_visible()
    row = page.locator('tr[data-invitation="new.person@example.test"]')
    expect(row).to_contain_text("being sent")
    team_invite_send(Invitation.objects.get(email="new.person@example.test").pk)
    page.reload()
    expect(row).to_contain_text("works until")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"/tmp/shots/team-{width}.png", full_page=True)
    assert page.csp_errors == []

    link = re.search(r"https?://\S+/invites/\S+/", mail.outbox[-1].body).group(0)
    invitee = browser.new_context().new_page()
    invitee.goto(link)
    expect(invitee.get_by_role("heading", name="Join Hillcrest Dental")).to_be_visible()
    for width in (1280, 390):
        invitee.set_viewport_size({"width": width, "height": 900})
        invitee.screenshot(path=f"/tmp/shots/invitation-{width}.png", full_page=True)
    invitee.get_by_label("Your name").fill("New Person")
    invitee.get_by_label("New password", exact=True).fill("a-good-first-password")
    invitee.get_by_label("New password confirmation").fill("a-good-first-password")
    invitee.get_by_role("button", name="Join the team").click()
    expect(invitee.get_by_text("Welcome to the Hillcrest Dental team.")).to_be_visible()
    expect(invitee.get_by_test_id("dashboard-office")).to_have_text("Hillcrest Dental")
    invitee.context.close()


def test_admin_turns_an_add_on_on_and_settings_show_it(page, live_server, world):
    sign_in(page, live_server, world.admin_ab.email, world.password)
    main_nav = page.get_by_role("navigation", name="Main")
    main_nav.get_by_role("link", name="Settings").click()
    expect(page.locator(".addons li", has_text="Voice")).to_contain_text("off")
    page.get_by_role("link", name="Office details and add-ons").click()
    page.get_by_label("Voice messages").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Office settings saved.")).to_be_visible()
    main_nav.get_by_role("link", name="Settings").click()
    expect(page.locator(".addons li", has_text="Voice")).to_contain_text("on")
    assert page.csp_errors == []


def test_a_form_left_open_before_switching_office_in_another_tab_is_refused(browser, live_server, world):
    from practices.models import Invitation

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
    first.get_by_role("button", name="Send invitation").click()
    expect(first.get_by_text("That page was opened for another office")).to_be_visible()
    assert not Invitation.objects.filter(email="stale.tab@example.test").exists()
    context.close()
