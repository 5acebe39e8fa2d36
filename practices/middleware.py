from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from .selectors import memberships_for_user

SESSION_KEY = "current_practice_id"


def _resolve(request):
    """Pick the signed-in user's current office: the one remembered in the session (chosen
    with the switcher, a POST), else the first."""
    memberships = memberships_for_user(user=request.user)
    wanted = request.session.get(SESSION_KEY)
    chosen = next((m for m in memberships if m.practice_id == wanted), None)
    if chosen is None and memberships:
        chosen = memberships[0]
    return memberships, chosen


def _office_link_offer(request):
    """A link may name an office (?office=<slug>, as alert emails do). Following a link must
    not change what the session remembers, so for another of the user's offices the answer is
    a page offering the switch (a POST), which then continues to the same address."""
    linked = request.GET.get("office")
    if not linked or request.method != "GET" or linked == request.practice.slug:
        return None
    target = next((m for m in request.memberships if m.practice.slug == linked), None)
    if target is None:
        return None  # not one of theirs: the page shows the current office's view of it
    query = request.GET.copy()
    query.pop("office")
    follow_on = request.path + (f"?{query.urlencode()}" if query else "")
    return render(request, "practices/office_link.html",
                  {"target": target.practice, "follow_on": follow_on})


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
            return _office_link_offer(request) or self.get_response(request)
        finally:
            timezone.deactivate()


def practice_remember(request, practice_id: int) -> None:
    request.session[SESSION_KEY] = practice_id


class NoStoreMiddleware:
    """Every answer of the application (pages, partials, the API) is marked not to be stored:
    patient data must not stay in a shared computer's browser cache or in a proxy. Static files
    are answered before this point (WhiteNoise) with their own caching."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Cache-Control" not in response:
            add_never_cache_headers(response)
        return response
