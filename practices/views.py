from axes.utils import reset as axes_reset
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import selectors, services
from .access import admin_required, practice_required
from .dashboard import worklist
from .forms import (
    ApiKeyCreateForm,
    EmailAuthenticationForm,
    InvitationPasswordForm,
    OfficeSwitchForm,
    PasswordResetRequestForm,
    PracticeSettingsForm,
    RoleChangeForm,
    TeamMemberAddForm,
)
from .middleware import practice_remember
from .sign_in_limits import password_reset_allowed


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetRequestForm
    email_template_name = "registration/password_reset_email.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        refused = password_reset_allowed(self.request, form.cleaned_data["email"])
        if refused:
            form.add_error(None, refused)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        # Whoever can read the account's email has proved it: its sign-in locks end here.
        axes_reset(username=form.user.email)
        return response


class LoginView(auth_views.LoginView):
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


def _error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


@practice_required
def dashboard(request):
    now = timezone.now()
    sections = worklist(practice=request.practice, membership=request.membership, now=now)
    return render(request, "practices/dashboard.html", {
        "sections": sections, "today": timezone.localdate(now),
        "setup_clear": request.membership.is_admin and all(s.key != "setup" for s in sections),
    })


@login_required
@require_POST
def office_switch(request):
    form = OfficeSwitchForm(request.POST, memberships=request.memberships)
    if form.is_valid():
        practice_remember(request, form.cleaned_data["practice"].practice_id)
        messages.success(request, f"Now working in {form.cleaned_data['practice'].practice.name}.")
    else:
        messages.error(request, _error_text(ValidationError(form.errors["practice"])))
    target = request.POST.get("next", "")
    # A path on this site only: redirect() would read a bare word as a view name, and a control
    # character cannot go in a Location header.
    if not (target.startswith("/") and target.isprintable()
            and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())):
        target = "dashboard"
    return redirect(target)


@admin_required
def team(request):
    form = TeamMemberAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.team_invite(practice=request.practice, actor=request.user,
                                              **form.cleaned_data)
        except ValidationError as exc:
            form.add_error("email", _error_text(exc))
        else:
            # The same words whether or not the address has a login anywhere.
            messages.success(request, f"Invitation sent to {invitation.email}. They join the team "
                                      f"when they accept it.")
            return redirect("team")
    return render(request, "practices/team.html", {
        "form": form, "members": selectors.team_members(practice=request.practice),
        "invitations": selectors.invitations_pending(practice=request.practice),
        "role_form": RoleChangeForm(),
    })


@admin_required
@require_POST
def team_invitation_revoke(request, invitation_id):
    invitation = selectors.invitation_get(practice=request.practice, pk=invitation_id)
    services.invitation_revoke(invitation=invitation, actor=request.user)
    messages.success(request, f"The invitation to {invitation.email} no longer works.")
    return redirect("team")


INVITATION_SESSION = "invitation_token"


def invitation_open(request, token):
    """The emailed link. The token moves into the session and the page continues at an address
    without it, so it stays out of the history and the Referer header (as a password reset)."""
    if selectors.invitation_by_token(token=token) is None:
        return render(request, "practices/invitation.html", {"gone": True}, status=404)
    request.session[INVITATION_SESSION] = token
    return redirect("invitation_accept")


def invitation_accept(request):
    invitation = selectors.invitation_by_token(token=request.session.get(INVITATION_SESSION, ""))
    if invitation is None:
        return render(request, "practices/invitation.html", {"gone": True}, status=404)
    context = {"invitation": invitation}
    if selectors.login_for_email(email=invitation.email) is None:
        form = InvitationPasswordForm(
            get_user_model()(email=invitation.email, full_name=invitation.full_name),
            request.POST or None, initial={"full_name": invitation.full_name})
        if request.method == "POST" and form.is_valid():
            _membership, user = services.invitation_accept_with_password(
                invitation=invitation, password=form.cleaned_data["new_password1"],
                full_name=form.cleaned_data["full_name"])
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return _joined(request, invitation)
        return render(request, "practices/invitation.html", {**context, "form": form})
    if not request.user.is_authenticated or request.user.email != invitation.email:
        status = 403 if request.method == "POST" else 200
        return render(request, "practices/invitation.html", {**context, "sign_in": True},
                      status=status)
    if request.method == "POST":
        services.invitation_accept(invitation=invitation, user=request.user)
        return _joined(request, invitation)
    return render(request, "practices/invitation.html", {**context, "confirm": True})


def _joined(request, invitation):
    request.session.pop(INVITATION_SESSION, None)
    practice_remember(request, invitation.practice_id)
    messages.success(request, f"Welcome to the {invitation.practice.name} team.")
    return redirect("dashboard")


@admin_required
@require_POST
def team_member_role(request, member_id):
    membership = selectors.team_member_get(practice=request.practice, pk=member_id)
    form = RoleChangeForm(request.POST)
    if form.is_valid():
        try:
            services.team_member_role_change(membership=membership, actor=request.user,
                                             role=form.cleaned_data["role"])
            messages.success(request, f"{membership.user.email} is now {form.cleaned_data['role']}.")
        except ValidationError as exc:
            messages.error(request, _error_text(exc))
    else:
        messages.error(request, "Choose admin or staff.")
    return redirect("team")


@admin_required
@require_POST
def team_member_remove(request, member_id):
    membership = selectors.team_member_get(practice=request.practice, pk=member_id)
    try:
        services.team_member_remove(membership=membership, actor=request.user)
        messages.success(request, f"Removed {membership.user.email} from {request.practice.name}.")
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    return redirect("team")


@practice_required
def practice_settings(request):
    return render(request, "practices/settings.html", {
        "audit": selectors.audit_events(practice=request.practice)[:20],
    })


@admin_required
def office_edit(request):
    initial = {f: getattr(request.practice, f) for f in services.PRACTICE_EDITABLE_FIELDS}
    form = PracticeSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changed = services.practice_update(practice=request.practice, actor=request.user,
                                           **form.cleaned_data)
        messages.success(request, "Office settings saved." if changed else "Nothing changed.")
        return redirect("practice_settings")
    return render(request, "practices/office_edit.html", {"form": form})


NEW_KEY_SESSION = "api_key_new_secret"


@admin_required
def api_keys(request):
    form = ApiKeyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _key, secret = services.api_key_create(practice=request.practice, actor=request.user,
                                               label=form.cleaned_data["label"])
        # Post/redirect/get: reloading the page must not create a second key. The secret waits
        # in the server-side session for the one page view that shows it.
        request.session[NEW_KEY_SESSION] = secret
        return redirect("api_keys")
    return render(request, "practices/api_keys.html", {
        "form": form, "keys": selectors.api_keys(practice=request.practice),
        "new_secret": request.session.pop(NEW_KEY_SESSION, None),
    })


@admin_required
@require_POST
def api_key_revoke(request, api_key_id):
    key = selectors.api_key_get(practice=request.practice, pk=api_key_id)
    services.api_key_revoke(api_key=key, actor=request.user)
    messages.success(request, f"Revoked key {key.prefix}…; requests using it now get 401.")
    return redirect("api_keys")
