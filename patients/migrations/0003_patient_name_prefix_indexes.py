"""Indexes for the patient list's name search (PostgreSQL only; nothing elsewhere).

The search matches each word against the start of a first or last name without regard to case:
UPPER(name::text) LIKE UPPER('word%'). These expression indexes (text_pattern_ops, so that LIKE
with a fixed prefix becomes an index range whatever the database's collation) answer it for one
practice without reading every patient; SQLite (the embedded profile) keeps scanning.
"""

from django.db import migrations

INDEXES = {
    "patient_last_name_prefix": "last_name",
    "patient_first_name_prefix": "first_name",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "patients_patient" '
                              f'("practice_id", UPPER("{column}"::text) text_pattern_ops)')


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):

    dependencies = [
        ("patients", "0002_visit_patient_without_db_constraint"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
