"""View decorators for the portal: signed in, member of the current office, admin, add-on on."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRefresh

from .addons import addon_enabled, addon_get
from .selectors import team_admins


def _no_office(request):
    return render(request, "practices/no_office.html", status=403)


def _office_mismatch(request):
    """A form posted from a page opened for another office (the office was switched in another
    tab since) is refused rather than saved into the office now current."""
    claimed = request.POST.get("office") or request.headers.get("X-Office")
    if request.method != "POST" or not claimed or claimed == request.practice.slug:
        return None
    messages.error(request, f"That page was opened for another office; you are now working in "
                            f"{request.practice.name}. Nothing was saved: check the page and try again.")
    if request.htmx:
        return HttpResponseClientRefresh()
    return redirect(request.path)


def practice_required(view):
    """Signed in and a member of at least one office; request.practice is the current one."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.membership:
            return _no_office(request)
        return _office_mismatch(request) or view(request, *args, **kwargs)

    return wrapper


def admin_required(view):
    """As practice_required, and an admin of the current office."""

    @practice_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.membership.is_admin:
            return render(request, "practices/admin_only.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def addon_required(name: str):
    """As practice_required, and the current office has the add-on `name` switched on; else a
    403 page naming the add-on and the office's admins, who can turn it on. An unknown name
    fails where the decorator is written."""
    addon = addon_get(name)

    def decorator(view):
        @practice_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not addon_enabled(request.practice, addon.name):
                return render(request, "practices/addon_off.html", {
                    "addon": addon, "admins": team_admins(practice=request.practice)}, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
