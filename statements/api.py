"""The PMS's door for statement batches: post one, read its counts and status back."""

import orjson
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from patients.records import collector_paused

from . import selectors
from .ingest import MAX_STATEMENTS, BatchConflict, ProfileUnknown
from .models import BatchSource
from .services import statement_batch_receive

router = Router(tags=["statements"])


class StatementIn(Schema):
    """One guarantor's statement. Dates are YYYY-MM-DD; amounts decimal strings ("125.00")."""

    guarantor_external_id: str
    statement_date: str
    due_date: str
    amount_due: str
    balance: str


class Rejection(Schema):
    index: int
    field: str
    message: str


class BatchAnswer(Schema):
    batch_id: str
    profile: str
    accepted: int
    rejected: list[Rejection]
    notifications_queued: int
    no_channel: int
    note: str  # why nothing was queued (add-on off, profile not approved or inactive), or ""


class BatchStatusOut(Schema):
    batch_id: str
    profile: str
    status: str
    note: str
    source: str
    received_at: str
    received: int
    accepted: int
    rejected: int
    notifications_queued: int
    no_channel: int
    superseded: int
    notifications: dict[str, int]  # the batch's messages by current status


class ApiError(Schema):
    detail: str


class FieldErrors(Schema):
    detail: list[dict]


class Unauthorized(Schema):
    error: str
    detail: str


_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["batch_id", "statements"],
        "properties": {
            "batch_id": {"type": "string", "maxLength": 64, "description": "The PMS's id for this run."},
            "profile": {"type": "string", "description": "A statement profile's slug; the default one "
                                                         "when absent."},
            "statements": {"type": "array", "maxItems": MAX_STATEMENTS,
                           "items": StatementIn.model_json_schema()}},
    }}},
}


def _field_error(field: str, message: str, status: int = 422):
    return Status(status, {"detail": [{"loc": ["body", field], "msg": message, "type": "value_error"}]})


def _taken(statements: list):
    """(index, statement) of each, letting go of each parsed statement once it is checked: a
    request of 100,000 is not held twice (as parsed and as checked) at once."""
    for index in range(len(statements)):
        item, statements[index] = statements[index], None
        yield index, item


def _answer(outcome) -> dict:
    batch = outcome.batch
    return {"batch_id": batch.batch_id, "profile": batch.profile.slug, "accepted": batch.accepted,
            "rejected": outcome.rejected, "notifications_queued": batch.notifications_queued,
            "no_channel": batch.no_channel, "note": batch.note}


@router.post(
    "/statement-batches",
    response={201: BatchAnswer, 200: BatchAnswer, 400: ApiError, 401: Unauthorized, 409: ApiError,
              413: ApiError, 422: FieldErrors},
    summary="Send a statement batch (up to 100,000 statements)",
    description=(
        "One statement per guarantor. Each statement with an amount due raises the guarantor's "
        "dunning count and queues the messages of the profile's cadence at that level; a newer "
        "statement supersedes the guarantor's unsent messages. Invalid statements (unknown "
        "guarantors, patients who are not guarantors, bad dates or amounts, a guarantor twice) are "
        "reported one by one in `rejected` (`index` in `statements`) while the rest are applied. "
        "201: received. 200: this batch_id was received before with the same statements (nothing "
        "changes; the stored counts). 409: this batch_id was received with other statements. 422: "
        "an unknown profile or a bad batch_id. `note` says why nothing was queued, if so."),
    openapi_extra={"requestBody": _BODY},
)
def statement_batch_post(request: HttpRequest):
    with collector_paused():
        return _statement_batch_post(request)


def _statement_batch_post(request: HttpRequest):
    try:
        body = orjson.loads(request.body or b"null")
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        raise HttpError(400, 'The body is not JSON: send {"batch_id": ..., "statements": [...]}.') from None
    if not isinstance(body, dict):
        raise HttpError(400, 'Send {"batch_id": ..., "statements": [...]}.')
    statements = body.get("statements")
    if not isinstance(statements, list):
        return _field_error("statements", "A list of statements is required.")
    if len(statements) > MAX_STATEMENTS:
        raise HttpError(413, f"At most {MAX_STATEMENTS:,} statements a request; this one has "
                             f"{len(statements):,}. Split it into batches.")
    unknown = sorted(str(k)[:40] for k in body if k not in ("batch_id", "profile", "statements"))
    if unknown:
        return _field_error(unknown[0], "is not a field of a statement batch")
    try:
        outcome = statement_batch_receive(
            practice=request.auth.practice, batch_id=body.get("batch_id"), profile_slug=body.get("profile"),
            items=_taken(statements), source=BatchSource.API)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        return _field_error(field, " ".join(messages))
    except ProfileUnknown as exc:
        return _field_error("profile", str(exc))
    except BatchConflict as exc:
        raise HttpError(409, str(exc)) from None
    return Status(200 if outcome.repeat else 201, _answer(outcome))


@router.get("/statement-batches/{path:batch_id}",
            response={200: BatchStatusOut, 401: Unauthorized, 404: ApiError},
            summary="A statement batch's counts and status")
def statement_batch_read(request: HttpRequest, batch_id: str):
    batch = selectors.batch_get_by_batch_id(practice=request.auth.practice, batch_id=batch_id)
    if batch is None:
        return Status(404, {"detail": "No statement batch with that batch_id in this practice."})
    return Status(200, {
        "batch_id": batch.batch_id, "profile": batch.profile.slug, "status": batch.status, "note": batch.note,
        "source": batch.source, "received_at": batch.received_at.isoformat(), "received": batch.received,
        "accepted": batch.accepted, "rejected": batch.rejected_count,
        "notifications_queued": batch.notifications_queued, "no_channel": batch.no_channel,
        "superseded": batch.superseded,
        "notifications": selectors.batch_notification_counts(batch=batch),
    })
