"""Queue, history, manage errors and a row's detail, through their URLs."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from notifications.models import Notification, OptOut, Status
from notifications.services import Recipient


@pytest.fixture
def rows(world, schedule):
    made = {
        "queued": schedule(recipient=Recipient(kind="patient", id=1, name="Ann Queued"),
                           send_at=datetime.now(UTC) + timedelta(days=2)),
        "sent": schedule(recipient=Recipient(kind="patient", id=2, name="Ben Sent"),
                         channel="email", address="ben@example.test", kind="payment_request"),
        "permanent": schedule(recipient=Recipient(kind="patient", id=3, name="Cy Bounced"),
                              address="+13125550199"),
        "retry": schedule(recipient=Recipient(kind="patient", id=4, name="Di Retry")),
        "other_office": schedule(practice=world.practice_c,
                                 recipient=Recipient(kind="patient", id=5, name="Ed Elsewhere")),
    }
    Notification.objects.filter(pk=made["sent"].pk).update(status=Status.SENT)
    Notification.objects.filter(pk=made["permanent"].pk).update(
        status=Status.UNDELIVERABLE_PERMANENT, last_error="Twilio 21211: invalid number")
    Notification.objects.filter(pk=made["retry"].pk).update(status=Status.UNDELIVERABLE_RETRY)
    return made


def _names(response):
    body = response.content.decode()
    return {name for name in ("Ann Queued", "Ben Sent", "Cy Bounced", "Di Retry", "Ed Elsewhere")
            if name in body}


def test_queue_shows_only_what_is_not_yet_sent(client_of, world, rows):
    client = client_of(world.staff_a, office="lakeside")
    assert _names(client.get("/notifications/")) == {"Ann Queued", "Di Retry"}


def test_history_shows_everything_of_this_office_only(client_of, world, rows):
    client = client_of(world.staff_a, office="lakeside")
    assert _names(client.get("/notifications/history/")) == {
        "Ann Queued", "Ben Sent", "Cy Bounced", "Di Retry"}


@pytest.mark.parametrize("query,expected", [
    ("channel=email", {"Ben Sent"}),
    ("status=undeliverable_permanent", {"Cy Bounced"}),
    ("kind=payment_request", {"Ben Sent"}),
    ("date_from=2000-01-01&date_to=2000-01-02", set()),
])
def test_history_filters(client_of, world, rows, query, expected):
    client = client_of(world.staff_a, office="lakeside")
    assert _names(client.get(f"/notifications/history/?{query}")) == expected


@pytest.mark.parametrize("data,expected", [
    ({"recipient": "cy"}, {"Cy Bounced"}),
    ({"recipient": " CY bounced "}, {"Cy Bounced"}),
    ({"recipient": "#2"}, {"Ben Sent"}),
    ({"recipient": "+13125550199"}, {"Cy Bounced"}),
    ({"recipient": "BEN@example.test"}, {"Ben Sent"}),
    ({"recipient": "elsewhere"}, set()),  # another office's recipient
    ({"recipient": "ben", "channel": "email"}, {"Ben Sent"}),
    ({"recipient": "ben", "channel": "sms"}, set()),
    ({"recipient": "#99999999999999999999999"}, set()),
])
def test_recipient_search_is_posted_and_kept_out_of_urls(client_of, world, rows, data, expected):
    client = client_of(world.staff_a, office="lakeside")
    response = client.post("/notifications/history/", data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert _names(response) == expected
    body = response.content.decode()
    term = data["recipient"].strip()
    # Neither the address bar, nor a link, nor the counts' request carries the term.
    for url in [response["HX-Push-Url"], *re.findall(r'(?:href|hx-get)="([^"]*)"', body)]:
        query = parse_qs(urlsplit(url.replace("&amp;", "&")).query)
        assert "recipient" not in query and term not in str(query.values()), url
    if expected:
        assert 'data-testid="status-counts"' in body  # counted in the same answer
    # A link that names a recipient does not search for one.
    assert _names(client.get(f"/notifications/history/?recipient={quote(term)}")) == {
        "Ann Queued", "Ben Sent", "Cy Bounced", "Di Retry"}


@pytest.mark.parametrize("term,error", [
    ("cy\x00", "Null characters are not allowed."), ("x" * 10_000, "at most 200 characters"),
    ("%", ""), ("_", ""), ("\\", ""), ("#", ""), ("# 3", ""), ("\u202eCy", ""), ("cy\r\nX-Header: 1", ""),
])
def test_hostile_recipient_searches_are_answered_not_crashed_on(client_of, world, rows, term, error):
    response = client_of(world.staff_a, office="lakeside").post("/notifications/history/",
                                                               {"recipient": term})
    assert response.status_code == 200
    assert _names(response) == set()
    if error:
        assert error in response.content.decode() and 'name="recipient"' in response.content.decode()


def test_recipient_search_matches_the_start_of_any_word_of_a_name(client_of, world, schedule):
    from django.db import connection

    cruz = schedule(recipient=Recipient(kind="patient", id=7, name="María de la Cruz"))
    schedule(recipient=Recipient(kind="user", id=7, name="Staff Seven"), channel="email",
             address="staff7@example.test")
    client = client_of(world.staff_a, office="lakeside")

    def found(term):
        rows = client.post("/notifications/history/", {"recipient": term}).context["page"].rows
        return {n.recipient_name for n in rows}

    for term in ("cruz", "LA CR", "maría", "de la cruz", "María de"):
        assert found(term) == {"María de la Cruz"}, term
    for term in ("ruz", "aría", "cruz maría"):
        assert found(term) == set(), term
    assert found("#7") == {"María de la Cruz", "Staff Seven"}
    assert found("STAFF7@example.test") == {"Staff Seven"}
    # A recipient renamed by any writer, in SQL too, is found under the new name.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE notifications_notification SET recipient_name = 'Maria Reyes' "
                       "WHERE id = %s", [cruz.pk])
    assert found("reyes") == {"Maria Reyes"} and found("cruz") == set()


def test_recipient_search_pages_by_post(client_of, world, schedule):
    for i in range(55):
        schedule(recipient=Recipient(kind="patient", id=i, name=f"Pat Searched {i:03d}"))
    schedule(recipient=Recipient(kind="patient", id=99, name="Someone Else"))
    client = client_of(world.staff_a, office="lakeside")
    first = client.post("/notifications/history/", {"recipient": "searched"})
    page = first.context["page"]
    assert len(page.rows) == 50 and page.next_cursor
    assert 'name="after" value="' in first.content.decode()
    second = client.post("/notifications/history/", {"recipient": "searched",
                                                     "after": page.next_cursor}).context["page"]
    assert len(second.rows) == 5 and "Someone Else" not in {n.recipient_name for n in second.rows}


@pytest.mark.parametrize("query", ["date_from=yesterday", "channel=fax", "status=nope",
                                   "date_from=2026-05-02&date_to=2026-05-01", "after=garbage"])
def test_bad_filters_are_explained_not_crashed_on(client_of, world, rows, query):
    response = client_of(world.staff_a, office="lakeside").get(f"/notifications/history/?{query}")
    assert response.status_code == 200
    assert "Fix the filters above" in response.content.decode()
    assert _names(response) == set()


def test_counts_and_percentages_per_status(client_of, world, rows):
    client = client_of(world.staff_a, office="lakeside")
    body = client.get("/notifications/counts/?view=history").content.decode()
    assert ('data-status="queued"><span class="badge status-queued">Queued</span> 1 '
            '<span class="muted">(25.0%)') in body
    assert 'data-status="total"' in body and "> 4 <" in body
    assert client.get("/notifications/counts/?view=history&channel=fax").status_code == 400


def test_htmx_filtering_returns_only_the_results(client_of, world, rows):
    client = client_of(world.staff_a, office="lakeside")
    body = client.get("/notifications/history/?channel=email", HTTP_HX_REQUEST="true").content.decode()
    assert body.lstrip().startswith('<section id="results"') and "<nav class=\"mainnav\"" not in body
    assert "Ben Sent" in body


def test_keyset_pages_do_not_overlap(client_of, world, schedule):
    for i in range(57):
        schedule(recipient=Recipient(kind="patient", id=i, name=f"Patient {i:03d}"))
    client = client_of(world.staff_a, office="lakeside")
    first = client.get("/notifications/history/")
    page = first.context["page"]
    assert len(page.rows) == 50 and page.next_cursor
    second = client.get("/notifications/history/", {"after": page.next_cursor}).context["page"]
    assert len(second.rows) == 7 and not second.next_cursor
    assert not {n.pk for n in page.rows} & {n.pk for n in second.rows}


def test_detail_shows_message_template_and_status_history(client_of, world, schedule):
    n = schedule(template_name="dunning-sms", template_version="4",
                 body="Lakeside Dental: balance due. https://x.test/q/9")
    body = client_of(world.staff_a, office="lakeside").get(
        f"/notifications/{n.pk}/").content.decode()
    assert "Lakeside Dental: balance due. https://x.test/q/9" in body
    assert "dunning-sms version 4" in body
    assert 'data-testid="status-history"' in body and "due now" in body


def test_another_offices_row_is_not_found(client_of, world, rows):
    client = client_of(world.staff_a, office="lakeside")
    assert client.get(f"/notifications/{rows['other_office'].pk}/").status_code == 404
    assert client.post(f"/notifications/{rows['other_office'].pk}/cancel/").status_code == 404


def test_cancel_from_the_detail_page(client_of, world, rows):
    client = client_of(world.staff_a, office="lakeside")
    response = client.post(f"/notifications/{rows['queued'].pk}/cancel/", follow=True)
    assert "The message is cancelled." in response.content.decode()
    rows["queued"].refresh_from_db()
    assert rows["queued"].status == Status.CANCELLED
    refused = client.post(f"/notifications/{rows['sent'].pk}/cancel/", follow=True)
    assert "cannot be cancelled" in refused.content.decode()


def test_a_claimed_message_not_yet_sent_can_be_cancelled_from_its_page(client_of, world, schedule):
    from notifications import dispatch

    n = schedule()
    assert dispatch.claim_ids([n.pk]) == [n.pk]  # a worker has it, the provider call not begun
    client = client_of(world.staff_a, office="lakeside")
    assert "Cancel message" in client.get(f"/notifications/{n.pk}/").content.decode()
    client.post(f"/notifications/{n.pk}/cancel/")
    n.refresh_from_db()
    assert n.status == Status.CANCELLED
    assert dispatch.deliver([n.pk])["sent"] == 0


def test_errors_view_lists_error_statuses_not_archived(client_of, world, rows):
    client = client_of(world.staff_a, office="lakeside")
    assert _names(client.get("/notifications/errors/")) == {"Cy Bounced", "Di Retry"}


def test_bulk_cancel_archive_and_cancel_and_opt_out(client_of, world, rows):
    client = client_of(world.staff_a, office="lakeside")
    client.post("/notifications/errors/bulk/", {"action": "archive", "ids": [rows["retry"].pk]})
    assert _names(client.get("/notifications/errors/")) == {"Cy Bounced"}
    response = client.post("/notifications/errors/bulk/", {
        "action": "cancel_opt_out",
        "ids": [rows["permanent"].pk, rows["queued"].pk, rows["other_office"].pk]}, follow=True)
    assert "1 message(s) updated, 1 left as they were." in response.content.decode()
    rows["permanent"].refresh_from_db()
    assert rows["permanent"].status == Status.CANCELLED
    assert OptOut.objects.filter(practice=world.practice_a, address="+13125550199",
                                 source="staff").exists()
    rows["other_office"].refresh_from_db()
    assert rows["other_office"].status == Status.QUEUED


@pytest.mark.parametrize("data", [{"action": "explode", "ids": ["1"]}, {"action": "cancel"},
                                  {"action": "cancel", "ids": ["abc"]}])
def test_bad_bulk_input_changes_nothing(client_of, world, rows, data):
    response = client_of(world.staff_a, office="lakeside").post(
        "/notifications/errors/bulk/", data, follow=True)
    assert response.status_code == 200
    assert 'class="flash flash-error"' in response.content.decode()
    assert Notification.objects.filter(status=Status.CANCELLED).count() == 0
    assert not Notification.objects.filter(archived=True).exists()
