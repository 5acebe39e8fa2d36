from django.utils import timezone

from .selectors import memberships_for_user

SESSION_KEY = "current_practice_id"


def _resolve(request):
    """Pick the signed-in user's current office.

    A link may name the office (?office=<slug>, as alert emails do) so a member of several
    offices lands in the right one; it becomes the remembered office. Otherwise the one
    remembered in the session, else the first.
    """
    memberships = memberships_for_user(user=request.user)
    linked = request.GET.get("office")
    if linked:
        for membership in memberships:
            if membership.practice.slug == linked:
                request.session[SESSION_KEY] = membership.practice_id
                break
    chosen = None
    wanted = request.session.get(SESSION_KEY)
    for membership in memberships:
        if membership.practice_id == wanted:
            chosen = membership
            break
    if chosen is None and memberships:
        chosen = memberships[0]
    return memberships, chosen


class CurrentPracticeMiddleware:
    """Sets request.memberships, request.membership and request.practice (None when signed out)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.memberships, request.membership = [], None
        if request.user.is_authenticated:
            request.memberships, request.membership = _resolve(request)
        request.practice = request.membership.practice if request.membership else None
        if request.practice is None:
            return self.get_response(request)
        # Staff read and type times in their office's time zone, on every screen.
        timezone.activate(request.practice.tz)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def practice_remember(request, practice_id: int) -> None:
    request.session[SESSION_KEY] = practice_id
