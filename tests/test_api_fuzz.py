"""Every operation of the JSON API under schemathesis, and bodies over the upload limit.

Valid and invalid requests (both generation modes) go to the live server with a valid key; every
answer must be one the schema documents, and never a server error. The application events
operation has its own run with its own checks (tests/alerts/test_api_fuzz.py).
"""

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from practices.services import api_key_create

pytestmark = pytest.mark.django_db(transaction=True)
OWN_RUN = {("POST", "/api/v1/applications/events")}


@pytest.fixture
def api_key(world):
    return api_key_create(practice=world.practice_a, label="fuzz")[1]


def _operations(live_server):
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_api_operation_answers_as_documented_and_never_500(live_server, api_key, mode):
    operations = [op for op in _operations(live_server) if (op.method.upper(), op.path) not in OWN_RUN]
    assert {(op.method.upper(), op.path) for op in operations} >= {
        ("POST", "/api/v1/patients/bulk"), ("GET", "/api/v1/patients/{external_id}"),
        ("GET", "/api/v1/practice")}
    statuses = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def call(case):
            response = case.call(base_url=live_server.url, headers={"Authorization": f"Bearer {api_key}"})
            statuses.append((case.operation.label, response.status_code))
            # The bulk endpoint answers 200 for schema-invalid records: each is refused in
            # `rejected` while the others apply. Schema-valid records may still break a rule the
            # schema cannot state (a date in the future): refused the same way.
            case.validate_response(response, excluded_checks=[positive_data_acceptance,
                                                              negative_data_rejection])

        call()
    assert statuses and all(status < 500 for _, status in statuses), statuses


def test_a_body_over_the_upload_limit_is_413_in_json_on_every_operation_that_takes_one(
        live_server, api_key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    schema = requests.get(f"{live_server.url}/api/v1/openapi.json", timeout=10).json()
    with_body = [(path, method) for path, item in schema["paths"].items()
                 for method, operation in item.items() if "requestBody" in operation]
    assert {("/api/v1/patients/bulk", "post"), ("/api/v1/applications/events", "post")} <= set(with_body)
    for path, method in with_body:
        assert "413" in schema["paths"][path][method]["responses"], path
        body = {"patients": [{"external_id": "x" * 5000}], "event_id": "y" * 5000}
        response = requests.request(method, f"{live_server.url}{path}", json=body, timeout=10,
                                    headers={"Authorization": f"Bearer {api_key}"})
        assert response.status_code == 413, (path, response.status_code, response.text[:200])
        assert "4,096 bytes" in response.json()["detail"]
