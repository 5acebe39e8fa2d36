"""The history's counts and recipient search, kept by the database itself.

Triggers on notifications_notification write, in the transaction of every statement that
inserts, updates or deletes notifications, whatever wrote it (the ORM, the engine's own SQL, a
set-based INSERT ... SELECT, COPY):
- notifications_notificationcountchange: +/- counts per practice, quarter hour of creation,
  status, channel, kind and archived (folded into notifications_notificationcount by the
  due-work job notifications.counts.notification_counts_compact);
- notifications_notificationrecipient: the search keys of each new (recipient, name, address):
  the name from the start of each of its words, and the address (see NotificationRecipient).
PostgreSQL: per statement, with transition tables (one INSERT per statement, whatever its size).
SQLite: per row. Existing notifications are counted and listed here, once.
"""

# Statements run with no parameters (params None), so that "%s" in strftime stays as it is.
# ruff: noqa: S608 - every statement here is built from table and column names, no input

N, CHANGE = "notifications_notification", "notifications_notificationcountchange"
RECIPIENT = "notifications_notificationrecipient"
CHANGE_COLUMNS = "practice_id, bucket, status, channel, kind, archived, n"
RECIPIENT_COLUMNS = "practice_id, recipient_kind, recipient_id, key"
KEY_LENGTH = 260  # NotificationRecipient.key


def _key_missing(x: str, key: str) -> str:
    """A key is added only where the person has none alike (see NotificationRecipient)."""
    return (f"NOT EXISTS (SELECT 1 FROM {RECIPIENT} r WHERE r.practice_id = {x}.practice_id "
            f"AND r.recipient_kind = {x}.recipient_kind AND r.recipient_id = {x}.recipient_id "
            f"AND r.key = {key})")


def _pg_keys(source: str) -> str:
    """The keys of the rows of `source` (a table or a derived table): "N " and the upper-cased
    name from each word on, "A " and the upper-cased address, less those the person has.

    The columns needed are copied out of `source` once (a transition table holds whole rows,
    bodies included, on disk past work_mem), and a name is split once per person (a person's
    messages on several channels share it). The keys the people have are read, through the
    person index, before anything is written (EXCEPT reads both sides first): a lookup per key
    interleaved with the insert read every key the statement had written so far whenever the
    planner chose a scan or the (practice, key) index, which it did for a key table it believed
    empty, its statistics taken before a large import."""
    person = "practice_id, recipient_kind, recipient_id"
    return f"""
        WITH x AS MATERIALIZED (SELECT {person}, recipient_name, address FROM {source} s)
        INSERT INTO {RECIPIENT} ({RECIPIENT_COLUMNS})
        SELECT n.practice_id, n.recipient_kind, n.recipient_id,
               left('N ' || array_to_string(s.words[i:], ' '), {KEY_LENGTH})
        FROM (SELECT DISTINCT {person}, recipient_name FROM x WHERE btrim(recipient_name) <> '') n
        CROSS JOIN LATERAL (SELECT regexp_split_to_array(btrim(upper(n.recipient_name)), ' +')
                            AS words) s
        CROSS JOIN LATERAL generate_subscripts(s.words, 1) AS i
        UNION ALL
        SELECT {person}, left('A ' || upper(address), {KEY_LENGTH}) FROM x WHERE address <> ''
        EXCEPT
        SELECT r.practice_id, r.recipient_kind, r.recipient_id, r.key
        FROM (SELECT DISTINCT {person} FROM x) p JOIN {RECIPIENT} r
        ON r.practice_id = p.practice_id AND r.recipient_kind = p.recipient_kind
        AND r.recipient_id = p.recipient_id"""


def _dollar_quoted(sql: str) -> str:
    """A statement for plpgsql's EXECUTE, planned at each call: a statement in a trigger's body
    is planned once per session, for the size of the first transition table it met, and a plan
    made for a statement of 100,000 rows (a hash join over every key) would then serve each
    single insert after it (two seconds each, measured) and the other way round."""
    assert "$keys$" not in sql
    return f"$keys${sql}$keys$"


# SQLite has no way to split a string in a trigger (no table functions of ours, no WITH): a
# name's first SQLITE_WORDS words are each the start of a key, taken off one after the other
# by nested subqueries. Its upper() changes ASCII letters only; the search does the same there.
SQLITE_WORDS = 8


def _sqlite_tail(words_off: int) -> str:
    """A subquery whose column t is the name without its first `words_off` words (or NULL)."""
    sql = ("SELECT trim(replace(replace(replace(upper(NEW.recipient_name), '  ', ' '), '  ', ' '), "
           "'  ', ' ')) AS t")
    for _ in range(words_off):
        sql = (f"SELECT CASE WHEN instr(t, ' ') > 0 THEN ltrim(substr(t, instr(t, ' ') + 1)) END "
               f"AS t FROM ({sql})")
    return sql


def _sqlite_keys() -> str:
    insert = (f"INSERT INTO {RECIPIENT} ({RECIPIENT_COLUMNS}) "
              "SELECT NEW.practice_id, NEW.recipient_kind, NEW.recipient_id, ")
    name_key = f"substr('N ' || t, 1, {KEY_LENGTH})"
    address_key = f"substr('A ' || upper(NEW.address), 1, {KEY_LENGTH})"
    statements = [f"{insert}{name_key} FROM ({_sqlite_tail(words_off)}) "
                  f"WHERE t <> '' AND {_key_missing('NEW', name_key)};"
                  for words_off in range(SQLITE_WORDS)]
    statements.append(f"{insert}{address_key} WHERE NEW.address <> '' "
                      f"AND {_key_missing('NEW', address_key)};")
    return "\n".join(statements)


