"""Every practice that exists before on-demand messages gets the default on-demand text and email."""

from types import SimpleNamespace

from django.db import migrations


def forwards(apps, schema_editor):
    from statements.on_demand import on_demand_templates_write

    models = SimpleNamespace(MessageTemplate=apps.get_model("notifications", "MessageTemplate"),
                             MessageTemplateVersion=apps.get_model("notifications", "MessageTemplateVersion"))
    Practice = apps.get_model("practices", "Practice")
    for practice_id in Practice.objects.values_list("pk", flat=True):
        on_demand_templates_write(practice_id, models)


class Migration(migrations.Migration):
    dependencies = [
        ("statements", "0005_on_demand_messages"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
