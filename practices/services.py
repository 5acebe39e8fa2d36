"""Writes for practices: one function per use case, each in a transaction."""

import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.text import slugify

from .addons import ADDONS, addon_get
from .models import (
    ApiKey,
    AuditEvent,
    Invitation,
    Membership,
    Practice,
    Role,
    validate_time_zone,
)
from .tokens import token_digest, token_new

User = get_user_model()

API_KEY_PREFIX = "bo_"


def audit_record(*, practice: Practice, actor, action: str, target: str = "", **detail) -> None:
    AuditEvent.objects.create(practice=practice, actor=actor if actor and actor.pk else None,
                              action=action, target=target[:200], detail=detail)


@transaction.atomic
def practice_create(*, name: str, time_zone: str, slug: str = "", phone: str = "",
                    address: str = "", addons: Iterable[str] = ()) -> Practice:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A practice needs a name."})
    validate_time_zone(time_zone)
    base = slugify(slug or name)[:50] or "practice"
    if slug and Practice.objects.filter(slug=base).exists():
        raise ValidationError({"slug": f"The slug {base!r} is taken."})
    candidate, n = base, 2
    while Practice.objects.filter(slug=candidate).exists():
        candidate, n = f"{base}-{n}", n + 1
    practice = Practice(name=name, slug=candidate, time_zone=time_zone, phone=phone,
                        address=address, **{addon_get(a).field: True for a in addons})
    practice.full_clean()
    practice.save()
    for path in settings.PRACTICE_CREATED_HOOKS:  # e.g. the default statement profile
        import_string(path)(practice)
    return practice


@transaction.atomic
def team_member_add(*, practice: Practice, email: str, role: str, password: str,
                    actor=None, full_name: str = "") -> Membership:
    """Add a person to a team directly, with a password the operator chose (the shell's
    `add_team_member --password`). Admins on the portal invite instead: `team_invite`."""
    email = _normalized_email(email)
    _check_role(role)
    if not password:
        raise ValidationError({"password": "Adding someone directly needs a password; "
                                           "otherwise send an invitation."})
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password, full_name=full_name)
    else:
        user.set_password(password)
        user.save(update_fields=["password"])
    _check_not_member(practice, email)
    membership = Membership.objects.create(practice=practice, user=user, role=role)
    audit_record(practice=practice, actor=actor, action="team.member_added", target=email,
                 role=role)
    return membership


def _normalized_email(email: str) -> str:
    return User.objects.normalize_email(email.strip()).lower()


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": f"Role must be one of {', '.join(Role.values)}."})


def _check_not_member(practice: Practice, email: str) -> None:
    # A member who never chose a password (added before invitations) may be invited again.
    if Membership.objects.filter(practice=practice, user__email__iexact=email).exclude(
            user__password__startswith=UNUSABLE_PASSWORD_PREFIX).exists():
        raise ValidationError({"email": f"{email} is already on this office's team."})


INVITATION_LIFETIME = timedelta(days=3)


@transaction.atomic
def team_invite(*, practice: Practice, email: str, role: str, actor,
                full_name: str = "") -> Invitation:
    """Invite a person to a practice's team; they join only when they accept.

    Whether the address has a login anywhere changes nothing here (the inviting admin learns
    nothing of other practices). Inviting an address again replaces its open invitation: a new
    link, and the old one stops working. The email goes once this transaction commits.
    """
    from .tasks import team_invite_send

    email = _normalized_email(email)
    _check_role(role)
    _check_not_member(practice, email)
    invitation = (Invitation.objects.select_for_update()
                  .filter(practice=practice, email=email, accepted_at=None, revoked_at=None).first()
                  or Invitation(practice=practice, email=email))
    invitation.role, invitation.full_name = role, full_name.strip()[:150]
    invitation.invited_by = actor if actor is not None and actor.pk else None
    invitation.token_hash, invitation.sent_at, invitation.expires_at = "", None, None
    invitation.save()
    audit_record(practice=practice, actor=actor, action="team.invited", target=email, role=role)
    transaction.on_commit(lambda: team_invite_send.delay(invitation.pk))
    return invitation


def invitation_token_issue(*, invitation: Invitation) -> str:
    """Make the invitation's link token as its email goes out (the caller holds the row
    locked); the token itself is never stored."""
    token = token_new()
    now = timezone.now()
    invitation.token_hash = token_digest(token)
    invitation.sent_at, invitation.expires_at = now, now + INVITATION_LIFETIME
    invitation.save(update_fields=["token_hash", "sent_at", "expires_at"])
    return token


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor) -> None:
    updated = Invitation.objects.filter(pk=invitation.pk, accepted_at=None, revoked_at=None).update(
        revoked_at=timezone.now())
    if updated:
        audit_record(practice=invitation.practice, actor=actor, action="team.invite_revoked",
                     target=invitation.email)


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user) -> Membership:
    """The invited person, signed in as the invited address, joins the team."""
    invitation = Invitation.objects.select_for_update().select_related("practice").get(
        pk=invitation.pk)
    if not invitation.is_open:
        raise ValidationError("This invitation no longer works.")
    if user.email.lower() != invitation.email:
        raise PermissionDenied("This invitation is for another email address.")
    membership, _ = Membership.objects.get_or_create(practice=invitation.practice, user=user,
                                                     defaults={"role": invitation.role})
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    audit_record(practice=invitation.practice, actor=user, action="team.invite_accepted",
                 target=user.email, role=invitation.role)
    return membership


