"""The QuickPay page and the sandbox checkout: no login, phone first, no JavaScript needed.

Every response is `Cache-Control: no-store` (a shared phone or a proxy keeps nothing) and
`Referrer-Policy: no-referrer` (the token in the address never leaves in a Referer header).

These pages are exempt from Django's CSRF check: under no-referrer a browser posts their forms
with `Origin: null` and no Referer, which that check refuses. A forged cross-site post would
need the page's address, and the address is the secret (a 128-bit token or checkout session
id): whoever has it can use the page anyway, and nobody is signed in here to be ridden.
"""

import secrets
from functools import wraps

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from practices.sign_in_limits import client_ip

from . import checkout, gateways, quickpay
from .forms import AmountForm, DateOfBirthForm, SandboxCardForm
from .models import Payment, PaymentStatus
from .quickpay import DobOutcome, PageState

VERIFIED_SESSION_KEY = "quickpay_verified_links"
PAGE = "payments/quickpay/page.html"


def public_page(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return csrf_exempt(require_http_methods(["GET", "POST"])(wrapper))


def _link_or_404(token: str):
    link = quickpay.quickpay_link_find(token=token)
    if link is None:
        raise Http404("No such link")
    return link


def _render(request, page, *, status=200, form=None, dob_form=None, error=""):
    if form is None and page.state == PageState.PAYABLE:
        form = AmountForm(initial={"choice": "due" if page.amount_due > 0 else "full",
                                   "attempt": secrets.token_urlsafe(16)})
    return render(request, PAGE, {"page": page, "practice": page.practice, "form": form,
                                  "dob_form": dob_form or DateOfBirthForm(),
                                  "error": error, "cancelled": request.GET.get("cancelled") == "1"},
                  status=status)


@public_page
def quickpay_page(request, token):
    link = _link_or_404(token)
    verified = link.pk in request.session.get(VERIFIED_SESSION_KEY, [])
    page = quickpay.quickpay_page(link=link, verified=verified)
    if request.method == "GET":
        quickpay.quickpay_open_record(link=link)
        return _render(request, page)
    if request.POST.get("step") == "dob":
        return _date_of_birth(request, page)
    return _pay(request, page, token)


def _date_of_birth(request, page):
    if page.state != PageState.DOB_REQUIRED:
        return _render(request, page, status=409 if page.shows_account else 200)
    form = DateOfBirthForm(request.POST)
    if not form.is_valid():
        return _render(request, page, dob_form=form, status=400)
    outcome = quickpay.quickpay_dob_check(link=page.link, date_of_birth=form.cleaned_data["date_of_birth"],
                                         client_address=client_ip(request))
    if outcome == DobOutcome.PASSED:
        request.session.cycle_key()  # a fresh session id once the visitor proved who they are
        request.session[VERIFIED_SESSION_KEY] = [*request.session.get(VERIFIED_SESSION_KEY, [])[-19:],
                                                 page.link.pk]
        return redirect(request.path)
    if outcome == DobOutcome.LINK_LOCKED:
        page = quickpay.quickpay_page(link=page.link, verified=False)
        return _render(request, page, status=403)
    if outcome == DobOutcome.ADDRESS_LIMITED:
        form.add_error(None, "Too many attempts from this device. Try again in an hour, or call the office.")
        return _render(request, page, dob_form=form, status=429)
    form.add_error("date_of_birth", "That date of birth does not match our records.")
    return _render(request, page, dob_form=form, status=400)


def _pay(request, page, token):
    if page.state != PageState.PAYABLE:
        return _render(request, page, status=409 if page.shows_account else 200)
    form = AmountForm(request.POST)
    if not form.is_valid():
        return _render(request, page, form=form, status=400)
    data = form.cleaned_data
    try:
        amount = checkout.amount_choose(page=page, choice=data["choice"], other=data["other_amount"])
        payment = checkout.payment_start(page=page, amount=amount, payer_email=data["payer_email"],
                                         attempt=data["attempt"], return_url=quickpay.link_url(token))
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for field, errors in exc.error_dict.items():
                form.add_error(field, errors)
        else:
            form.add_error(None, exc.messages)
        return _render(request, page, form=form, status=400)
    except gateways.GatewayUnavailable:
        return _render(request, page, status=503, error="We could not reach the card processor, and "
                       "nothing was charged. Please try again in a minute, or call the office.")
    return redirect(payment.checkout_url, permanent=False)


@public_page
def quickpay_paid(request, token):
    """Where the checkout sends the payer back. It shows what the webhook has recorded so far:
    coming back here is not proof of payment."""
    link = _link_or_404(token)
    session_id = request.GET.get("session_id", "")[:255]
    payment = (Payment.objects.filter(link=link, checkout_session_id=session_id).first()
               if session_id else None)
    if payment is None:
        raise Http404("No such payment")
    return render(request, "payments/quickpay/paid.html", {
        "practice": link.practice, "payment": payment,
        "confirmed": payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED,
                                        PaymentStatus.REFUNDED),
        "pending": payment.status == PaymentStatus.PENDING})


@public_page
def sandbox_checkout(request, session_id):
    """The sandbox gateway's hosted checkout (only while PAYMENTS_GATEWAY is sandbox)."""
    session = gateways.sandbox_checkout_get(session_id=session_id)
    if session is None:
        raise Http404("No such checkout")
    payment = session.payment
    success_url = session.success_url.replace("{CHECKOUT_SESSION_ID}", session.session_id)
    if payment.status != PaymentStatus.PENDING:
        if session.completed_at:
            return redirect(success_url)
        return _checkout_page(request, session, None, status=410, closed=True)
    if session.expires_at <= timezone.now():
        gateways.sandbox_checkout_expire(checkout=session)
        payment.refresh_from_db()
        return _checkout_page(request, session, None, status=410, closed=True)
    if request.method == "GET":
        return _checkout_page(request, session, SandboxCardForm(initial={"email": payment.payer_email}))
    form = SandboxCardForm(request.POST)
    if not form.is_valid():
        return _checkout_page(request, session, form, status=400)
    refusal = gateways.sandbox_checkout_pay(checkout=session, card_number=form.cleaned_data["card_number"],
                                            email=form.cleaned_data["email"])
    if refusal:
        form.add_error("card_number", refusal)
        return _checkout_page(request, session, form, status=402)
    return redirect(success_url)


def _checkout_page(request, session, form, *, status=200, closed=False):
    return render(request, "payments/quickpay/sandbox_checkout.html", {
        "checkout": session, "payment": session.payment, "practice": session.payment.practice,
        "form": form, "closed": closed}, status=status)
