"""API authentication: `Authorization: Bearer <key>`, a key belonging to one practice."""

from ninja import Router, Schema
from ninja.security import HttpBearer

from .services import api_key_authenticate


class PracticeApiKey(HttpBearer):
    def authenticate(self, request, token):
        key = api_key_authenticate(secret=token)
        if key is None:
            return None
        request.practice = key.practice
        return key


router = Router(tags=["practice"])


class Unauthorized(Schema):
    """The answer to a request without a valid API key (config/api.py)."""

    error: str
    detail: str


class PracticeOut(Schema):
    name: str
    slug: str
    time_zone: str


@router.get("/practice", response={200: PracticeOut, 401: Unauthorized},
            summary="The practice this API key belongs to")
def practice_whoami(request):
    return request.auth.practice
