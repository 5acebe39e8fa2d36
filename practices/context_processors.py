from django.conf import settings


def portal(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"messaging_sandbox": settings.MESSAGING_SANDBOX}
    membership = request.membership
    return {
        "current_practice": request.practice,
        "current_membership": membership,
        "office_memberships": request.memberships,
        "is_practice_admin": bool(membership and membership.is_admin),
        "messaging_sandbox": settings.MESSAGING_SANDBOX,
    }
