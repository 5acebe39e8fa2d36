import copy

import pytest

from patients.models import Balance, Patient, Visit
from practices.services import api_key_create
from tests.patients.records import family

pytestmark = pytest.mark.django_db


def _post(client, secret, patients):
    return client.post("/api/v1/patients/bulk", {"patients": patients}, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {secret}")


@pytest.fixture
def key_a(world):
    return api_key_create(practice=world.practice_a, label="PMS")[1]


@pytest.fixture(params=["copy", "orm"])
def upsert_method(request, settings, monkeypatch):
    """Run each API test through both write paths: COPY + SQL, and chunks through the ORM."""
    from patients import upsert

    original = upsert.patients_upsert
    monkeypatch.setattr("patients.services.patients_upsert",
                        lambda **kw: original(**{**kw, "method": request.param}))
    return request.param


def test_a_family_is_created_with_guarantor_resolved_later_in_the_request(client, world, key_a,
                                                                          upsert_method):
    response = _post(client, key_a, family())
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 3, "updated": 0, "unchanged": 0, "rejected": []}
    guarantor = Patient.objects.get(practice=world.practice_a, external_id="F1-g")
    kid = Patient.objects.get(practice=world.practice_a, external_id="F1-kid1")
    assert guarantor.is_guarantor and kid.guarantor == guarantor and not kid.is_guarantor
    assert guarantor.email == "ana.reyes@example.test"
    assert (guarantor.mobile_phone, guarantor.home_phone) == ("+13125550142", "+17735550187")
    assert str(guarantor.balance.aging_61_90) == "100.00" and guarantor.balance.on_payment_plan
    assert Visit.objects.filter(patient=kid, visited_on="2026-01-10").exists()
    assert not Balance.objects.filter(guarantor=kid).exists()


def test_the_same_payload_twice_creates_nothing_and_says_unchanged(client, world, key_a, upsert_method):
    _post(client, key_a, family())
    again = _post(client, key_a, family())
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 3, "rejected": []}
    assert Patient.objects.filter(practice=world.practice_a).count() == 3
    assert Visit.objects.count() == 2


def test_a_changed_balance_or_phone_counts_as_updated(client, world, key_a, upsert_method):
    _post(client, key_a, family())
    changed = family(balance_total="300.00")
    changed[1]["mobile_phone"] = "312-555-0199"
    assert _post(client, key_a, changed).json() == {"created": 0, "updated": 2, "unchanged": 1,
                                                    "rejected": []}
    assert str(Balance.objects.get(guarantor__external_id="F1-g").total) == "300.00"
    assert Patient.objects.get(external_id="F1-kid2").mobile_phone == "+13125550199"


@pytest.mark.parametrize("small_batch", [20_000, 0])
def test_each_kind_of_change_counts_its_patient_once_as_updated(client, world, key_a, upsert_method,
                                                                 small_batch, monkeypatch):
    """Counts come from what the merge wrote: a new visit day alone, a guarantor who becomes a
    dependent (their balance goes), a patient changed in two ways at once (counted once), and a
    new patient beside them. Through the merge as planned for a small batch and for a large one."""
    monkeypatch.setattr("patients.upsert.SMALL_BATCH", small_batch)
    _post(client, key_a, family("F1") + family("F2"))
    changed = family("F1") + family("F2")
    changed[0]["last_visit_on"] = "2026-03-03"  # F1-kid1: a new visit day, nothing else
    changed[2]["guarantor_external_id"] = "F2-g"  # F1-g: now a dependent of F2-g, balance dropped
    del changed[2]["balance"]
    changed[0]["guarantor_external_id"] = changed[1]["guarantor_external_id"] = "F2-g"
    changed[5]["mobile_phone"] = "312-555-0199"  # F2-g: phone and balance, one patient
    changed[5]["balance"]["total"] = "999.00"
    changed.append({"external_id": "N1", "first_name": "New", "last_name": "Comer"})
    body = _post(client, key_a, changed).json()
    # Updated: F1-kid1, F1-kid2 (new guarantor), F1-g, F2-g; unchanged: F2-kid1, F2-kid2.
    assert body == {"created": 1, "updated": 4, "unchanged": 2, "rejected": []}
    assert not Balance.objects.filter(guarantor__external_id="F1-g").exists()
    assert Visit.objects.filter(patient__external_id="F1-kid1").count() == 2
    only_visit = changed[3:6]  # F2 as stored now, with a new visit day for F2-kid1
    only_visit[0]["last_visit_on"] = "2026-03-04"
    assert _post(client, key_a, only_visit).json() == {"created": 0, "updated": 1, "unchanged": 2,
                                                       "rejected": []}


