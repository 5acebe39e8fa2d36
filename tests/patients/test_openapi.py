"""The served OpenAPI schema of the patients endpoints says what the endpoints do."""

import pytest

from practices.services import api_key_create

pytestmark = pytest.mark.django_db

MINIMAL = {"external_id": "M1", "first_name": "Min", "last_name": "Imal"}


@pytest.fixture
def schema(client):
    return client.get("/api/v1/openapi.json").json()


@pytest.fixture
def post(client, world):
    secret = api_key_create(practice=world.practice_a, label="PMS")[1]

    def send(records):
        response = client.post("/api/v1/patients/bulk", {"patients": records},
                               content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert response.status_code == 200, response.content
        return response.json()

    return send


def _component(schema, name):
    return schema["components"]["schemas"][name]


def _nullable(prop) -> bool:
    return any(option.get("type") == "null" for option in prop.get("anyOf", []))


def _example(prop):
    """A value of the documented type that the checks accept."""
    types = {option.get("type") for option in prop.get("anyOf", [prop])}
    if "boolean" in types:
        return True
    if "integer" in types:
        return 1
    return "1.00"


def test_a_record_with_only_the_documented_required_fields_is_accepted(schema, post):
    record = _component(schema, "PatientRecord")
    assert set(record["required"]) == set(MINIMAL)
    assert "consents" not in record["required"]
    assert post([MINIMAL]) == {"created": 1, "updated": 0, "unchanged": 0, "rejected": []}


@pytest.mark.parametrize("field", sorted(MINIMAL))
def test_a_record_without_a_documented_required_field_is_rejected(schema, post, field):
    assert field in _component(schema, "PatientRecord")["required"]
    body = post([{k: v for k, v in MINIMAL.items() if k != field}])
    assert [r["field"] for r in body["rejected"]] == [field]


def test_every_field_documented_as_nullable_may_be_null(schema, post):
    props = _component(schema, "PatientRecord")["properties"]
    nullable = [name for name, prop in props.items() if _nullable(prop)]
    assert {"consents", "balance", "email", "date_of_birth"} <= set(nullable)
    body = post([{**MINIMAL, "external_id": f"N-{name}", name: None} for name in nullable])
    assert body["rejected"] == [] and body["created"] == len(nullable)


def test_a_balance_needs_only_its_documented_required_fields(schema, post):
    balance = _component(schema, "BalanceRecord")
    assert balance["required"] == ["total"]
    assert "aging" not in balance["required"]
    optional = [name for name in balance["properties"] if name not in balance["required"]]
    records = [{**MINIMAL, "external_id": "B-min", "balance": {"total": "10.00"}}]
    records += [{**MINIMAL, "external_id": f"B-null-{name}", "balance": {"total": "10.00", name: None}}
                for name in optional if _nullable(balance["properties"][name])]
    aging = _component(schema, "Aging")["properties"]
    records.append({**MINIMAL, "external_id": "B-aging",
                    "balance": {"total": "10.00", "aging": {k: _example(p) for k, p in aging.items()}}})
    body = post(records)
    assert body["rejected"] == [] and body["created"] == len(records)
    assert [r["field"] for r in post([{**MINIMAL, "balance": {"amount_due": "1.00"}}])["rejected"]] == [
        "balance.total"]


@pytest.mark.parametrize(("component", "record"), [
    ("PatientRecord", {**MINIMAL, "nickname": "x"}),
    ("BalanceRecord", {**MINIMAL, "balance": {"total": "1.00", "currency": "USD"}}),
    ("Aging", {**MINIMAL, "balance": {"total": "1.00", "aging": {"d1_30": "1.00"}}}),
])
def test_unknown_fields_are_refused_where_the_schema_forbids_them(schema, post, component, record):
    assert _component(schema, component)["additionalProperties"] is False
    assert post([record])["rejected"], record


@pytest.mark.parametrize(("method", "path", "url"), [
    ("post", "/api/v1/patients/bulk", "/api/v1/patients/bulk"),
    ("get", "/api/v1/patients/{external_id}", "/api/v1/patients/M1"),
])
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-key"])
def test_the_401_answer_is_documented_as_it_is_sent(schema, client, world, method, path, url, authorization):
    documented = schema["paths"][path][method]["responses"]["401"]["content"]["application/json"]["schema"]
    ref = documented["$ref"].rsplit("/", 1)[1]
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = getattr(client, method)(url, **({"data": {"patients": []}, "content_type": "application/json"}
                                              if method == "post" else {}), **headers)
    assert response.status_code == 401
    body = response.json()
    component = _component(schema, ref)
    assert set(body) == set(component["properties"]) == set(component["required"])
    assert all(isinstance(value, str) for value in body.values())