@transaction.atomic
def invitation_accept_with_password(*, invitation: Invitation, password: str,
                                    full_name: str = "") -> tuple[Membership, "User"]:
    """Accept for an address without a usable login: it gets one with this password."""
    user = User.objects.select_for_update().filter(email__iexact=invitation.email).first()
    if user is None:
        user = User.objects.create_user(email=invitation.email, password=password,
                                        full_name=full_name.strip()[:150])
    elif user.has_usable_password():
        raise PermissionDenied("This address has a login: sign in to accept.")
    else:
        user.set_password(password)
        user.full_name = full_name.strip()[:150] or user.full_name
        user.save(update_fields=["password", "full_name"])
    return invitation_accept(invitation=invitation, user=user), user


def _admins_left(practice: Practice, excluding: Membership) -> int:
    return (Membership.objects.filter(practice=practice, role=Role.ADMIN, user__is_active=True)
            .exclude(pk=excluding.pk).count())


@transaction.atomic
def team_member_role_change(*, membership: Membership, role: str, actor) -> Membership:
    if role not in Role.values:
        raise ValidationError(f"Role must be one of {', '.join(Role.values)}.")
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Role.ADMIN and role != Role.ADMIN and not _admins_left(
            membership.practice, membership):
        raise ValidationError("An office needs at least one admin; make someone else admin first.")
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(practice=membership.practice, actor=actor, action="team.role_changed",
                 target=membership.user.email, old=old, new=role)
    return membership


@transaction.atomic
def team_member_remove(*, membership: Membership, actor) -> None:
    membership = Membership.objects.select_for_update().select_related("user").get(
        pk=membership.pk)
    if membership.role == Role.ADMIN and not _admins_left(membership.practice, membership):
        raise ValidationError("An office needs at least one admin; this is the last one.")
    audit_record(practice=membership.practice, actor=actor, action="team.member_removed",
                 target=membership.user.email)
    membership.delete()


@transaction.atomic
def api_key_create(*, practice: Practice, label: str = "", actor=None) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is shown once and never stored."""
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(practice=practice, label=label.strip()[:100],
                                prefix=secret[:10],
                                key_hash=token_digest(secret), created_by=actor)
    audit_record(practice=practice, actor=actor, action="api_key.created", target=key.prefix,
                 label=key.label)
    return key, secret


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor=None) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(practice=api_key.practice, actor=actor, action="api_key.revoked",
                     target=api_key.prefix)
    for digest, (_, known) in list(_recent_keys.items()):
        if known.pk == api_key.pk:
            _recent_keys.pop(digest, None)
    return api_key


# Active keys this process found lately, by the digest of their secret, with when they were
# looked up: a provider's burst of calls need not look its key up before each. A revoked key is
# refused at once by the process that revoked it, and by every other process once its entry
# is older than settings.API_KEY_CACHE_SECONDS. Only keys that exist are kept.
_recent_keys: dict[str, tuple] = {}


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """The active key for a presented secret, or None. Records when it was last used."""
    if not secret or not secret.startswith(API_KEY_PREFIX) or len(secret) > 200:
        return None
    digest = token_digest(secret)
    now = timezone.now()
    recent = _recent_keys.get(digest)
    if recent is not None and (now - recent[0]).total_seconds() < settings.API_KEY_CACHE_SECONDS:
        key = recent[1]
    else:
        key = (ApiKey.objects.select_related("practice")
               .filter(key_hash=digest, revoked_at__isnull=True).first())
        if key is None:
            _recent_keys.pop(digest, None)
            return None
        _recent_keys[digest] = (now, key)
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


PRACTICE_EDITABLE_FIELDS = ("name", "time_zone", "phone", "address",
                            *(addon.field for addon in ADDONS))


@transaction.atomic
def practice_update(*, practice: Practice, actor, **changes) -> list[str]:
    """Apply an admin's edits to an office and record which fields changed."""
    unknown = set(changes) - set(PRACTICE_EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    changed = [field for field, value in changes.items() if getattr(practice, field) != value]
    if not changed:
        return []
    before = {field: getattr(practice, field) for field in changed}
    for field in changed:
        setattr(practice, field, changes[field])
    practice.full_clean()
    practice.save(update_fields=changed)
    audit_record(practice=practice, actor=actor, action="practice.updated", target=practice.name,
                 changes={f: [str(before[f]), str(changes[f])] for f in changed})
    return changed