def test_malformed_records_are_rejected_one_by_one_and_the_rest_applied(client, world, key_a, upsert_method):
    records = family()
    records += [
        {"external_id": "B1", "first_name": "Bad", "last_name": "Phone", "mobile_phone": "12",
         "consents": {}},
        {"external_id": "B2", "first_name": "Bad", "last_name": "Email", "email": "not-an-email"},
        {"external_id": "B3", "first_name": "", "last_name": "Nameless"},
        {"external_id": "B4", "first_name": "Bad", "last_name": "Date", "date_of_birth": "31/12/1990"},
        {"external_id": "B5", "first_name": "Bad", "last_name": "Amount", "guarantor_external_id": "B5",
         "balance": {"total": "12.345", "aging": {"d31_60": "x"}}},
        {"external_id": "B6", "first_name": "Orphan", "last_name": "Kid", "guarantor_external_id": "nobody"},
        {"external_id": "B7", "first_name": "Kid", "last_name": "OfBad", "guarantor_external_id": "B5"},
        "not an object",
        {"first_name": "No", "last_name": "Id"},
        {"external_id": "F1-g", "first_name": "Twice", "last_name": "Reyes"},
    ]
    body = _post(client, key_a, records).json()
    assert (body["created"], body["updated"], body["unchanged"]) == (3, 0, 0)
    by_index = {}
    for r in body["rejected"]:
        by_index.setdefault(r["index"], set()).add(r["field"])
    assert by_index == {
        3: {"mobile_phone"}, 4: {"email"}, 5: {"first_name"}, 6: {"date_of_birth"},
        7: {"balance.total", "balance.aging.d31_60"}, 8: {"guarantor_external_id"},
        9: {"guarantor_external_id"}, 10: {""}, 11: {"external_id"}, 12: {"external_id"},
    }
    messages = {r["index"]: r["message"] for r in body["rejected"]}
    assert "unknown guarantor 'nobody'" in messages[8]
    assert "rejected" in messages[9]
    assert "appears again" in messages[12]
    assert set(Patient.objects.values_list("external_id", flat=True)) == {"F1-g", "F1-kid1", "F1-kid2"}


def test_a_dependent_may_name_a_guarantor_stored_by_an_earlier_request(client, world, key_a, upsert_method):
    _post(client, key_a, family()[2:])
    body = _post(client, key_a, family()[:2]).json()
    assert body == {"created": 2, "updated": 0, "unchanged": 0, "rejected": []}
    child = {"external_id": "X", "first_name": "A", "last_name": "B", "guarantor_external_id": "F1-kid1"}
    rejected = _post(client, key_a, [child]).json()["rejected"]
    assert rejected == [{"index": 0, "field": "guarantor_external_id",
                         "message": "'F1-kid1' is not a guarantor (their own guarantor)"}]


def test_the_same_external_id_in_two_practices_is_two_patients(client, world, key_a):
    key_c = api_key_create(practice=world.practice_c)[1]
    _post(client, key_a, family())
    other = copy.deepcopy(family())
    other[2]["first_name"] = "Other"
    assert _post(client, key_c, other).json()["created"] == 3
    assert Patient.objects.get(practice=world.practice_a, external_id="F1-g").first_name == "Ana"
    assert Patient.objects.get(practice=world.practice_c, external_id="F1-g").first_name == "Other"
    c_guarantor = Patient.objects.get(practice=world.practice_c, external_id="F1-g")
    assert Patient.objects.get(practice=world.practice_c, external_id="F1-kid1").guarantor == c_guarantor


