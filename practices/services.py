"""Writes for practices: one function per use case, each in a transaction."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.text import slugify

from .models import ApiKey, AuditEvent, Membership, Practice, Role, validate_time_zone

User = get_user_model()

API_KEY_PREFIX = "bo_"


def audit_record(*, practice: Practice, actor, action: str, target: str = "", **detail) -> None:
    AuditEvent.objects.create(practice=practice, actor=actor if actor and actor.pk else None,
                              action=action, target=target[:200], detail=detail)


@transaction.atomic
def practice_create(*, name: str, time_zone: str, slug: str = "", phone: str = "",
                    address: str = "") -> Practice:
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
                        address=address)
    practice.full_clean()
    practice.save()
    for path in settings.PRACTICE_CREATED_HOOKS:  # e.g. the default statement profile
        import_string(path)(practice)
    return practice


@dataclass(frozen=True)
class TeamAddResult:
    membership: Membership
    created_user: bool
    invited: bool


@transaction.atomic
def team_member_add(*, practice: Practice, email: str, role: str, actor=None,
                    password: str | None = None, full_name: str = "") -> TeamAddResult:
    """Add a person to a practice's team, creating their login when they have none.

    A new login without a password gets an invite email with a set-password link, sent by the
    worker once this transaction commits.
    """
    from .tasks import team_invite_send

    email = User.objects.normalize_email(email.strip()).lower()
    if role not in Role.values:
        raise ValidationError({"role": f"Role must be one of {', '.join(Role.values)}."})
    user = User.objects.filter(email__iexact=email).first()
    created_user = user is None
    if created_user:
        user = User.objects.create_user(email=email, password=password, full_name=full_name)
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    if Membership.objects.filter(practice=practice, user=user).exists():
        raise ValidationError({"email": f"{email} is already on this office's team."})
    membership = Membership.objects.create(practice=practice, user=user, role=role)
    audit_record(practice=practice, actor=actor, action="team.member_added", target=email,
                 role=role)
    invited = not user.has_usable_password()
    if invited:
        transaction.on_commit(lambda: team_invite_send.delay(membership.pk))
    return TeamAddResult(membership=membership, created_user=created_user, invited=invited)


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


def _hash_key(secret: str) -> str:
    # Keys are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, practice: Practice, label: str = "", actor=None) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is shown once and never stored."""
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(practice=practice, label=label.strip()[:100],
                                prefix=secret[:10],
                                key_hash=_hash_key(secret), created_by=actor)
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
    return api_key


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """The active key for a presented secret, or None. Records when it was last used."""
    if not secret or not secret.startswith(API_KEY_PREFIX) or len(secret) > 200:
        return None
    key = (ApiKey.objects.select_related("practice")
           .filter(key_hash=_hash_key(secret), revoked_at__isnull=True).first())
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


PRACTICE_EDITABLE_FIELDS = ("name", "time_zone", "phone", "address", "addon_balance_notifications",
                            "addon_voice", "addon_on_demand", "addon_online_payments")


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
