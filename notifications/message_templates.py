"""Message templates: saving a version (checked first), and reading them for a practice.

Every save of a changed text adds a version; earlier versions are never changed. Callers render
a version with `rendering.compiled(version.body).render(values)` over plain values.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.shortcuts import get_object_or_404

from practices.services import audit_record

from .models import MessageTemplate, MessageTemplateVersion
from .rendering import PURPOSES, template_check


def message_template_save(*, practice, actor, subject: str, body: str,
                          template: MessageTemplate | None = None, purpose: str = "", channel: str = "",
                          name: str = "") -> MessageTemplate:
    """Create a template with its first version, or add a version to `template`.

    Raises ValidationError naming the field (name, subject, body) when the text is refused:
    unknown merge fields, bad syntax, minimum-necessary rules for texts and calls.
    """
    subject = (subject or "").replace("\r\n", "\n").strip()
    body = (body or "").replace("\r\n", "\n").strip()
    if template is not None:
        purpose, channel = template.purpose, template.channel
    errors: dict[str, list[str]] = {}
    if template is None:
        name = (name or "").strip()
        if not name:
            errors["name"] = ["A template needs a name."]
        elif len(name) > 100:
            errors["name"] = ["At most 100 characters."]
        if purpose not in PURPOSES:
            errors["purpose"] = [f"Purpose must be one of {', '.join(PURPOSES)}."]
    for problem in template_check(purpose=purpose, channel=channel, subject=subject, body=body):
        errors.setdefault(problem.field, []).append(problem.message)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if template is None:
            try:
                with transaction.atomic():
                    template = MessageTemplate.objects.create(practice=practice, purpose=purpose,
                                                              channel=channel, name=name)
            except IntegrityError:
                raise ValidationError({"name": [f"A template named {name!r} already exists."]}) from None
        else:
            template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
            current = template.versions.filter(number=template.current_version).first()
            if current is not None and (current.subject, current.body) == (subject, body):
                return template  # nothing changed: no new version
        MessageTemplate.objects.filter(pk=template.pk).update(current_version=F("current_version") + 1)
        template.refresh_from_db()
        MessageTemplateVersion.objects.create(template=template, number=template.current_version,
                                              subject=subject, body=body,
                                              created_by=actor if actor and actor.pk else None)
        audit_record(practice=practice, actor=actor, action="message_template.saved",
                     target=f"{template.name} v{template.current_version}", purpose=purpose,
                     channel=channel)
    return template


def message_templates(*, practice, purpose: str = "", channel: str = "") -> QuerySet[MessageTemplate]:
    qs = MessageTemplate.objects.filter(practice=practice)
    if purpose:
        qs = qs.filter(purpose=purpose)
    if channel:
        qs = qs.filter(channel=channel)
    return qs.order_by("purpose", "channel", "name", "id")


def message_template_get(*, practice, pk) -> MessageTemplate:
    return get_object_or_404(MessageTemplate, practice=practice, pk=pk)


def message_template_versions(*, template: MessageTemplate) -> QuerySet[MessageTemplateVersion]:
    return template.versions.select_related("created_by").order_by("-number")


def message_template_current(*, template: MessageTemplate) -> MessageTemplateVersion | None:
    return template.versions.filter(number=template.current_version).first()


def template_versions_get(*, pairs) -> dict[tuple[int, int], MessageTemplateVersion]:
    """(template id, version number) -> version, for a set of pairs (one query)."""
    pairs = set(pairs)
    if not pairs:
        return {}
    ids = {template_id for template_id, _ in pairs}
    found = MessageTemplateVersion.objects.filter(template_id__in=ids,
                                                  number__in={number for _, number in pairs})
    return {(v.template_id, v.number): v for v in found if (v.template_id, v.number) in pairs}