def test_another_practices_key_cannot_read_or_change_them(client, world, key_a):
    key_c = api_key_create(practice=world.practice_c)[1]
    _post(client, key_a, family())
    assert client.get("/api/v1/patients/F1-g", HTTP_AUTHORIZATION=f"Bearer {key_c}").status_code == 404
    # A child of C naming A's guarantor finds no such guarantor in C.
    body = _post(client, key_c, family()[:1]).json()
    assert body["rejected"][0]["message"] == "unknown guarantor 'F1-g'"
    assert Patient.objects.filter(practice=world.practice_a).count() == 3
    assert client.get("/api/v1/patients/F1-g").status_code == 401


def test_get_returns_the_stored_record_in_the_same_shape(client, world, key_a):
    _post(client, key_a, family())
    body = client.get("/api/v1/patients/F1-g", HTTP_AUTHORIZATION=f"Bearer {key_a}").json()
    sent = family()[2]
    assert body["balance"] == sent["balance"]
    assert body["consents"] == sent["consents"]
    assert (body["email"], body["mobile_phone"]) == ("ana.reyes@example.test", "+13125550142")
    assert body["guarantor_external_id"] == "F1-g"
    kid = client.get("/api/v1/patients/F1-kid1", HTTP_AUTHORIZATION=f"Bearer {key_a}").json()
    assert kid["guarantor_external_id"] == "F1-g" and kid["balance"] is None
    # What GET returns can be sent back as it is, and changes nothing.
    assert _post(client, key_a, [body, kid]).json()["unchanged"] == 2


def test_requests_that_are_not_a_patient_list_get_a_clear_error(client, world, key_a):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key_a}"}
    bad_json = client.post("/api/v1/patients/bulk", "{", content_type="application/json", **headers)
    assert bad_json.status_code == 400 and "not JSON" in bad_json.json()["detail"]
    assert client.post("/api/v1/patients/bulk", {"people": []}, content_type="application/json",
                       **headers).status_code == 400
    too_many = [{"external_id": str(i)} for i in range(10_001)]
    response = _post(client, key_a, too_many)
    assert response.status_code == 413 and "10,000" in response.json()["detail"]
    assert not Patient.objects.exists()


