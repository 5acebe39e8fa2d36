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


api.add_router("/", practice_router)
api.add_router("/", payments_router)
api.add_router("/", patients_router)
api.add_router("/", statements_router)
