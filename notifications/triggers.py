"""The history's counts and recipient search, kept by the database itself.

Triggers on notifications_notification write, in the transaction of every statement that
inserts, updates or deletes notifications, whatever wrote it (the ORM, the engine's own SQL, a
set-based INSERT ... SELECT, COPY):
- notifications_notificationcountchange: +/- counts per practice, quarter hour of creation,
  status, channel, kind and archived (folded into notifications_notificationcount by the
  due-work job notifications.counts.notification_counts_compact);
- notifications_notificationrecipient: each new (recipient, name, address).
PostgreSQL: per statement, with transition tables (one INSERT per statement, whatever its size).
SQLite: per row. Existing notifications are counted and listed here, once.
"""

# Statements run with no parameters (params None), so that "%s" in strftime stays as it is.
# ruff: noqa: S608 - every statement here is built from table and column names, no input

N, CHANGE = "notifications_notification", "notifications_notificationcountchange"
RECIPIENT = "notifications_notificationrecipient"
CHANGE_COLUMNS = "practice_id, bucket, status, channel, kind, archived, n"
RECIPIENT_COLUMNS = "practice_id, recipient_kind, recipient_id, name, address"
# A recipient row is added only where none is alike (see NotificationRecipient).
RECIPIENT_MISSING = (f"NOT EXISTS (SELECT 1 FROM {RECIPIENT} r WHERE r.practice_id = {{x}}.practice_id "
                     "AND r.recipient_kind = {x}.recipient_kind AND r.recipient_id = {x}.recipient_id "
                     "AND r.name = {x}.recipient_name AND r.address = {x}.address)")

PG_BUCKET = "(floor(extract(epoch FROM created_at) / 900) * 900)::bigint"
PG_COUNTED = f"practice_id, {PG_BUCKET} AS bucket, status, channel, kind, archived"
PG_FUNCTIONS = {
    "inserted": f"""
        INSERT INTO {CHANGE} ({CHANGE_COLUMNS})
        SELECT {PG_COUNTED}, count(*) FROM new_rows GROUP BY 1, 2, 3, 4, 5, 6;
        INSERT INTO {RECIPIENT} ({RECIPIENT_COLUMNS})
        SELECT DISTINCT practice_id, recipient_kind, recipient_id, recipient_name, address
        FROM new_rows n WHERE {RECIPIENT_MISSING.format(x="n")};""",
    "updated": f"""
        INSERT INTO {CHANGE} ({CHANGE_COLUMNS})
        SELECT {PG_COUNTED}, sum(n) FROM (
            SELECT practice_id, created_at, status, channel, kind, archived, 1 AS n FROM new_rows
            UNION ALL
            SELECT practice_id, created_at, status, channel, kind, archived, -1 FROM old_rows) c
        GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(n) <> 0;""",
    "deleted": f"""
        INSERT INTO {CHANGE} ({CHANGE_COLUMNS})
        SELECT {PG_COUNTED}, -count(*) FROM old_rows GROUP BY 1, 2, 3, 4, 5, 6;""",
}
PG_TRANSITIONS = {"inserted": ("INSERT", "NEW TABLE AS new_rows"),
                  "updated": ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                  "deleted": ("DELETE", "OLD TABLE AS old_rows")}
# A recipient renamed or readdressed by an UPDATE (nothing does so today; the triggers above
# only see statements as a whole, so this one looks at rows, and only for those columns).
PG_RECIPIENT_CHANGED = f"""
    CREATE FUNCTION notif_recipient_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {RECIPIENT} ({RECIPIENT_COLUMNS})
        SELECT NEW.practice_id, NEW.recipient_kind, NEW.recipient_id, NEW.recipient_name, NEW.address
        WHERE {RECIPIENT_MISSING.format(x="NEW")};
        RETURN NULL;
    END $$;
    CREATE TRIGGER notif_recipient_changed AFTER UPDATE OF practice_id, recipient_kind, recipient_id,
        recipient_name, address ON {N} FOR EACH ROW EXECUTE FUNCTION notif_recipient_changed();"""
PG_INDEXES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX notif_recipient_name_trgm ON {RECIPIENT} USING gin (UPPER(name::text) gin_trgm_ops)",
    f"CREATE INDEX notif_recipient_address_idx ON {RECIPIENT} (practice_id, UPPER(address::text))",
]

SQLITE_BUCKET = "(CAST(strftime('%s', {x}.created_at) AS INTEGER) / 900) * 900"
SQLITE_VALUES = ("({x}.practice_id, " + SQLITE_BUCKET + ", {x}.status, {x}.channel, {x}.kind, "
                 "{x}.archived, {n})")