def test_the_openapi_schema_documents_the_bulk_endpoint(client, world):
    schema = client.get("/api/v1/openapi.json").json()
    bulk = schema["paths"]["/api/v1/patients/bulk"]["post"]
    body = bulk["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["patients"]["items"]["$ref"] == "#/components/schemas/PatientRecord"
    record = schema["components"]["schemas"]["PatientRecord"]
    assert {"external_id", "consents", "balance", "guarantor_external_id"} <= set(record["properties"])
    assert "BulkResult" in schema["components"]["schemas"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_creating_the_same_family_link_every_dependent_to_the_stored_guarantor(world):
    import threading

    from django.db import connection

    from patients.services import patients_bulk_upsert

    records = [r for n in range(30) for r in family(f"C{n}")]
    results, start = [], threading.Barrier(3)

    def send():
        try:
            start.wait()
            results.append(patients_bulk_upsert(practice=world.practice_a, items=records).counts)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(c.created for c in results) == [0, 0, 90]
    assert sum(c.unchanged for c in results) == 180
    patients = Patient.objects.filter(practice=world.practice_a)
    assert patients.count() == 90
    stored_ids = set(patients.values_list("id", flat=True))
    assert set(patients.values_list("guarantor_id", flat=True)) <= stored_ids


def test_get_finds_an_external_id_with_a_slash(client, world, key_a):
    record = {"external_id": "DX/1042", "first_name": "Sam", "last_name": "Slash"}
    assert _post(client, key_a, [record]).json()["created"] == 1
    body = client.get("/api/v1/patients/DX/1042", HTTP_AUTHORIZATION=f"Bearer {key_a}").json()
    assert body["external_id"] == "DX/1042" and body["guarantor_external_id"] == "DX/1042"


def test_awkward_text_is_stored_exactly_through_either_path(client, world, key_a, upsert_method):
    names = ['O\'Brien, "Jr"', "Back\\slash\\t", "Semi;colon|pipe", "Zoë 李", "NULL", "\\N", ""]
    records = [{"external_id": f"W{i}", "first_name": name or "x", "last_name": name or "y"}
               for i, name in enumerate(names)]
    assert _post(client, key_a, records).json()["created"] == len(names)
    stored = dict(Patient.objects.filter(practice=world.practice_a).values_list("external_id", "last_name"))
    assert stored == {f"W{i}": name or "y" for i, name in enumerate(names)}
    assert _post(client, key_a, records).json()["unchanged"] == len(names)


@pytest.mark.parametrize("method", ["sql", "orm"])
def test_stored_guarantors_are_looked_up_the_same_either_way(client, world, key_a, method):
    """The check of links to stored guarantors: one array query on PostgreSQL, chunks elsewhere."""
    from patients.guarantor_links import GuarantorLinks

    _post(client, key_a, family("F1"))
    key_b = api_key_create(practice=world.practice_b)[1]
    _post(client, key_b, family("F2"))  # another practice's guarantor is unknown here
    checker = GuarantorLinks(practice=world.practice_a)
    flags = checker._stored_guarantor_flags({"F1-g", "F1-kid1", "F2-g", "nobody"}, method=method)
    assert flags == {"F1-g": True, "F1-kid1": False}


@pytest.mark.django_db(transaction=True)
def test_a_patient_stored_by_another_writer_during_the_merge_gets_409_and_changes_nothing(client, world):
    """New patients are plain INSERTs: if someone else (not an import) stores one of them between
    the staging and the merge, the request is refused as a whole and can be sent again."""
    import psycopg
    from django.db import connection

    secret = api_key_create(practice=world.practice_a)[1]
    settings = connection.settings_dict
    params = {"host": settings["HOST"], "port": settings["PORT"], "user": settings["USER"],
              "password": settings["PASSWORD"], "dbname": settings["NAME"]}

    def store_one_first(execute, sql, sql_params, many, context):
        if sql.lstrip().startswith("WITH new_patients"):
            with psycopg.connect(**params, autocommit=True) as other:
                other.execute(
                    "INSERT INTO patients_patient (practice_id, external_id, first_name, last_name, email, "
                    "mobile_phone, home_phone, time_zone, consent_email, consent_sms, consent_voice, "
                    "paperless, do_not_recall, created_at, updated_at) VALUES (%s, 'F1-kid2', 'Other', "
                    "'Writer', '', '', '', '', false, false, false, false, false, now(), now())",
                    [world.practice_a.pk])
        return execute(sql, sql_params, many, context)

    with connection.execute_wrapper(store_one_first):
        response = _post(client, secret, family())
    assert response.status_code == 409 and "Send it again" in response.json()["detail"]
    assert list(Patient.objects.filter(practice=world.practice_a).values_list("external_id", flat=True)) == [
        "F1-kid2"]
    again = _post(client, secret, family())
    assert again.json() == {"created": 2, "updated": 1, "unchanged": 0, "rejected": []}
    assert Patient.objects.get(external_id="F1-kid2").guarantor == Patient.objects.get(external_id="F1-g")


def test_visits_go_with_their_patient_and_their_practice(client, world, key_a):
    """Visit -> patient has no database constraint (see Visit): the ORM's cascade removes them."""
    _post(client, key_a, family("F1") + family("F2"))
    assert Visit.objects.filter(practice=world.practice_a).count() == 4
    Patient.objects.get(practice=world.practice_a, external_id="F1-kid1").delete()
    assert set(Visit.objects.values_list("patient__external_id", flat=True)) == {"F1-g", "F2-kid1", "F2-g"}
    world.practice_a.delete()
    assert not Visit.objects.exists()
    assert not Patient.objects.filter(external_id__startswith="F").exists()
