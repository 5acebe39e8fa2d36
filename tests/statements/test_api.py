"""POST /api/v1/statement-batches and GET /api/v1/statement-batches/{batch_id}."""

from datetime import UTC, datetime

import pytest
import time_machine

from notifications.models import Notification
from patients.models import Patient
from practices.services import api_key_create
from statements.models import Dunning, Statement, StatementBatch

from .conftest import item, make_guarantor

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def november():
    with time_machine.travel(datetime(2026, 11, 2, 15, 0, tzinfo=UTC), tick=False):
        yield

URL = "/api/v1/statement-batches"


def post(client, key, body, **extra):
    return client.post(URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}",
                       **extra)


def get(client, key, batch_id):
    return client.get(f"{URL}/{batch_id}", HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def people(office):
    ana = make_guarantor(office, "g-1")
    ben = make_guarantor(office, "g-2", first_name="Ben", mobile="")
    kid = Patient.objects.create(practice=office, external_id="kid-1", first_name="Kid", last_name="Reyes",
                                 guarantor=ana)
    return ana, ben, kid


def test_a_batch_is_received_and_its_notifications_queued(client, api_key, people):
    ana, ben, _ = people
    response = post(client, api_key, {"batch_id": "2026-11-A", "profile": "standard",
                                      "statements": [item(ana), item(ben)]})
    assert response.status_code == 201, response.content
    assert response.json() == {"batch_id": "2026-11-A", "profile": "standard", "accepted": 2, "rejected": [],
                               "notifications_queued": 3, "no_channel": 0, "note": ""}
    assert Notification.objects.filter(recipient_id=ana.pk).count() == 2
    assert Notification.objects.filter(recipient_id=ben.pk).count() == 1  # no mobile: email only


def test_the_default_profile_serves_a_batch_without_one(client, api_key, people):
    response = post(client, api_key, {"batch_id": "b", "statements": [item(people[0])]})
    assert response.status_code == 201 and response.json()["profile"] == "standard"


def test_each_bad_statement_is_rejected_by_itself_and_the_rest_applied(client, api_key, people, office):
    ana, ben, kid = people
    other_office = make_guarantor(office.__class__.objects.get(slug="other-town"), "g-other")
    statements = [
        item(ana),
        item("nobody"),  # 1: unknown
        item(kid),  # 2: not a guarantor
        item(ben, statement_date="2026-02-30"),  # 3: no such day
        item(ben, amount_due="12.345"),  # 4: three decimals
        item(ben, amount_due="99999999999999999999999.00"),  # 5: past 64 bits
        item(ben, due_date="2026-10-01"),  # 6: before the statement date
        item(ana),  # 7: the same guarantor again
        item("g-\x00-1"),  # 8: NUL
        item(other_office),  # 9: another practice's guarantor
        {"guarantor_external_id": "g-2", "statement_date": "2026-11-02T10:00:00+14:00",
         # 10: a time with an offset, a number for an amount, an unknown field
         "due_date": "2026-11-25", "amount_due": 5, "balance": "1.00", "extra": 1},
        "not an object",  # 11
        item(ben, statement_date="9999-12-31"),  # 12: far future
        item(ben),  # 13: fine
    ]
    response = post(client, api_key, {"batch_id": "mixed", "statements": statements})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["accepted"] == 2
    by_index = {}
    for r in body["rejected"]:
        by_index.setdefault(r["index"], set()).add(r["field"])
    assert by_index == {1: {"guarantor_external_id"}, 2: {"guarantor_external_id"}, 3: {"statement_date"},
                        4: {"amount_due"}, 5: {"amount_due"}, 6: {"due_date"}, 7: {"guarantor_external_id"},
                        8: {"guarantor_external_id"}, 9: {"guarantor_external_id"},
                        10: {"extra", "statement_date", "amount_due"}, 11: {""}, 12: {"statement_date"}}
    messages = {r["index"]: r["message"] for r in body["rejected"]}
    assert "unknown guarantor" in messages[1] and "not a guarantor" in messages[2]
    assert "appears again (first at 0)" in messages[7]
    assert set(Statement.objects.values_list("guarantor__external_id", flat=True)) == {"g-1", "g-2"}
    batch = StatementBatch.objects.get(batch_id="mixed")
    assert (batch.received, batch.accepted, batch.rejected_count) == (14, 2, 12)


def test_the_same_batch_again_changes_nothing_and_answers_the_stored_counts(client, api_key, people):
    ana, ben, _ = people
    body = {"batch_id": "again", "statements": [item(ana), item(ben), item("nobody")]}
    first = post(client, api_key, body)
    rows = Notification.objects.count()
    body["statements"].reverse()  # the same statements in another order are the same batch
    again = post(client, api_key, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Notification.objects.count() == rows and Statement.objects.count() == 2
    assert Dunning.objects.get(guarantor=ana).count == 1


def test_the_same_batch_id_with_other_statements_is_a_conflict(client, api_key, people):
    ana = people[0]
    post(client, api_key, {"batch_id": "c", "statements": [item(ana)]})
    response = post(client, api_key, {"batch_id": "c", "statements": [item(ana, amount_due="99.00")]})
    assert response.status_code == 409 and "already received" in response.json()["detail"]
    assert Statement.objects.count() == 1


@pytest.mark.parametrize("body, field", [
    ({"batch_id": "x", "profile": "nope", "statements": []}, "profile"),
    ({"batch_id": "x", "profile": 7, "statements": []}, "profile"),
    ({"batch_id": "", "statements": []}, "batch_id"),
    ({"batch_id": "x" * 65, "statements": []}, "batch_id"),
    ({"batch_id": "a\x00b", "statements": []}, "batch_id"),
    ({"batch_id": 2**70, "statements": []}, "batch_id"),
    ({"batch_id": "x", "statements": {"a": 1}}, "statements"),
    ({"batch_id": "x", "statements": [], "colour": "red"}, "colour"),
])
def test_a_request_that_cannot_be_taken_as_a_whole_is_422_naming_the_field(client, api_key, body, field):
    response = post(client, api_key, body)
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert not StatementBatch.objects.exists()


def test_bodies_that_are_not_a_batch_are_refused(client, api_key):
    assert post(client, api_key, "not json").status_code == 400
    assert post(client, api_key, [1, 2]).status_code == 400
    huge = post(client, api_key, {"batch_id": "big", "statements": [0] * 100_001})
    assert huge.status_code == 413 and "100,000" in huge.json()["detail"]


def test_with_the_add_on_off_the_answer_says_why_nothing_was_queued(client, api_key, people, office):
    office.addon_balance_notifications = False
    office.save()
    body = post(client, api_key, {"batch_id": "off", "statements": [item(people[0])]}).json()
    assert body["accepted"] == 1 and body["notifications_queued"] == 0
    assert "add-on is off" in body["note"]


def test_a_batch_reads_back_with_its_counts_and_only_for_its_practice(client, api_key, people, world):
    post(client, api_key, {"batch_id": "2026/11 A", "statements": [item(people[0]), item("nobody")]})
    response = get(client, api_key, "2026/11 A")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("batch_id", "profile", "status", "accepted", "rejected",
                                 "notifications_queued")} == {
        "batch_id": "2026/11 A", "profile": "standard", "status": "queued", "accepted": 1, "rejected": 1,
        "notifications_queued": 2}
    assert body["notifications"] == {"queued": 2}
    other_key = api_key_create(practice=world.practice_c)[1]
    assert get(client, other_key, "2026/11 A").status_code == 404
    assert get(client, api_key, "missing").status_code == 404
    assert client.get(f"{URL}/2026-11-A").status_code == 401


def test_the_endpoints_are_in_the_openapi_schema(client):
    schema = client.get("/api/v1/openapi.json").json()
    post_op = schema["paths"]["/api/v1/statement-batches"]["post"]
    assert {"200", "201", "409", "422"} <= set(post_op["responses"])
    body = post_op["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["batch_id", "statements"]
    item_schema = body["properties"]["statements"]["items"]
    assert set(item_schema["required"]) == {"guarantor_external_id", "statement_date", "due_date",
                                            "amount_due", "balance"}
    assert "/api/v1/statement-batches/{batch_id}" in schema["paths"]
