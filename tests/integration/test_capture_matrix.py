# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The capture matrix: writes that a change log does not carry, or carries without what it takes to repeat them,
planted on the old server after the capture began, on two bare servers of each engine.

Each case is a database of its own: created, copied ahead, captured, then the case's writes are planted (as a
careful DBA, a newer client or a stray script would make them), then the downtime's sync runs. Every case must
end with the new side equal to the old one in every object the test reads with its own queries (each table's
rows, sequences with their parameters and states, large objects, routine, trigger and constraint definitions),
or fail before the new client would start, naming the database and table. Before the capture the copy is equal;
after the planting it differs (the test checks both), so an exact end is the sync's doing, not luck.
"""

import time

import pytest

from serverpair import PASSWORD, client_db, pair_fixture, run

pair = pytest.fixture(scope="module", params=["mysql", "pgsql"], name="pair")(pair_fixture)

IN_RANGES = 2  # the differing groups' rows through files, as in a table beyond rows_in_memory

ROWS = {"pgsql": "INSERT INTO w SELECT g, 'row ' || g FROM generate_series(1, 300) g",
        "mysql": "INSERT INTO w SELECT seq, CONCAT('row ', seq) FROM seq_1_to_300"}
TABLE_W = "CREATE TABLE w (id INT PRIMARY KEY, v VARCHAR(40))"

# name: {engine: (statements before the copy, statements planted after the capture)}
CASES = {
    # A table rewritten by DDL to the same definition: the rewrite is no decoded change, the schema reads the same.
    "retyped": {"pgsql": ([], ["ALTER TABLE w ALTER COLUMN v TYPE VARCHAR(40) USING upper(v)"])},
    # Dropped and created again with the same definition, its rows written as another table's.
    "recreated": {"pgsql": ([], [
        "CREATE TABLE w_new (LIKE w INCLUDING ALL)",
        "INSERT INTO w_new SELECT id, CASE WHEN id = 9 THEN 'recreated' ELSE v END FROM w",
        "DROP TABLE w", "ALTER TABLE w_new RENAME TO w", "ALTER INDEX w_new_pkey RENAME TO w_pkey"])},
    # Unlogged for a while: the writes in between are not in the WAL.
    "unlogged_for_a_while": {"pgsql": ([], [
        "ALTER TABLE w SET UNLOGGED", "UPDATE w SET v = 'while unlogged' WHERE id = 11", "ALTER TABLE w SET LOGGED"])},
    # A key moved while the table logged no old keys, then the identity set back: decoded as an insert only.
    "identity_for_a_while": {"pgsql": ([], [
        "BEGIN", "ALTER TABLE w REPLICA IDENTITY NOTHING", "UPDATE w SET id = 5000 WHERE id = 12",
        "ALTER TABLE w REPLICA IDENTITY DEFAULT", "COMMIT"])},
    # The same on a table that never logs its old keys.
    "identity_nothing": {"pgsql": (["ALTER TABLE w REPLICA IDENTITY NOTHING"],
                                   ["UPDATE w SET id = 5001 WHERE id = 13"])},
    # The second table of a database, rewritten while the first took an ordinary, decoded change.
    "second_table": {"pgsql": (["CREATE TABLE x (id INT PRIMARY KEY, v TEXT)",
                                "INSERT INTO x SELECT g, 'x' || g FROM generate_series(1, 50) g"],
                               ["UPDATE w SET v = 'ordinary' WHERE id = 2",
                                "ALTER TABLE x ALTER COLUMN v TYPE TEXT USING v || '!'"])},
    # Repeating a parent's change by delete and insert on the new side would cascade to its children there.
    "cascade": {
        "pgsql": (["CREATE TABLE p (id INT PRIMARY KEY, v TEXT)", "INSERT INTO p VALUES (1, 'parent'), (2, 'other')",
                   "CREATE TABLE ch (id INT PRIMARY KEY, pid INT REFERENCES p ON DELETE CASCADE)",
                   "INSERT INTO ch VALUES (1, 1), (2, 1), (3, 2)"],
                  ["UPDATE p SET v = 'parent, renamed' WHERE id = 1"]),
        "mysql": (["CREATE TABLE p (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB",
                   "INSERT INTO p VALUES (1, 'parent'), (2, 'other')",
                   "CREATE TABLE ch (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES p (id) "
                   "ON DELETE CASCADE) ENGINE=InnoDB", "INSERT INTO ch VALUES (1, 1), (2, 1), (3, 2)"],
                  ["UPDATE p SET v = 'parent, renamed' WHERE id = 1"])},
    # A trigger that counts the table's writes in another table: repeating a change by rows on the new side would
    # fire it again there, after that table was brought up to date.
    "trigger": {
        "pgsql": (["CREATE TABLE audit (id INT PRIMARY KEY, hits INT)", "INSERT INTO audit VALUES (1, 0)",
                   "CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO audit VALUES (1, 1) "
                   "ON CONFLICT (id) DO UPDATE SET hits = audit.hits + 1; RETURN NULL; END$$",
                   "CREATE TRIGGER noted AFTER INSERT OR UPDATE OR DELETE ON w FOR EACH ROW EXECUTE FUNCTION note()"],
                  ["UPDATE w SET v = 'counted once' WHERE id = 3"]),
        "mysql": (["CREATE TABLE audit (id INT PRIMARY KEY, hits INT)", "INSERT INTO audit VALUES (1, 0)"]
                  + ["CREATE TRIGGER noted_%s AFTER %s ON w FOR EACH ROW INSERT INTO audit VALUES (1, 1) "
                     "ON DUPLICATE KEY UPDATE hits = hits + 1" % (event[0], event)
                     for event in ("INSERT", "UPDATE", "DELETE")],
                  ["UPDATE w SET v = 'counted once' WHERE id = 3"])},
    # An ordinary update of a table with a generated column: never a false alarm, never the column written.
    "generated": {
        "pgsql": (["CREATE TABLE g (id INT PRIMARY KEY, a INT, b INT GENERATED ALWAYS AS (a * 2) STORED)",
                   "INSERT INTO g (id, a) VALUES (1, 1), (2, 2)"], ["UPDATE g SET a = 10 WHERE id = 1"]),
        "mysql": (["CREATE TABLE g (id INT PRIMARY KEY, a INT, b INT AS (a * 2) STORED, c INT AS (a + 1) VIRTUAL)",
                   "INSERT INTO g (id, a) VALUES (1, 1), (2, 2)"], ["UPDATE g SET a = 10 WHERE id = 1"])},
    # A sequence's parameters changed, and its state moved: not decoded.
    "sequence": {"pgsql": (["CREATE SEQUENCE s"], ["ALTER SEQUENCE s INCREMENT BY 7 MAXVALUE 100000",
                                                   "SELECT setval('s', 42)"])},
    # Large objects live in a catalog: not decoded, not in any table's rows.
    "large_objects": {"pgsql": (["SELECT lo_from_bytea(424242, 'kept')"],
                                ["SELECT lo_put(424242, 0, 'KEPT')", "SELECT lo_from_bytea(424243, 'new')"])},
    # A routine's body and a constraint's definition changed under the same names.
    "definitions": {
        "pgsql": (["CREATE FUNCTION f() RETURNS INT LANGUAGE sql AS 'SELECT 1'",
                   "ALTER TABLE w ADD CONSTRAINT v_not_x CHECK (v <> 'x')"],
                  ["CREATE OR REPLACE FUNCTION f() RETURNS INT LANGUAGE sql AS 'SELECT 2'",
                   "ALTER TABLE w DROP CONSTRAINT v_not_x", "ALTER TABLE w ADD CONSTRAINT v_not_x CHECK (v <> 'y')"])},
    # Several of the above in one transaction, beside an ordinary change.
    "together": {"pgsql": (["CREATE TABLE x (id INT PRIMARY KEY, v TEXT)", "INSERT INTO x VALUES (1, 'a')"], [
        "BEGIN", "UPDATE w SET v = 'together' WHERE id = 20", "ALTER TABLE x SET UNLOGGED",
        "UPDATE x SET v = 'b'", "ALTER TABLE x SET LOGGED", "COMMIT"])},
}


def objects(pair, name, dbname):
    """Every object of a database as the test reads it with its own queries: {what: sorted values}."""
    if pair.engine == "pgsql":
        tables = [r[0] for r in pair.run(name, [
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"], dbname)]
        found = dict(("table " + table, pair.exact_rows(name, dbname, table)) for table in tables)
        queries = {
            "sequences": "SELECT s::text FROM pg_sequences s WHERE schemaname = 'public'",
            "large objects": "SELECT oid::text || ':' || encode(lo_get(oid), 'hex') FROM pg_largeobject_metadata",
            "routines": "SELECT pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
            "constraints": "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint "
                           "WHERE connamespace = 'public'::regnamespace",
            "triggers": "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal",
            "tables": "SELECT relname || ' ' || relpersistence::text || relreplident::text FROM pg_class "
                      "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"}
        for what, sql in queries.items():
            found[what] = sorted(r[0] for r in pair.run(name, [sql], dbname))
        return found
    tables = [r[0] for r in pair.run(name, ["SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                                            "AND table_type = 'BASE TABLE'"], params=(dbname,))]
    found = dict(("table " + table, pair.exact_rows(name, dbname, table)) for table in tables)
    queries = {
        "routines": "SELECT CONCAT(routine_name, ' ', routine_definition) FROM information_schema.routines "
                    "WHERE routine_schema = %s",
        "constraints": "SELECT CONCAT(constraint_name, ' ', check_clause) FROM information_schema.check_constraints "
                       "WHERE constraint_schema = %s",
        "triggers": "SELECT CONCAT(trigger_name, ' ', action_statement) FROM information_schema.triggers "
                    "WHERE trigger_schema = %s"}
    for what, sql in queries.items():
        found[what] = sorted(r[0] for r in pair.run(name, [sql], params=(dbname,)))
    return found


# On MariaDB a statement logged on the old server counts against every captured database (its effects cannot be
# told from its text): these cases run apart, so that the others show what the row path does.
STATEMENTS = {
    # A statement in statement format that names another, unmigrated database only (a view of it changes a
    # migrated table).
    "elsewhere": (["CREATE OR REPLACE VIEW other_application.w_view AS SELECT * FROM {db}.w"],
                  ["SET SESSION binlog_format = 'STATEMENT'", "USE other_application",
                   "UPDATE w_view SET v = 'through a view elsewhere' WHERE id = 8"]),
    # The same in the database itself.
    "statement": ([], ["SET SESSION binlog_format = 'STATEMENT'", "UPDATE w SET v = 'by statement' WHERE id = 8"]),
    # Emptied and filled again with one row different.
    "truncated": ([], ["CREATE TABLE keep AS SELECT * FROM w", "TRUNCATE w", "INSERT INTO w SELECT * FROM keep",
                       "UPDATE w SET v = 'after the truncate' WHERE id = 7", "DROP TABLE keep"]),
    # A routine's body and a constraint's definition changed under the same names.
    "definitions": (["CREATE PROCEDURE f() SELECT 1", "ALTER TABLE w ADD CONSTRAINT v_not_x CHECK (v <> 'x')"],
                    ["DROP PROCEDURE f", "CREATE PROCEDURE f() SELECT 2", "ALTER TABLE w DROP CONSTRAINT v_not_x",
                     "ALTER TABLE w ADD CONSTRAINT v_not_x CHECK (v <> 'y')"]),
    # DDL in a database nobody migrates, naming nothing of the client's, beside an ordinary change here.
    "beside": ([], ["CREATE TABLE other_application.t (id INT)", "UPDATE w SET v = 'ordinary' WHERE id = 9"]),
}


def planted_and_synced(pair, tmp_path, cases):
    """The matrix's run: ``cases`` ({name: (statements before the copy, statements planted after the capture)})
    as databases client_db('cm_' + name), each with table w; returns ({name: database}, the sync's result), after
    checking that every object of every case ends equal."""
    db = dict((case, client_db("cm_" + case)) for case in cases)
    for name in ("old", "new"):
        for dbname in pair.databases(name):
            pair.run(name, ["DROP DATABASE %s" % dbname])
    if pair.engine == "mysql":
        pair.run("old", ["DROP DATABASE IF EXISTS other_application", "CREATE DATABASE other_application"])
    for case, (before, _planted) in cases.items():
        pair.create_database("old", db[case], [TABLE_W, ROWS[pair.engine]] +
                             [statement.format(db=db[case]) for statement in before])
    databases = sorted(db.values())
    assert run(pair, tmp_path, "copy", databases).get("restored")
    captured = run(pair, tmp_path, "capture", databases, rows_in_memory=IN_RANGES)
    assert sorted(captured["captured"]) == databases, captured
    for case, dbname in db.items():
        assert objects(pair, "new", dbname) == objects(pair, "old", dbname), case

    for case, (_before, planted) in cases.items():
        pair.run("old", [statement.format(db=db[case]) for statement in planted], db[case])
        assert objects(pair, "new", db[case]) != objects(pair, "old", db[case]), case  # the plant is real

    synced = run(pair, tmp_path, "sync", databases, captured=True, rows_in_memory=IN_RANGES)
    assert not synced.get("failed"), synced.get("msg")
    for case, dbname in db.items():
        assert objects(pair, "new", dbname) == objects(pair, "old", dbname), case
    assert pair.slots("old") == [] and pair.slots("new") == []
    backup = run(pair, tmp_path, "backup", databases)
    assert not backup.get("failed"), backup.get("msg")
    return db, synced


def test_writes_the_change_log_does_not_carry_are_found(pair, tmp_path):
    cases = dict((case, sides[pair.engine]) for case, sides in CASES.items() if pair.engine in sides)
    db, synced = planted_and_synced(pair, tmp_path, cases)
    for case, dbname in db.items():
        # Not by luck: each case's database was copied whole, or the table compared in full.
        assert dbname in synced["copied_whole"] or dbname in synced["compared_in_full"], (
            case, synced["copied_whole"], synced["compared_in_full"])
    assert synced["capture_fallbacks"] == {}, synced["capture_fallbacks"]


def test_a_statement_in_the_binary_log_counts_against_every_captured_database(pair, tmp_path):
    if pair.engine != "mysql":
        pytest.skip("MariaDB's binary log")
    db, synced = planted_and_synced(pair, tmp_path, STATEMENTS)
    # The definitions changed: copied whole; every other database compared in full.
    assert list(synced["copied_whole"]) == [db["definitions"]], synced["copied_whole"]
    assert set(synced["capture_fallbacks"]) == set(db.values()) - {db["definitions"]}, synced["capture_fallbacks"]
    for reason in synced["capture_fallbacks"].values():
        assert reason.startswith("on the source, a statement was logged"), reason


# MariaDB: writes that a session keeps out of the binary log. The rows they change are counted all the same (user
# statistics): that table is compared in full; a TRUNCATE changes no row but gives the table a new InnoDB id.
UNLOGGED = {
    "nolog_update": ([], ["SET SESSION sql_log_bin = 0", "UPDATE w SET v = 'not in the log' WHERE id = 4"]),
    "nolog_truncate": ([], ["SET SESSION sql_log_bin = 0", "TRUNCATE w"]),
    "nolog_rolled_back": ([], ["SET SESSION sql_log_bin = 0", "BEGIN", "DELETE FROM w WHERE id = 6", "ROLLBACK",
                               "UPDATE w SET v = 'not in the log, after a rollback' WHERE id = 7"]),
    "beside": ([], ["UPDATE w SET v = 'logged' WHERE id = 5"]),
    # A gap in the counting: a table nothing had counted yet, written while user statistics were off.
    "uncounted": (["CREATE TABLE x (id INT PRIMARY KEY)"],
                  ["SET GLOBAL userstat = 0", "INSERT INTO x VALUES (1)", "SET GLOBAL userstat = 1"]),
}


def test_writes_kept_out_of_the_binary_log_are_found(pair, tmp_path):
    if pair.engine != "mysql":
        pytest.skip("MariaDB's binary log")
    db, synced = planted_and_synced(pair, tmp_path, UNLOGGED)
    assert synced["capture_fallbacks"] == {}, synced["capture_fallbacks"]
    full = synced["compared_in_full"]
    assert set(full) == {db["nolog_update"], db["nolog_truncate"], db["nolog_rolled_back"], db["uncounted"]}, full
    assert "counted 0 rows changed" in full[db["uncounted"]]["x"] and "holds 1" in full[db["uncounted"]]["x"], full
    assert "counted 1 rows changed since the capture (user statistics) and its binary log holds 0" in \
        full[db["nolog_update"]]["w"], full
    assert full[db["nolog_truncate"]] == {"w": "it was rewritten, recreated or altered on the source since the capture"}
    assert "counted 2 rows changed" in full[db["nolog_rolled_back"]]["w"], full


def test_without_user_statistics_mariadb_captures_nothing(pair, tmp_path):
    """Nothing would count the writes kept out of the log: the capture refuses (required) and says why."""
    if pair.engine != "mysql":
        pytest.skip("MariaDB's user statistics")
    dbname = client_db("cm_userstat")
    for name in ("old", "new"):
        for existing in pair.databases(name):
            pair.run(name, ["DROP DATABASE %s" % existing])
    pair.create_database("old", dbname, [TABLE_W, ROWS[pair.engine]])
    assert run(pair, tmp_path, "copy", [dbname]).get("restored")
    pair.run("old", ["SET GLOBAL userstat = 0"])
    try:
        refused = run(pair, tmp_path, "capture", [dbname], required=True)
    finally:
        pair.run("old", ["SET GLOBAL userstat = 1"])
    assert refused.get("failed"), refused
    assert "user statistics are off on the mysql server" in refused["msg"] and "SET GLOBAL userstat = 1" in \
        refused["msg"], refused["msg"]


def test_a_captured_database_dropped_before_the_sync_is_named(pair, tmp_path):
    """MariaDB (PostgreSQL refuses to drop a database that a replication slot follows)."""
    if pair.engine != "mysql":
        pytest.skip("PostgreSQL keeps a captured database from being dropped")
    kept, dropped = client_db("cm_kept"), client_db("cm_dropped")
    for name in ("old", "new"):
        for existing in pair.databases(name):
            pair.run(name, ["DROP DATABASE %s" % existing])
    for dbname in (kept, dropped):
        pair.create_database("old", dbname, [TABLE_W, ROWS[pair.engine]])
    assert run(pair, tmp_path, "copy", [kept, dropped]).get("restored")
    assert sorted(run(pair, tmp_path, "capture", [kept, dropped])["captured"]) == sorted([dropped, kept])
    pair.run("old", ["DROP DATABASE %s" % dropped])
    refused = run(pair, tmp_path, "sync", [kept], captured=True)
    assert refused.get("failed"), refused
    assert refused["msg"].startswith("%s was captured from the mysql server" % dropped), refused["msg"]
    assert "the new client was not started" in refused["msg"]


def test_the_wal_is_read_to_its_end_when_a_record_ends_on_a_page_boundary(pair):
    """PostgreSQL: WAL written up to the very end of a page leaves the insert position after the next page's
    header, which nothing flushes until something else is written: the sync must not wait for it."""
    if pair.engine != "pgsql":
        pytest.skip("PostgreSQL's WAL")
    from ansible_collections.wabiz.migration.plugins.module_utils._capture import flushed_lsn
    from ansible_collections.wabiz.migration.plugins.module_utils._db import Server
    conn = pair.connect("old")
    server = Server("pgsql", "127.0.0.1", pair.ports["old"], "root", PASSWORD)
    try:
        with conn.cursor() as cur:
            def offset():
                cur.execute("SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn) % 8192")
                return int(cur.fetchone()[0])

            # A message's record is its payload and a fixed overhead: measured, then sized to fill the page.
            for dummy in range(200):
                if offset() == 24:
                    break
                before = offset()
                cur.execute("SELECT pg_logical_emit_message(false, 'wabiz-test', repeat('x', 100))")
                overhead = (offset() - before) % 8192 - 100
                left = 8192 - offset()
                size = left - overhead if left - overhead >= 0 else 8192 - overhead  # else across to the next
                cur.execute("SELECT pg_logical_emit_message(false, 'wabiz-test', repeat('x', %s))", (max(size, 0),))
            assert offset() == 24, "the WAL did not land on a page boundary"
        started = time.time()
        flushed_lsn(server, "postgres")
        assert time.time() - started < 5
    finally:
        conn.close()
        server.close()
