import zoneinfo

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from .addons import ADDONS


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (for example America/Chicago).")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person with a portal login. Emails are stored lower-cased and are unique."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self):
        return self.email

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


class Practice(models.Model):
    """A tenant: one office. Everything a screen shows belongs to exactly one practice."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, default="America/New_York",
                                 validators=[validate_time_zone])
    phone = models.CharField(max_length=32, blank=True)
    address = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


# One switch per add-on of the registry: practice.addon_balance_notifications, addon_voice, ...
for _addon in ADDONS:
    Practice.add_to_class(_addon.field, models.BooleanField(_addon.label, default=False))


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    STAFF = "staff", "Staff"


class Membership(models.Model):
    """A user's place in a practice's team."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships")
    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STAFF)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "practice"], name="membership_unique"),
        ]
        ordering = ["practice__name"]

    def __str__(self):
        return f"{self.user} @ {self.practice} ({self.role})"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


class ApiKey(models.Model):
    """A practice's key for the JSON API. Only a SHA-256 of the secret is stored."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="api_keys")
    label = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, validators=[RegexValidator(r"^[A-Za-z0-9_-]+$")])
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix}… ({self.label or 'no label'})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditEvent(models.Model):
    """Who did what, in which practice. Holds ids and labels, never patient details."""

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["practice", "-created_at"], name="audit_practice_recent")]

    def __str__(self):
        return f"{self.action} {self.target}"


class Invitation(models.Model):
    """An offer to join a practice's team, sent to an email address.

    Nobody joins a team without acting: the person at the address accepts through the emailed
    link (signing in to their login, or choosing a password when they have none). The link's
    token is stored as a SHA-256 only; it is made when the email goes out.
    """

    practice = models.ForeignKey(Practice, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    full_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STAFF)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    token_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open invitation per person and office: inviting again refreshes it.
            models.UniqueConstraint(fields=["practice", "email"], name="invitation_open_unique",
                                    condition=models.Q(accepted_at=None, revoked_at=None)),
            models.UniqueConstraint(fields=["token_hash"], name="invitation_token_unique",
                                    condition=~models.Q(token_hash="")),
        ]

    def __str__(self):
        return f"{self.email} to {self.practice} ({self.role})"

    @property
    def is_open(self) -> bool:
        return (self.accepted_at is None and self.revoked_at is None and self.expires_at is not None
                and self.expires_at > timezone.now())
