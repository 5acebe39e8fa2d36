"""The screens: the list's tabs and keyset pages, select all across pages, snooze and send through
the views, the explainer (patient page and the posted search), the dashboard's figures, the
settings; practice isolation of every screen and action; hostile inputs."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from payments.bulk_requests.selectors import PAGE_SIZE, requests_to_do
from payments.models import Payment, PaymentRequestCampaign, PaymentSettings, QuickPayLink, Snooze

from .conftest import TODAY, make_dependent, make_guarantor, settings_form

LIST = "/payments/requests/"


@pytest.fixture
def crowd(desk):
    """PAGE_SIZE + 10 guarantors, largest balance first: G-000 owes the most."""
    return [make_guarantor(desk.practice, f"G-{n:03d}", first=f"P{n:03d}", total=f"{1000 - n}.00",
                           mobile=f"+1312555{n:04d}") for n in range(PAGE_SIZE + 10)]


def _ids(response) -> list[int]:
    return [row.guarantor.pk for row in response.context["page"].rows]


def _counts(client) -> tuple[dict, int]:
    """The tab counts and the selection's size, as the page loads them after itself."""
    response = client.get(reverse("payment_requests_counts"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.context["counts"], response.context["selected_count"]


def test_select_all_across_pages_deselect_two_and_send_the_rest(desk, crowd, client_of, world):
    desk.make_list()
    client = client_of(world.staff_a)
    first = client.get(LIST)
    assert _counts(client) == ({"all": 60, "pending": 60, "snoozed": 0}, 0)
    assert _ids(first) == [g.pk for g in crowd[:PAGE_SIZE]]
    assert first.context["page"].next_after == PAGE_SIZE
    shown = _ids(first)
    # Select all (every pending guarantor, not only this page), then page on.
    response = client.post(reverse("payment_requests_select"), {"action": "all", "shown": shown,
                                                                "picked": shown})
    assert response.status_code == 302
    second = client.get(LIST, {"after": PAGE_SIZE})
    assert _ids(second) == [g.pk for g in crowd[PAGE_SIZE:]]
    assert all(row.selected for row in second.context["page"].rows) and _counts(client)[1] == 60
    # Deselect two on the second page: the page posts what it showed and what stays ticked.
    shown = _ids(second)
    kept = [pk for pk in shown if pk not in (crowd[55].pk, crowd[57].pk)]
    client.post(reverse("payment_requests_select"), {"shown": shown, "picked": kept, "goto": ""})
    assert _counts(client)[1] == 58
    preview = client.post(reverse("payment_requests_send"), {})
    assert preview.status_code == 200 and preview.context["plan"].campaigns == 58
    assert not PaymentRequestCampaign.objects.exists()  # a preview writes nothing
    done = client.post(reverse("payment_requests_send"), {"confirm": "1"})
    assert done.status_code == 302
    sent = set(PaymentRequestCampaign.objects.values_list("guarantor_id", flat=True))
    assert sent == {g.pk for g in crowd} - {crowd[55].pk, crowd[57].pk}
    pending = client.get(LIST)
    assert _ids(pending) == [crowd[55].pk, crowd[57].pk] and pending.context["selected_count"] == 0
    everyone = client.get(LIST, {"tab": "all"})
    assert {row.status for row in everyone.context["page"].rows} == {"sent"}


def test_ticked_rows_are_sent_and_a_row_no_longer_pending_is_left_out(desk, crowd, client_of, world):
    desk.make_list()
    client = client_of(world.staff_a)
    shown = _ids(client.get(LIST))
    client.post(reverse("payment_requests_select"), {"shown": shown, "picked": shown[:3]})
    Snooze.objects.create(practice=desk.practice, guarantor_id=shown[0], until=TODAY + timedelta(days=3),
                          reason="hsa_card")
    preview = client.post(reverse("payment_requests_send"), {})
    assert (preview.context["plan"].campaigns, preview.context["plan"].left_out) == (2, 1)
    client.post(reverse("payment_requests_send"), {"confirm": "1"})
    assert set(PaymentRequestCampaign.objects.values_list("guarantor_id", flat=True)) == set(shown[1:3])


def test_snooze_one_through_the_dialogs_form_and_many_through_the_selection(desk, crowd, client_of, world):
    desk.make_list()
    client = client_of(world.staff_a)
    until = (TODAY + timedelta(days=14)).isoformat()
    response = client.post(reverse("payment_requests_snooze"), {
        "scope": "one", "guarantor": crowd[0].pk, "mode": "date", "until": until,
        "reason": "claim_not_started"})
    assert response.status_code == 302
    snooze = Snooze.objects.get()
    assert (snooze.guarantor_id, snooze.until.isoformat(), snooze.created_by) == (crowd[0].pk, until,
                                                                                  world.staff_a)
    shown = _ids(client.get(LIST))
    client.post(reverse("payment_requests_select"), {"shown": shown, "picked": shown[:2]})
    client.post(reverse("payment_requests_snooze"), {"scope": "selection", "mode": "date", "until": until,
                                                     "reason": "other", "note": "family in hospital"})
    assert Snooze.objects.filter(ended_at__isnull=True).count() == 3
    snoozed = client.get(LIST, {"tab": "snoozed"})
    assert len(_ids(snoozed)) == 3 and b"family in hospital" in snoozed.content
    # The clock link opens the snooze page without JavaScript.
    page = client.get(reverse("payment_requests_snooze"), {"guarantor": crowd[5].pk})
    assert page.status_code == 200 and b"P005 R." in page.content


@pytest.mark.parametrize(("data", "field"), [
    ({"until": ""}, "until"), ({"until": "2026-02-30"}, "until"), ({"until": "0001-01-01"}, "until"),
    ({"until": "9999-12-31"}, "until"), ({"until": "2026-06-11T00:00+14:00"}, "until"),
    ({"until": "2026-06-10"}, "until"), ({"until": "2026-06-20\x00"}, "until"),
    ({"reason": "bribe"}, "reason"), ({"reason": ""}, "reason"), ({"reason": "other", "note": ""}, "note"),
    ({"note": "a\x00b"}, "note"), ({"note": "x" * 201}, "note"), ({"guarantor": str(2**64)}, "guarantor"),
    ({"guarantor": "-1"}, "guarantor"), ({"guarantor": "1e3"}, "guarantor"), ({"mode": "forever"}, "mode"),
])
def test_hostile_snooze_inputs_are_refused_naming_the_field(desk, crowd, client_of, world, data, field):
    desk.make_list()
    values = {"scope": "one", "guarantor": crowd[0].pk, "mode": "date", "until": "2026-06-20",
              "reason": "hsa_card", **data}
    response = client_of(world.staff_a).post(reverse("payment_requests_snooze"), values)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Snooze.objects.exists()


@pytest.mark.parametrize("data", [
    {"shown": [str(2**64)], "picked": []}, {"shown": ["1"], "picked": ["x"]}, {"shown": ["0"]},
    {"shown": ["-5"]}, {"picked": ["1\x00"]}, {"shown": [str(n) for n in range(1, 1100)]},
    {"action": "everything"}, {"goto": str(2**40)}, {"tab": "<script>"},
])
def test_hostile_selection_posts_change_nothing_and_never_fail(desk, crowd, client_of, world, data):
    desk.make_list()
    client = client_of(world.staff_a)
    response = client.post(reverse("payment_requests_select"), data)
    assert response.status_code in (302, 400)  # 400: more fields than Django reads at all
    assert client.get(LIST).context["selected_count"] == 0
    assert client.post(reverse("payment_requests_send"), {**data, "confirm": "1"}).status_code in (302, 400)
    assert not PaymentRequestCampaign.objects.exists()


@pytest.mark.parametrize("query", [{"after": str(2**64)}, {"after": "-1"}, {"after": "x\x00"},
                                   {"tab": "paid"},
                                   {"after": "9" * 5000}])
def test_hostile_list_queries_show_the_first_page(desk, crowd, client_of, world, query):
    desk.make_list()
    response = client_of(world.staff_a).get(LIST, query)
    assert response.status_code == 200 and response.context["query_error"]
    assert _ids(response)[0] == crowd[0].pk


@pytest.mark.parametrize("ids", [[str(2**64)], ["abc"], [], ["0"]])
def test_hostile_unsnooze_posts_are_refused(desk, client_of, world, ids):
    response = client_of(world.staff_a).post(reverse("payment_requests_unsnooze"), {"ids": ids})
    assert response.status_code == 302


@pytest.mark.parametrize("query", [{"after": str(2**64)}, {"after": "a"}, {"after": "0"}])
def test_hostile_undeliverable_pages(desk, client_of, world, query):
    response = client_of(world.staff_a).get(reverse("payment_requests_undeliverable"), query)
    assert response.status_code == 200 and response.context["query_error"]


def test_the_explainer_on_the_patient_page_and_by_a_posted_search(desk, client_of, world):
    guarantor = make_guarantor(desk.practice, "G-1", first="Zed", last="Quill", plan=True, do_not_recall=True)
    child = make_dependent(guarantor, "G-1-kid", first="Kit")
    eligible = make_guarantor(desk.practice, "G-2", first="Ana", last="Quill")
    desk.make_list()
    client = client_of(world.staff_a)
    page = client.get(reverse("patient_detail", args=[guarantor.pk]))
    assert b"on a payment plan in the PMS" in page.content and b"has the do-not-recall flag" in page.content
    assert b"list, waiting to be sent" in client.get(reverse("patient_detail", args=[eligible.pk])).content
    kid = client.get(reverse("patient_detail", args=[child.pk])).content
    assert b"not a guarantor" in kid and b"Zed Quill" in kid
    found = client.post(reverse("payment_requests_search"), {"q": "Quill"})
    assert found.status_code == 200
    assert [e.patient.pk for e in found.context["results"]] == [eligible.pk, child.pk, guarantor.pk]
    assert "Quill" not in found.request["PATH_INFO"] and not found.request.get("QUERY_STRING")
    for q in ("", "a\x00b", "x" * 101):
        refused = client.post(reverse("payment_requests_search"), {"q": q})
        assert refused.status_code == 400 and "q" in refused.context["search_form"].errors


def test_the_dashboard_shows_what_to_check_daily(desk, crowd, client_of, world):
    desk.settings(request_reminders=0)
    nowhere = make_guarantor(desk.practice, "G-nowhere", mobile="")
    desk.send(ids=[g.pk for g in crowd[:3]] + [nowhere.pk])
    Snooze.objects.create(practice=desk.practice, guarantor=crowd[10], until=TODAY, reason="hsa_card")
    campaign = PaymentRequestCampaign.objects.filter(channel="sms").first()
    link = QuickPayLink.objects.get(notification_key=campaign.message_key(0))
    Payment.objects.create(practice=desk.practice, guarantor=campaign.guarantor, link=link, attempt="a",
                           amount=Decimal("40.00"), gateway="sandbox", status="succeeded",
                           succeeded_at=link.created_at)
    figures = client_of(world.staff_a).get(reverse("payments")).context["figures"]
    assert (figures.list_size, figures.sent_today, figures.paid_week, figures.paid_week_amount,
            figures.snoozes_ending_today, figures.undeliverable) == (61, 4, 1, Decimal("40.00"), 1, 1)
    assert figures.pending == 61 - 4


def test_admins_set_the_request_settings_and_staff_cannot(desk, client_of, world):
    client = client_of(world.admin_ab, office="lakeside")
    data = settings_form(desk.practice, request_minimum="100", request_aging="over_60", request_reminders="1",
                         request_reminder_days="5", request_list_hour="6", request_hourly_cap="40",
                         request_include_claims="on")
    assert client.post(reverse("payment_settings"), data).status_code == 302
    saved = PaymentSettings.objects.get(practice=desk.practice)
    assert (saved.request_minimum, saved.request_aging, saved.request_reminders, saved.request_reminder_days,
            saved.request_list_hour, saved.request_hourly_cap, saved.request_include_claims) == (
        100, "over_60", 1, 5, 6, 40, True)
    page = client.get(reverse("payment_settings"))
    assert b"Not on a payment plan in the PMS" in page.content and b"Hi Ana" in page.content
    staff = Client()
    staff.force_login(world.staff_a)
    assert staff.post(reverse("payment_settings"), {**data, "request_minimum": "15"}).status_code == 403
    assert PaymentSettings.objects.get(practice=desk.practice).request_minimum == 100


def test_the_settings_page_warns_when_the_frequency_cap_would_hold_a_reminder_back(desk, client_of, world):
    desk.settings(request_reminders=2, request_reminder_days=3)
    page = client_of(world.admin_ab, office="lakeside").get(reverse("payment_settings"))
    assert b"frequency cap allows 2 texts in 7 days" in page.content
    desk.settings(request_reminders=1, request_reminder_days=4)
    page = client_of(world.admin_ab, office="lakeside").get(reverse("payment_settings"))
    assert b"frequency cap allows" not in page.content


@pytest.mark.parametrize(("field", "value"), [
    ("request_minimum", "20"), ("request_minimum", str(2**64)), ("request_aging", "over_9000"),
    ("request_reminders", "3"), ("request_reminder_days", "0"), ("request_reminder_days", "31"),
    ("request_list_hour", "24"), ("request_list_hour", "-1"), ("request_hourly_cap", "0"),
    ("request_hourly_cap", "10001"), ("request_hourly_cap", "1e3"), ("request_hourly_cap", "5\x00"),
    ("request_sms_template", str(2**64)), ("request_sms_template", "abc"), ("request_email_template", ""),
    ("reminder_sms_template", "email"),  # replaced below by the id of a template of the wrong channel
])
def test_bad_request_settings_are_refused_naming_the_field(desk, client_of, world, field, value):
    data = settings_form(desk.practice, **{field: value})
    if value == "email":
        data[field] = data["request_email_template"]
    before = PaymentSettings.objects.values().get(practice=desk.practice)
    response = client_of(world.admin_ab, office="lakeside").post(reverse("payment_settings"), data)
    assert response.status_code == 200 and field in response.context["requests_form"].errors
    assert PaymentSettings.objects.values().get(practice=desk.practice) == before


def test_the_screens_need_the_online_payments_add_on(world, client_of):
    client = client_of(world.staff_a)
    for url in (LIST, reverse("payment_requests_undeliverable")):
        response = client.get(url)
        assert response.status_code == 403 and b"Online payments" in response.content


def test_practice_isolation_of_every_screen_and_action(desk, crowd, client_of, world):
    """Office C's staff, with online payments on in their own office, reach nothing of office A."""
    world.practice_c.addon_online_payments = True
    world.practice_c.save()
    desk.settings(request_reminders=0)
    lost = make_guarantor(desk.practice, "G-lost", first="Lou", mobile="")
    desk.send(ids=[crowd[0].pk, crowd[1].pk, lost.pk])
    lost = PaymentRequestCampaign.objects.get(guarantor=lost)
    Snooze.objects.create(practice=desk.practice, guarantor=crowd[2], until=TODAY + timedelta(days=3),
                          reason="hsa_card")
    client = client_of(world.staff_c)
    a_ids = [str(g.pk) for g in crowd]
    # C's own (empty) list: none of A's guarantors, whatever is posted.
    client.post(reverse("payment_requests_make"))
    listed = client.get(LIST, {"tab": "all"})
    assert listed.status_code == 200 and listed.context["page"].rows == [] and b"P000" not in listed.content
    client.post(reverse("payment_requests_select"), {"shown": a_ids, "picked": a_ids})
    client.post(reverse("payment_requests_send"), {"confirm": "1"})
    client.post(reverse("payment_requests_select"), {"action": "all"})
    client.post(reverse("payment_requests_send"), {"confirm": "1"})
    assert not PaymentRequestCampaign.objects.filter(practice=world.practice_c).exists()
    assert PaymentRequestCampaign.objects.count() == 3
    client.post(reverse("payment_requests_snooze"), {"scope": "one", "guarantor": crowd[5].pk, "mode": "date",
                                                     "until": "2026-06-20", "reason": "hsa_card"})
    client.post(reverse("payment_requests_unsnooze"), {"ids": [crowd[2].pk]})
    assert list(Snooze.objects.values_list("guarantor_id", "ended_at")) == [(crowd[2].pk, None)]
    snooze_page = client.get(reverse("payment_requests_snooze"), {"guarantor": crowd[5].pk})
    assert b"P005" not in snooze_page.content
    search = client.post(reverse("payment_requests_search"), {"q": "P000"})
    assert search.context["results"] == []
    assert client.get(reverse("payment_requests_undeliverable")).context["rows"] == []
    for name in ("payment_request_fix", "payment_request_dismiss"):
        assert client.post(reverse(name, args=[lost.pk]), {"mobile": "(312) 555-0199", "consent": "on"}
                           ).status_code == 404
    assert client.get(reverse("payment_request_fix", args=[lost.pk])).status_code == 404
    lost.refresh_from_db()
    assert lost.state == "undeliverable"
    figures = client.get(reverse("payments")).context["figures"]
    assert (figures.list_size, figures.sent_today, figures.undeliverable) == (0, 0, 0)
    assert client.get(reverse("patient_detail", args=[crowd[0].pk])).status_code == 404


def test_the_portal_home_lists_todays_request_work_with_links_to_it(desk, client_of, world):
    """Five on today's list (the one on a plan is not): one sent, one sent with no number
    (undeliverable), one snoozed until today (pending again), one snoozed for a week (not
    pending): 2 pending, 1 snooze ending, 1 undeliverable. Office B's snooze ending today is B's."""
    desk.settings(request_reminders=0)
    sent, waiting, back_today, away, nowhere = (
        make_guarantor(desk.practice, f"G-{n}", mobile="" if n == 4 else f"+131255501{n:02d}")
        for n in range(5))
    make_guarantor(desk.practice, "G-plan", plan=True)
    Snooze.objects.create(practice=desk.practice, guarantor=back_today, until=TODAY, reason="hsa_card")
    Snooze.objects.create(practice=desk.practice, guarantor=away, until=TODAY + timedelta(days=7),
                          reason="hsa_card")
    other = make_guarantor(world.practice_b, "B-1")
    Snooze.objects.create(practice=world.practice_b, guarantor=other, until=TODAY, reason="hsa_card")
    client = client_of(world.staff_a)

    def items():
        sections = client.get(reverse("dashboard")).context["sections"]
        return {i.key: i for s in sections for i in s.items if i.key.startswith(("requests-", "snoozes-"))}

    before = items()
    assert {k: (i.count, i.note) for k, i in before.items()} == {
        "requests-pending": (0, "today's list is not made yet"), "snoozes-ending": (1, "back on the list"),
        "requests-undeliverable": (0, "")}
    desk.send(ids=[sent.pk, nowhere.pk])
    after = items()
    assert {k: (i.count, i.note) for k, i in after.items()} == {
        "requests-pending": (2, "of 5 on today's list"), "snoozes-ending": (1, "back on the list"),
        "requests-undeliverable": (1, "")}
    assert requests_to_do(practice=desk.practice, terms=desk.terms(), pending_cap=1).pending == 2  # 1+
    pending = client.get(after["requests-pending"].url)
    assert set(_ids(pending)) == {waiting.pk, back_today.pk}
    assert back_today.pk in _ids(client.get(after["snoozes-ending"].url))
    fix = client.get(after["requests-undeliverable"].url)
    assert [c.guarantor.pk for c in fix.context["rows"]] == [nowhere.pk]
    world.practice_a.addon_online_payments = False
    world.practice_a.save(update_fields=["addon_online_payments"])
    assert items() == {}  # the add-on off: no request work on the home page
