"""View decorators for the portal: signed in, member of the current office, admin."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


def _no_office(request):
    return render(request, "practices/no_office.html", status=403)


def practice_required(view):
    """Signed in and a member of at least one office; request.practice is the current one."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.membership:
            return _no_office(request)
        return view(request, *args, **kwargs)

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
