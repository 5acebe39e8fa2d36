"""JSON API: payment-plan application events from the financing provider; payments for the PMS."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from django.core.exceptions import ValidationError
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from pydantic import AfterValidator, AwareDatetime, StringConstraints, field_validator

from .selectors import payments_since
from .services import application_event_record

router = Router(tags=["applications"])

# How far ahead of our clock an event's time may be: clocks drift, events do not come from the
# future.
FUTURE_TOLERANCE = timedelta(minutes=5)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def _storable(value: str) -> str:
    # JSON allows lone surrogates ("\ud800"), which cannot be stored as UTF-8; blank ids say nothing.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# Printable text without control characters (PostgreSQL refuses NUL in text columns).
Text = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$"),
                 AfterValidator(_storable)]


# The patient record keeps the PMS id in a shorter column than the application's own ids.
PatientId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$"),
                      AfterValidator(_storable)]


class PatientIn(Schema):
    external_id: PatientId = Field(description="The patient's id in the practice-management system.")
    first_name: Text
    last_name: Text


class ApplicationEventIn(Schema):
    event_id: Text = Field(description="Your id for this event; sending it again changes nothing.")
    application_id: Text = Field(description="Your id for the application the event belongs to.")
    type: Literal["started", "completed", "declined", "approved", "activated", "prequalified"]
    occurred_at: AwareDatetime = Field(
        description="When it happened, ISO 8601 with a UTC offset; at most 5 minutes ahead of now.")
    patient: PatientIn

    @field_validator("occurred_at")
    @classmethod
    def not_in_the_future(cls, value: datetime) -> datetime:
        if value > timezone.now() + FUTURE_TOLERANCE:
            raise ValueError("must not be more than 5 minutes in the future")
        if value < EARLIEST:
            raise ValueError("must be in the year 2000 or later")
        if abs(value.utcoffset()) > timedelta(hours=14):
            raise ValueError("the UTC offset must be between -14:00 and +14:00")
        return value.astimezone(UTC)


class ApplicationEventOut(Schema):
    event_id: str
    application_id: str
    status: Literal["accepted", "duplicate"]
    application_state: str


class ErrorOut(Schema):
    error: str
    detail: str


class BadRequestOut(Schema):
    detail: str


class ValidationErrorOut(Schema):
    detail: list[dict]


@router.post(
    "/applications/events",
    response={202: ApplicationEventOut, 200: ApplicationEventOut, 400: BadRequestOut, 401: ErrorOut,
              413: ErrorOut, 422: ValidationErrorOut},
    summary="Report an event of a patient's payment-plan application",
    description="202 when accepted; 200 when this event_id was accepted before (nothing changes). "
                "Events may arrive late and out of order: what happens follows `occurred_at`. "
                "400: the body is not JSON; 413: the body is too large; 422: field errors.",
)
def application_event_post(request, payload: ApplicationEventIn):
    try:
        result = application_event_record(
            practice=request.auth.practice, event_id=payload.event_id,
            application_id=payload.application_id, type=payload.type, occurred_at=payload.occurred_at,
            patient_external_id=payload.patient.external_id, patient_first_name=payload.patient.first_name,
            patient_last_name=payload.patient.last_name)
    except ValidationError as exc:
        return Status(422, {"detail": [
            {"loc": ["body", *field.split(".")], "msg": " ".join(messages), "type": "value_error"}
            for field, messages in exc.message_dict.items()]})
    application = result.event.application
    return Status(202 if result.created else 200, {
        "event_id": result.event.event_id, "application_id": application.external_id,
        "status": "accepted" if result.created else "duplicate", "application_state": application.state,
    })


# --- payments, for the PMS to post ---

MAX_CURSOR = 2**63 - 1


def _cursor(value: str) -> str:
    if value and int(value) > MAX_CURSOR:
        raise ValueError("is past the largest cursor")
    return value


Cursor = Annotated[str, StringConstraints(max_length=19, pattern=r"^[0-9]*$"), AfterValidator(_cursor)]


class PaymentsQuery(Schema):
    since: Cursor = Field("", description="The `next_cursor` of the previous page; empty for the first "
                                          "page. Asking again with the same cursor gives the same "
                                          "payments (and any that changed since).")
    limit: int = Field(100, ge=1, le=500, description="Payments per page.")


class PaymentOut(Schema):
    id: int = Field(description="Our id for the payment: post it once, as the PMS's idempotency key.")
    cursor: str = Field(description="This change's place in the feed.")
    status: Literal["succeeded", "partially_refunded", "refunded"]
    amount: str = Field(description="Amount paid, in dollars, e.g. \"100.00\".")
    amount_refunded: str
    currency: str
    guarantor_external_id: str = Field(description="The guarantor's id in the PMS.")
    paid_at: datetime
    refunded_at: datetime | None
    gateway: Literal["stripe", "sandbox"]
    gateway_payment_id: str = Field(description="Stripe's PaymentIntent id (sandbox: a test id).")
    source: str | None = Field(description="statement, on_demand, payment_request or manual: what "
                                           "carried the QuickPay link.")
    channel: str | None = Field(description="email, sms, voice, qr or paper.")
    dunning_level: int | None
    notification_key: str | None = Field(description="The message that carried the link.")


class PaymentsPage(Schema):
    payments: list[PaymentOut]
    next_cursor: str = Field(description="Pass as `since` for the next page (the same `since` when "
                                         "nothing new).")
    has_more: bool


def _payment_out(payment) -> dict:
    link = payment.link
    return {
        "id": payment.pk, "cursor": str(payment.change_seq), "status": payment.status,
        "amount": f"{payment.amount:.2f}", "amount_refunded": f"{payment.amount_refunded:.2f}",
        "currency": payment.currency, "guarantor_external_id": payment.guarantor.external_id,
        "paid_at": payment.succeeded_at, "refunded_at": payment.refunded_at, "gateway": payment.gateway,
        "gateway_payment_id": payment.payment_intent_id,
        "source": link.source if link else None, "channel": link.channel if link else None,
        "dunning_level": link.dunning_level if link else None,
        "notification_key": link.notification_key if link else None,
    }


@router.get(
    "/payments", response={200: PaymentsPage, 401: ErrorOut, 422: ValidationErrorOut}, tags=["payments"],
    summary="Payments to post in the PMS, in the order they happened",
    description="Each payment appears when it succeeds and again when it is refunded (wholly or in "
                "part), with its current amounts. Keyset paging: pass the `next_cursor` you got as "
                "`since`; the same `since` always gives the same payments, plus any newer changes.",
)
def payments_list(request, query: Query[PaymentsQuery]):
    since = int(query.since or 0)
    rows = payments_since(practice=request.auth.practice, since=since, limit=query.limit + 1)
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    return Status(200, {"payments": [_payment_out(p) for p in rows],
                        "next_cursor": str(rows[-1].change_seq) if rows else query.since,
                        "has_more": more})
