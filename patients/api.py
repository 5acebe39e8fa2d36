"""The PMS's door: bulk upsert of patients, guarantors and balances, and a read-back."""

import orjson
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from . import selectors, services
from .records import record_to_json
from .upsert import GuarantorUnresolved

router = Router(tags=["patients"])


class Consents(Schema):
    email: bool = False
    sms: bool = False
    voice: bool = False
    paperless: bool = False


class Aging(Schema):
    current: str = "0.00"
    d31_60: str = "0.00"
    d61_90: str = "0.00"
    d91_120: str = "0.00"
    over_120: str = "0.00"


class BalanceRecord(Schema):
    total: str
    amount_due: str = "0.00"
    aging: Aging
    in_collections: bool = False
    on_payment_plan: bool = False
    outstanding_claims: int = 0
    as_of: str | None = None


class PatientRecord(Schema):
    """One patient as the PMS knows them. Amounts are decimal strings ("125.40"); dates YYYY-MM-DD."""

    external_id: str
    first_name: str
    last_name: str
    date_of_birth: str | None = None
    email: str = ""
    mobile_phone: str = ""
    home_phone: str = ""
    time_zone: str = ""
    guarantor_external_id: str | None = None
    consents: Consents
    do_not_recall: bool = False
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
    "/patients/bulk", response={200: BulkResult, 400: ApiError, 409: ApiError, 413: ApiError},
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
    try:
        # orjson: the 10,000-record body parsed several times faster than by the json module.
        body = orjson.loads(request.body or b"null")
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        raise HttpError(400, "The body is not JSON: send {\"patients\": [...]}.") from None
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
    return {"created": result.counts.created, "updated": result.counts.updated,
            "unchanged": result.counts.unchanged, "rejected": result.rejected}


@router.get("/patients/{path:external_id}", response={200: PatientRecord, 404: ApiError},
            summary="A stored patient, in the shape the bulk endpoint accepts")
def patient_read(request: HttpRequest, external_id: str):
    patient = selectors.patient_get_by_external_id(practice=request.auth.practice, external_id=external_id)
    if patient is None:
        return Status(404, {"detail": f"No patient with external_id {external_id!r} in this practice."})
    return Status(200, record_to_json(patient))
