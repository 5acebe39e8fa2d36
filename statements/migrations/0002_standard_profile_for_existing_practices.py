"""Every practice that exists before statement profiles gets the approved Standard profile."""

from types import SimpleNamespace

from django.db import migrations
from django.utils import timezone


def forwards(apps, schema_editor):
    from statements.profiles import standard_profile_write

    models = SimpleNamespace(**{name: apps.get_model(app, name) for app, name in [
        ("notifications", "MessageTemplate"), ("notifications", "MessageTemplateVersion"),
        ("statements", "StatementProfile"), ("statements", "CadenceStep"),
        ("statements", "ProfileVersion")]})
    Practice = apps.get_model("practices", "Practice")
    now = timezone.now()
    for practice_id in Practice.objects.values_list("pk", flat=True):
        if not models.StatementProfile.objects.filter(practice_id=practice_id).exists():
            standard_profile_write(practice_id, models, now)


class Migration(migrations.Migration):
    dependencies = [
        ("statements", "0001_statement_profiles_batches_dunning"),
        ("notifications", "0008_message_templates_and_tags"),
        ("practices", "0002_api_key_prefix_is_the_secrets_start"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