# Settings of the trigger functions, for the statements they run:
# - no JIT: a key statement is planned at each call for the rows of that call, and its estimate
#   for 10,000 rows (a thousand words a name, as the planner assumes of generate_subscripts)
#   passed every JIT threshold: compiling took 0.8-1 s of each INSERT, several times what
#   running it takes;
# - no sequential scan: the keys of the people of a statement are read through the person index,
#   not by reading the whole key table, whose size grows with the history rather than with the
#   rows of the statement. The functions read no other table;
# - memory to sort a statement's keys (tens of thousands for an import) without writing them to
#   disk: the planner takes every name for a thousand words, so it sorts rather than hashes.
PG_FUNCTION_SETTINGS = "SET jit = off SET enable_seqscan = off SET work_mem = '64MB'"
PG_FUNCTION_NAMES = ("notif_counts_inserted", "notif_counts_updated", "notif_counts_deleted",
                     "notif_recipient_changed")
PG_BUCKET = "(floor(extract(epoch FROM created_at) / 900) * 900)::bigint"
PG_COUNTED = f"practice_id, {PG_BUCKET} AS bucket, status, channel, kind, archived"
PG_FUNCTIONS = {
    "inserted": f"""
        INSERT INTO {CHANGE} ({CHANGE_COLUMNS})
        SELECT {PG_COUNTED}, count(*) FROM new_rows GROUP BY 1, 2, 3, 4, 5, 6;
        EXECUTE {_dollar_quoted(_pg_keys("new_rows"))};""",
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
    CREATE FUNCTION notif_recipient_changed() RETURNS trigger LANGUAGE plpgsql {PG_FUNCTION_SETTINGS} AS $$
    BEGIN
        {_pg_keys("(SELECT NEW.practice_id AS practice_id, NEW.recipient_kind AS recipient_kind, "
                  "NEW.recipient_id AS recipient_id, NEW.recipient_name AS recipient_name, "
                  "NEW.address AS address)")};
        RETURN NULL;
    END $$;
    CREATE TRIGGER notif_recipient_changed AFTER UPDATE OF practice_id, recipient_kind, recipient_id,
        recipient_name, address ON {N} FOR EACH ROW EXECUTE FUNCTION notif_recipient_changed();"""

SQLITE_BUCKET = "(CAST(strftime('%s', {x}.created_at) AS INTEGER) / 900) * 900"
SQLITE_VALUES = ("({x}.practice_id, " + SQLITE_BUCKET + ", {x}.status, {x}.channel, {x}.kind, "
                 "{x}.archived, {n})")
SQLITE_COUNTED = ["status", "archived", "channel", "kind", "practice_id", "created_at"]
SQLITE_TRIGGERS = {
    "notif_counts_inserted": f"""AFTER INSERT ON {N} BEGIN
        INSERT INTO {CHANGE} ({CHANGE_COLUMNS}) VALUES {SQLITE_VALUES.format(x="NEW", n=1)};
        {_sqlite_keys()}
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
        {_sqlite_keys()}
        END""",
}

BACKFILL_COUNTS = {
    "postgresql": f"INSERT INTO {CHANGE} ({CHANGE_COLUMNS}) SELECT {PG_COUNTED}, count(*) FROM {N} "
                  "GROUP BY 1, 2, 3, 4, 5, 6",
    "sqlite": f"INSERT INTO {CHANGE} ({CHANGE_COLUMNS}) SELECT practice_id, "
              f"{SQLITE_BUCKET.format(x=N)} AS bucket, status, channel, kind, archived, count(*) "
              f"FROM {N} GROUP BY 1, 2, 3, 4, 5, 6",
}
# On SQLite, touching every name makes the row trigger above write the keys.
BACKFILL_RECIPIENTS = {"postgresql": _pg_keys(N),
                       "sqlite": f"UPDATE {N} SET recipient_name = recipient_name"}


def create(schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for name, body in PG_FUNCTIONS.items():
            event, transitions = PG_TRANSITIONS[name]
            schema_editor.execute(f"CREATE FUNCTION notif_counts_{name}() RETURNS trigger "
                                  f"LANGUAGE plpgsql {PG_FUNCTION_SETTINGS} "
                                  f"AS $$ BEGIN {body} RETURN NULL; END $$", None)
            schema_editor.execute(f"CREATE TRIGGER notif_counts_{name} AFTER {event} ON {N} "
                                  f"REFERENCING {transitions} FOR EACH STATEMENT "
                                  f"EXECUTE FUNCTION notif_counts_{name}()", None)
        schema_editor.execute(PG_RECIPIENT_CHANGED, None)
    elif vendor == "sqlite":
        for name, body in SQLITE_TRIGGERS.items():
            schema_editor.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {body}", None)
    else:
        raise NotImplementedError(f"history counts need triggers written for {vendor}")


def recreate(schema_editor) -> None:
    """The PostgreSQL functions and triggers again, as this module writes them now (a migration
    that changes them); SQLite's triggers are made by `create` and `sqlite_ensure`."""
    if schema_editor.connection.vendor == "postgresql":
        drop(schema_editor)
        create(schema_editor)


def backfill(schema_editor) -> None:
    """Count and list the notifications written before the triggers existed (once)."""
    schema_editor.execute(BACKFILL_COUNTS[schema_editor.connection.vendor], None)
    schema_editor.execute(BACKFILL_RECIPIENTS[schema_editor.connection.vendor], None)


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
        for name in PG_FUNCTION_NAMES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {N}", None)
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()", None)
    elif vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}", None)
