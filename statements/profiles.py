"""Statement profiles: the default "Standard" profile, edits to a cadence, and its proof.

What sends is a profile's approved proof (models.ProfileVersion), a frozen copy of its steps
with each template's version at the moment an admin approved it. Editing steps or templates
afterwards changes only the draft; `profile_has_changes` tells the screens that a new proof is
waiting for approval.
"""

from dataclasses import dataclass
from datetime import time
from types import SimpleNamespace

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from notifications.models import MessageTemplate, MessageTemplateVersion
from practices.services import audit_record

from .models import (
    DUE_OFFSETS,
    MAX_LEVEL,
    STATEMENT_OFFSETS,
    Anchor,
    CadenceStep,
    ProfileVersion,
    StatementProfile,
)

STANDARD_NAME, STANDARD_SLUG = "Standard", "standard"


@dataclass(frozen=True)
class StandardTemplate:
    name: str
    channel: str
    subject: str
    body: str


_SIGNATURE = "{{ practice.name }}\n{{ practice.address }}\n\nTo stop these emails: {{ unsubscribe_link }}"
STANDARD_TEMPLATES = {
    "l1-email": StandardTemplate(
        "Statement email", "email", "Your statement from {{ practice.name }}",
        "Hello {{ patient.first_name }},\n\nYour statement of {{ statement.statement_date }} from "
        "{{ practice.name }} is ready. The amount due is {{ statement.amount_due }}, by "
        "{{ statement.due_date }} (account balance {{ statement.balance }}).\n\n"
        "Pay online: {{ quickpay_link }}\nQuestions? Call us at {{ practice.phone }}.\n\n" + _SIGNATURE),
    "l1-sms": StandardTemplate(
        "Statement reminder text", "sms", "",
        "{{ practice.name }}: Hi {{ patient.first_name }}, a reminder that {{ statement.amount_due }} "
        "is due {{ statement.due_date }}. Pay: {{ quickpay_link }} Reply STOP to opt out."),
    "l2-email": StandardTemplate(
        "Second notice email", "email", "Second notice: your balance at {{ practice.name }}",
        "Hello {{ patient.first_name }},\n\nWe have not yet received payment of "
        "{{ statement.amount_due }} on your account with {{ practice.name }} (balance "
        "{{ statement.balance }}). Please pay by {{ statement.due_date }}.\n\n"
        "Pay online: {{ quickpay_link }}\nIf you have already paid, thank you. Questions? Call "
        "{{ practice.phone }}.\n\n" + _SIGNATURE),
    "l2-sms": StandardTemplate(
        "Second notice text", "sms", "",
        "{{ practice.name }}: {{ patient.first_name }}, {{ statement.amount_due }} on your account is "
        "past due. Pay: {{ quickpay_link }} or call {{ practice.phone }}. Reply STOP to opt out."),
    "l3-email": StandardTemplate(
        "Final notice email", "email", "Final notice from {{ practice.name }}",
        "Hello {{ patient.first_name }},\n\nThis is a final notice: {{ statement.amount_due }} on your "
        "account with {{ practice.name }} is overdue (balance {{ statement.balance }}). Please pay "
        "by {{ statement.due_date }} or call us at {{ practice.phone }} to arrange a payment "
        "plan.\n\nPay online: {{ quickpay_link }}\n\n" + _SIGNATURE),
    "l3-sms": StandardTemplate(
        "Final notice text", "sms", "",
        "{{ practice.name }}: FINAL NOTICE. {{ patient.first_name }}, {{ statement.amount_due }} is "
        "overdue. Pay: {{ quickpay_link }} or call {{ practice.phone }}. Reply STOP to opt out."),
    "l3-voice": StandardTemplate(
        "Final notice call", "voice", "",
        "Hello, this is a message from {{ practice.name }}. Please call us at {{ practice.phone }} "
        "about your account. Again, the number is {{ practice.phone }}. Thank you."),
}
# (level, days after the statement date, template): level 3 serves every higher count.
STANDARD_STEPS = [
    (1, 0, "l1-email"), (1, 10, "l1-sms"),
    (2, 0, "l2-email"), (2, 5, "l2-sms"),
    (3, 0, "l3-email"), (3, 3, "l3-sms"), (3, 7, "l3-voice"),
]


