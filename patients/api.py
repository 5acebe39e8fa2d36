"""The PMS's door: bulk upsert of patients, guarantors and balances, and a read-back."""

import json

import orjson
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict

from practices.api import Unauthorized

from . import selectors, services
from .records import collector_paused, record_to_json
from .upsert import GuarantorUnresolved, StoredMeanwhile

router = Router(tags=["patients"])


# The documented shape is what the checks in patients/records/ accept: a field with a default may be left
# out, and one whose type includes null may be sent as null (read as its default). Unknown fields
# are refused, except inside `consents`.

class Consents(Schema):
    email: bool | None = False
    sms: bool | None = False
    voice: bool | None = False
    paperless: bool | None = False


class Aging(Schema):
    model_config = ConfigDict(extra="forbid")

    current: str | None = "0.00"
    d31_60: str | None = "0.00"
    d61_90: str | None = "0.00"
    d91_120: str | None = "0.00"
    over_120: str | None = "0.00"


class BalanceRecord(Schema):
    model_config = ConfigDict(extra="forbid")

    total: str
    amount_due: str | None = "0.00"
    aging: Aging | None = None
    in_collections: bool | None = False
    on_payment_plan: bool | None = False
    outstanding_claims: int | None = 0
    as_of: str | None = None


class PatientRecord(Schema):
    """One patient as the PMS knows them. Amounts are decimal strings ("125.40"); dates YYYY-MM-DD."""

    model_config = ConfigDict(extra="forbid")

    external_id: str
    first_name: str
    last_name: str
    date_of_birth: str | None = None
    email: str | None = ""
    mobile_phone: str | None = ""
    home_phone: str | None = ""
    time_zone: str | None = ""
    guarantor_external_id: str | None = None
    consents: Consents | None = None
    do_not_recall: bool | None = False
    last_visit_on: str | None = None
    balance: BalanceRecord | None = None


class Rejection(Schema):
    index: int
    field: str
    message: str


class BulkResult(Schema):
    created: int
    updated: int
    unchanged: int
    rejected: list[Rejection]


class ApiError(Schema):
    detail: str


_BULK_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["patients"],
        "properties": {"patients": {
            "type": "array", "maxItems": services.BULK_LIMIT,
            "items": {"$ref": "#/components/schemas/PatientRecord"}}},
    }}},
}


@router.post(
    "/patients/bulk",
    response={200: BulkResult, 400: ApiError, 401: Unauthorized, 409: ApiError, 413: ApiError},
    summary="Create or update up to 10,000 patients",
    description=(
        "Idempotent on `external_id`: sending the same records again changes nothing and counts them "
        "as `unchanged`. Each invalid record is reported in `rejected` (its index in `patients`, the "
        "field and why) while the valid ones are applied. A guarantor is a patient whose "
        "`guarantor_external_id` is absent or their own id; dependents name their guarantor, who may "
        "come later in the same request or be stored already. Only guarantors carry a `balance`; a "
        "record without one leaves the stored balance as it is."),
    openapi_extra={"requestBody": _BULK_BODY},
)
def patients_bulk(request: HttpRequest):
    with collector_paused():
        return _patients_bulk(request)


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def _json_body(raw: bytes):
    """The parsed body, or 400. orjson parses the 10,000-record body several times faster than
    the json module, but refuses numbers beyond a double (1e999999999), which JSON allows: the
    json module reads those (as infinity), so the record's check refuses the field by name."""
    try:
        return orjson.loads(raw or b"null")
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        pass
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reading
        raise HttpError(400, "The body is not JSON: send {\"patients\": [...]}.") from None


def _patients_bulk(request: HttpRequest):
    body = _json_body(request.body)
    if not isinstance(body, dict) or not isinstance(body.get("patients"), list):
        raise HttpError(400, "Send {\"patients\": [record, ...]}.")
    if len(body["patients"]) > services.BULK_LIMIT:
        raise HttpError(413, f"At most {services.BULK_LIMIT:,} patients a request; this one has "
                             f"{len(body['patients']):,}. Split it.")
    try:
        result = services.patients_bulk_upsert(practice=request.auth.practice, items=body["patients"])
    except GuarantorUnresolved:
        # A guarantor was changed or removed by another request while this one was applied.
        raise HttpError(409, "Guarantors changed while this request was applied; nothing was "
                             "changed. Send it again.") from None
    except StoredMeanwhile:
        raise HttpError(409, "Some of these patients were stored by another request while this one "
                             "was applied; nothing was changed. Send it again.") from None
    return {"created": result.counts.created, "updated": result.counts.updated,
            "unchanged": result.counts.unchanged, "rejected": result.rejected}


@router.get("/patients/{path:external_id}", response={200: PatientRecord, 401: Unauthorized, 404: ApiError},
            summary="A stored patient, in the shape the bulk endpoint accepts")
def patient_read(request: HttpRequest, external_id: str):
    patient = selectors.patient_get_by_external_id(practice=request.auth.practice, external_id=external_id)
    if patient is None:
        return Status(404, {"detail": f"No patient with external_id {external_id!r} in this practice."})
    return Status(200, record_to_json(patient))
