"""A migration step of SQL that only PostgreSQL runs: storage settings and collations, which
SQLite (the embedded default) neither has nor needs."""

from django.db import migrations


def postgresql_only(forward: list[str], backward: list[str]) -> migrations.RunPython:
    """RunPython that executes `forward` (and, to reverse, `backward`) on PostgreSQL; elsewhere
    nothing."""

    def run(statements):
        def step(apps, schema_editor):
            if schema_editor.connection.vendor == "postgresql":
                for sql in statements:
                    schema_editor.execute(sql)

        return step

    return migrations.RunPython(run(forward), run(backward))