def step_snapshot(step, template_version: int, send_hour: time) -> dict:
    at = step.at_time or send_hour
    return {"id": step.id, "level": step.level, "anchor": step.anchor, "offset_days": step.offset_days,
            "at": at.strftime("%H:%M"), "channel": step.channel, "template_id": step.template_id,
            "template_name": step.template.name, "template_version": template_version}


def standard_profile_write(practice_id: int, m: SimpleNamespace, now) -> None:
    """Write the Standard profile, its templates and its approved proof for a practice.

    `m` names the model classes (MessageTemplate, MessageTemplateVersion, StatementProfile,
    CadenceStep, ProfileVersion): the live ones, or a migration's historical ones. The product's
    own templates are checked by the tests, so they are written without the editor's checks.
    """
    templates = {}
    for key, t in STANDARD_TEMPLATES.items():
        template, created = m.MessageTemplate.objects.get_or_create(
            practice_id=practice_id, name=t.name,
            defaults={"purpose": "balance", "channel": t.channel, "current_version": 1})
        if created:
            m.MessageTemplateVersion.objects.create(template=template, number=1, subject=t.subject,
                                                    body=t.body)
        templates[key] = template
    slug = STANDARD_SLUG
    n = 2
    while m.StatementProfile.objects.filter(practice_id=practice_id, slug=slug).exists():
        slug, n = f"{STANDARD_SLUG}-{n}", n + 1
    is_default = not m.StatementProfile.objects.filter(practice_id=practice_id, is_default=True).exists()
    profile = m.StatementProfile.objects.create(practice_id=practice_id, name=STANDARD_NAME, slug=slug,
                                                is_default=is_default, send_hour=time(10, 0))
    snapshot = []
    for level, days, key in STANDARD_STEPS:
        template = templates[key]
        step = m.CadenceStep.objects.create(profile=profile, level=level, anchor="statement_date",
                                            offset_days=days, channel=template.channel,
                                            template=template)
        snapshot.append(step_snapshot(step, template.current_version, profile.send_hour))
    version = m.ProfileVersion.objects.create(profile=profile, number=1, steps=snapshot, approved_at=now)
    m.StatementProfile.objects.filter(pk=profile.pk).update(approved_version=version)


LIVE_MODELS = SimpleNamespace(MessageTemplate=MessageTemplate, MessageTemplateVersion=MessageTemplateVersion,
                              StatementProfile=StatementProfile, CadenceStep=CadenceStep,
                              ProfileVersion=ProfileVersion)


@transaction.atomic
def standard_profile_create(practice) -> StatementProfile:
    """settings.PRACTICE_CREATED_HOOKS: every new practice starts with the approved Standard
    profile as its default."""
    standard_profile_write(practice.pk, LIVE_MODELS, timezone.now())
    return StatementProfile.objects.filter(practice=practice, name=STANDARD_NAME).order_by("-id").first()


# --- editing ---

def _profile_fields(*, name: str, send_hour) -> dict:
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = "A profile needs a name."
    elif len(name) > 100:
        errors["name"] = "At most 100 characters."
    if not isinstance(send_hour, time):
        errors["send_hour"] = "Give the send hour as HH:MM."
    if errors:
        raise ValidationError(errors)
    return {"name": name, "send_hour": send_hour.replace(second=0, microsecond=0)}


