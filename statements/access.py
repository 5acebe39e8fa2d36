"""The balance-notifications add-on as a gate on the statements screens that configure or
preview sending (profiles, cadences, proofs). Stored batches stay readable with it off."""

from functools import wraps

from django.shortcuts import render


def balance_notifications_required(view):
    """Inside practice_required/admin_required: the current office has the add-on on."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.practice.addon_balance_notifications:
            return render(request, "statements/addon_off.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper
