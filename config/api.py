from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from patients.api import router as patients_router
from payments.api import router as payments_router
from practices.api import PracticeApiKey
from practices.api import router as practice_router
from statements.api import router as statements_router

api = NinjaAPI(
    title="Balance Outreach API",
    version="1",
    description="For practice-management systems and financing providers. Authenticate with "
                "`Authorization: Bearer <api key>`; keys are created by a practice admin.",
    auth=PracticeApiKey(),
    urls_namespace="api-v1",
    docs_url="/docs",
)


@api.exception_handler(AuthenticationError)
def unauthorized(request, exc):
    return api.create_response(request, {
        "error": "unauthorized",
        "detail": "Missing, unknown or revoked API key. Send 'Authorization: Bearer <key>'.",
    }, status=401)


@api.exception_handler(RequestDataTooBig)
def too_large(request, exc):
    # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE; a JSON client gets JSON.
    return api.create_response(request, {
        "error": "too_large",
        "detail": f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes. Send it in "
                  "smaller requests.",
    }, status=413)


@api.exception_handler(SuspiciousOperation)
def refused(request, exc):
    # The other bodies Django will not read (too many form fields or files): JSON, not a page.
    return api.create_response(request, {"error": "bad_request", "detail": "The body cannot be read."},
                               status=400)


api.add_router("/", practice_router)
api.add_router("/", payments_router)
api.add_router("/", patients_router)
api.add_router("/", statements_router)


def not_found(request, *args, **kwargs):
    """Any other URL under /api/ (also one no route can match, such as an id with a line break):
    a JSON client gets JSON."""
    return JsonResponse({"error": "not_found", "detail": "No such API URL."}, status=404)