@transaction.atomic
def profile_create(*, practice, actor, name: str, slug: str = "", send_hour: time = time(10, 0),
                   copy_from: StatementProfile | None = None) -> StatementProfile:
    """A new profile (not the default, not approved), its steps copied from `copy_from`."""
    fields = _profile_fields(name=name, send_hour=send_hour)
    slug = slugify(slug or fields["name"])[:60]
    if not slug:
        raise ValidationError({"slug": "Give a slug of letters, digits and hyphens."})
    try:
        with transaction.atomic():
            profile = StatementProfile.objects.create(practice=practice, slug=slug, **fields)
    except IntegrityError:
        raise ValidationError({"slug": f"The slug {slug!r} is taken by another profile."}) from None
    if copy_from is not None:
        CadenceStep.objects.bulk_create(
            CadenceStep(profile=profile, level=s.level, anchor=s.anchor, offset_days=s.offset_days,
                        at_time=s.at_time, channel=s.channel, template_id=s.template_id)
            for s in copy_from.steps.all())
    audit_record(practice=practice, actor=actor, action="statement_profile.created", target=profile.slug)
    return profile


@transaction.atomic
def profile_update(*, profile: StatementProfile, actor, name: str, send_hour: time,
                   active: bool) -> list[str]:
    fields = {**_profile_fields(name=name, send_hour=send_hour), "active": bool(active)}
    if profile.is_default and not fields["active"]:
        raise ValidationError({"active": "The default profile stays active; make another the default first."})
    changed = [f for f, v in fields.items() if getattr(profile, f) != v]
    for f in changed:
        setattr(profile, f, fields[f])
    if changed:
        profile.save(update_fields=[*changed, "updated_at"])
        audit_record(practice=profile.practice, actor=actor, action="statement_profile.updated",
                     target=profile.slug, fields=changed)
    return changed


@transaction.atomic
def profile_make_default(*, profile: StatementProfile, actor) -> StatementProfile:
    if not profile.active:
        raise ValidationError("An inactive profile cannot be the default.")
    StatementProfile.objects.filter(practice_id=profile.practice_id, is_default=True).exclude(
        pk=profile.pk).update(is_default=False)
    StatementProfile.objects.filter(pk=profile.pk).update(is_default=True)
    profile.is_default = True
    audit_record(practice=profile.practice, actor=actor, action="statement_profile.made_default",
                 target=profile.slug)
    return profile


def _step_fields(*, profile, level, anchor, offset_days, at_time, channel, template) -> dict:
    errors = {}
    if not isinstance(level, int) or not 1 <= level <= MAX_LEVEL:
        errors["level"] = f"A dunning level from 1 to {MAX_LEVEL}."
    if anchor not in Anchor.values:
        errors["anchor"] = "Count the days from the statement date or from the due date."
    elif not isinstance(offset_days, int):
        errors["offset_days"] = "A whole number of days."
    else:
        low, high = STATEMENT_OFFSETS if anchor == Anchor.STATEMENT_DATE else DUE_OFFSETS
        if not low <= offset_days <= high:
            where = "after the statement date" if anchor == Anchor.STATEMENT_DATE else "around the due date"
            errors["offset_days"] = f"From {low} to {high} days {where}."
    if at_time is not None and not isinstance(at_time, time):
        errors["at_time"] = "A time of day as HH:MM, or empty for the profile's send hour."
    if template is None or template.practice_id != profile.practice_id:
        errors["template"] = "Choose one of this office's templates."
    elif template.purpose != "balance":
        errors["template"] = "Choose a balance-notification template."
    elif template.channel != channel:
        errors["template"] = f"That template is for {template.get_channel_display()}; this step sends " \
                             f"{dict(CadenceStep._meta.get_field('channel').choices).get(channel, channel)}."
    if errors:
        raise ValidationError(errors)
    return {"level": level, "anchor": anchor, "offset_days": offset_days,
            "at_time": at_time.replace(second=0, microsecond=0) if at_time else None,
            "channel": channel, "template": template}