SQLITE_COUNTED = ["status", "archived", "channel", "kind", "practice_id", "created_at"]
SQLITE_TRIGGERS = {
    "notif_counts_inserted": f"""AFTER INSERT ON {N} BEGIN
        INSERT INTO {CHANGE} ({CHANGE_COLUMNS}) VALUES {SQLITE_VALUES.format(x="NEW", n=1)};
        INSERT INTO {RECIPIENT} ({RECIPIENT_COLUMNS})
        SELECT NEW.practice_id, NEW.recipient_kind, NEW.recipient_id, NEW.recipient_name, NEW.address
        WHERE {RECIPIENT_MISSING.format(x="NEW")};
        END""",
    "notif_counts_updated": f"""AFTER UPDATE OF {", ".join(SQLITE_COUNTED)} ON {N}
        WHEN {" OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in SQLITE_COUNTED)} BEGIN
        INSERT INTO {CHANGE} ({CHANGE_COLUMNS})
        VALUES {SQLITE_VALUES.format(x="OLD", n=-1)}, {SQLITE_VALUES.format(x="NEW", n=1)};
        END""",
    "notif_counts_deleted": f"""AFTER DELETE ON {N} BEGIN
        INSERT INTO {CHANGE} ({CHANGE_COLUMNS}) VALUES {SQLITE_VALUES.format(x="OLD", n=-1)};
        END""",
    "notif_recipient_changed": f"""AFTER UPDATE OF practice_id, recipient_kind, recipient_id,
        recipient_name, address ON {N} BEGIN
        INSERT INTO {RECIPIENT} ({RECIPIENT_COLUMNS})
        SELECT NEW.practice_id, NEW.recipient_kind, NEW.recipient_id, NEW.recipient_name, NEW.address
        WHERE {RECIPIENT_MISSING.format(x="NEW")};
        END""",
}

BACKFILL_COUNTS = {
    "postgresql": f"INSERT INTO {CHANGE} ({CHANGE_COLUMNS}) SELECT {PG_COUNTED}, count(*) FROM {N} "
                  "GROUP BY 1, 2, 3, 4, 5, 6",
    "sqlite": f"INSERT INTO {CHANGE} ({CHANGE_COLUMNS}) SELECT practice_id, "
              f"{SQLITE_BUCKET.format(x=N)} AS bucket, status, channel, kind, archived, count(*) "
              f"FROM {N} GROUP BY 1, 2, 3, 4, 5, 6",
}
BACKFILL_RECIPIENTS = (f"INSERT INTO {RECIPIENT} ({RECIPIENT_COLUMNS}) SELECT DISTINCT practice_id, "
                       f"recipient_kind, recipient_id, recipient_name, address FROM {N}")


def create(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for name, body in PG_FUNCTIONS.items():
            event, transitions = PG_TRANSITIONS[name]
            schema_editor.execute(f"CREATE FUNCTION notif_counts_{name}() RETURNS trigger "
                                  f"LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$", None)
            schema_editor.execute(f"CREATE TRIGGER notif_counts_{name} AFTER {event} ON {N} "
                                  f"REFERENCING {transitions} FOR EACH STATEMENT "
                                  f"EXECUTE FUNCTION notif_counts_{name}()", None)
        schema_editor.execute(PG_RECIPIENT_CHANGED, None)
        for sql in PG_INDEXES:
            schema_editor.execute(sql, None)
    elif vendor == "sqlite":
        for name, body in SQLITE_TRIGGERS.items():
            schema_editor.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}", None)
    else:
        raise NotImplementedError(f"history counts need triggers written for {vendor}")


def backfill(schema_editor) -> None:
    """Count and list the notifications written before the triggers existed (once)."""
    schema_editor.execute(BACKFILL_COUNTS[schema_editor.connection.vendor], None)
    schema_editor.execute(BACKFILL_RECIPIENTS, None)


def sqlite_ensure(connection) -> None:
    """SQLite drops a table's triggers with the table, and Django rebuilds a table (a new one,
    a copy, a rename) for many changes of its columns: after every `migrate`, make sure the
    triggers are there again (the copy fires no trigger, so nothing is counted twice)."""
    if connection.vendor != "sqlite" or CHANGE not in connection.introspection.table_names():
        return
    with connection.schema_editor() as editor:
        create(editor)


def drop(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for name in [*(f"notif_counts_{event}" for event in PG_FUNCTIONS), "notif_recipient_changed"]:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {N}", None)
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()", None)
    elif vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}", None)
