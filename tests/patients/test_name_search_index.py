"""The name search's indexes: on PostgreSQL, matching the search's own expression; none elsewhere."""

import importlib

import pytest
from django.db import connection

from patients.selectors import PatientFilters, patient_search

pytestmark = pytest.mark.django_db

migration = importlib.import_module("patients.migrations.0003_patient_name_prefix_indexes")


def test_each_name_column_has_a_prefix_index_on_the_searched_expression(world):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'patients_patient'")
        indexes = dict(cursor.fetchall())
    sql = str(patient_search(practice=world.practice_a, filters=PatientFilters(q="Zim")).query)
    for name, column in migration.INDEXES.items():
        definition = indexes[name]
        assert f"upper(({column})::text) text_pattern_ops" in definition and "practice_id" in definition
        assert f'UPPER("patients_patient"."{column}"::text) LIKE UPPER(' in sql


class _Editor:
    def __init__(self, vendor):
        self.connection = type("C", (), {"vendor": vendor})()
        self.executed = []

    def execute(self, sql):
        self.executed.append(sql)


@pytest.mark.parametrize("step", [migration.create, migration.drop])
def test_the_migration_does_nothing_on_sqlite(step):
    editor = _Editor("sqlite")
    step(None, editor)
    assert editor.executed == []
    postgres = _Editor("postgresql")
    step(None, postgres)
    assert len(postgres.executed) == 2