@transaction.atomic
def step_save(*, profile: StatementProfile, actor, step: CadenceStep | None = None, level: int,
              anchor: str, offset_days: int, at_time: time | None, channel: str, template) -> CadenceStep:
    """Add a step to a profile's cadence, or change one (the approved proof is untouched)."""
    fields = _step_fields(profile=profile, level=level, anchor=anchor, offset_days=offset_days,
                          at_time=at_time, channel=channel, template=template)
    if step is None:
        step = CadenceStep.objects.create(profile=profile, **fields)
        action = "statement_profile.step_added"
    else:
        for name, value in fields.items():
            setattr(step, name, value)
        step.save()
        action = "statement_profile.step_changed"
    audit_record(practice=profile.practice, actor=actor, action=action, target=profile.slug,
                 step=step.pk, level=step.level, channel=step.channel)
    return step


@transaction.atomic
def step_delete(*, step: CadenceStep, actor) -> None:
    profile = step.profile
    audit_record(practice=profile.practice, actor=actor, action="statement_profile.step_removed",
                 target=profile.slug, step=step.pk, level=step.level, channel=step.channel)
    step.delete()


def draft_snapshot(profile: StatementProfile) -> list[dict]:
    """The steps as they would be approved now, each with its template's current version."""
    steps = list(profile.steps.select_related("template"))
    return [step_snapshot(s, s.template.current_version, profile.send_hour) for s in steps]


def _comparable(steps: list[dict]) -> list[tuple]:
    return sorted((s["id"], s["level"], s["anchor"], s["offset_days"], s["at"], s["channel"],
                   s["template_id"], s["template_version"]) for s in steps)


def profile_has_changes(profile: StatementProfile) -> bool:
    """True when the draft differs from the approved proof (or nothing is approved)."""
    approved = profile.approved_version
    return approved is None or _comparable(draft_snapshot(profile)) != _comparable(approved.steps)


@transaction.atomic
def proof_approve(*, profile: StatementProfile, actor) -> ProfileVersion:
    """Approve the proof: the draft becomes what sends, from now on, for new statements."""
    profile = StatementProfile.objects.select_for_update().get(pk=profile.pk)
    steps = draft_snapshot(profile)
    if not steps:
        raise ValidationError("Add at least one step before approving.")
    if profile.approved_version and not profile_has_changes(profile):
        raise ValidationError("Nothing changed since the last approval.")
    number = (profile.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = ProfileVersion.objects.create(profile=profile, number=number, steps=steps,
                                            approved_by=actor, approved_at=timezone.now())
    StatementProfile.objects.filter(pk=profile.pk).update(approved_version=version,
                                                          updated_at=timezone.now())
    audit_record(practice=profile.practice, actor=actor, action="statement_profile.proof_approved",
                 target=profile.slug, version=number)
    return version


def step_test_send(*, step: CadenceStep, actor, phone: str = ""):
    """Send the step's current text, with sample values, to the signed-in admin now: their
    email for an email, `phone` for a text or a call."""
    from uuid import uuid4

    from notifications.rendering import compiled, sample_values
    from notifications.services import Recipient, notification_schedule

    version = step.template.versions.get(number=step.template.current_version)
    address = actor.email if step.channel == "email" else phone
    if not address:
        raise ValidationError({"phone": "Enter your mobile number for a test text or call."})
    values = sample_values()
    notification = notification_schedule(
        practice=step.profile.practice,
        recipient=Recipient(kind="user", id=actor.pk, name=actor.display_name),
        channel=step.channel, address=address, kind="statement_test",
        subject=compiled(version.subject).render(values) if version.subject else "",
        body=compiled(version.body).render(values), idempotency_key=f"statement-test:{step.pk}:{uuid4().hex}",
        reason=f"test of {step.profile.name}, level {step.level} {step.channel}",
        template_name=step.template.name, template_version=str(version.number))
    audit_record(practice=step.profile.practice, actor=actor, action="statement_profile.test_sent",
                 target=step.profile.slug, step=step.pk, channel=step.channel)
    return notification
