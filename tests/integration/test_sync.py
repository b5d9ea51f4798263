# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""db_dump's copy ahead, db_sync and db_dump's check against the sync's record, on the lab's real servers.

Test databases beside the client's, on both engines: a copy is taken ahead, then the source changes in every
way a sync must follow (rows inserted, updated, deleted; NULL and empty text swapped; binary data; composite
keys; counters moved past the last row; a table without primary key; a schema change), and the target must end
equal to the source by the collection's own checksums and by an independent comparison of every row.
"""

import json
import os

from labsupport import ROOT, ansible_playbook, lab_fixture, leaks

PLAYBOOK = os.path.join(ROOT, "tests", "integration", "playbooks", "sync.yml")
lab = lab_fixture([("mysql", 0), ("pgsql", 0)], messages=100)

# The shard databases of a second client (prefix synctest_) beside the lab's: ROWS keeps its schema and keys, the
# rows path; LOOSE changes a table without primary key, SCHEMA_CHANGED gets a column: both are copied whole; STILL does
# not change at all.
PREFIX = "synctest_"
LOOSE, ROWS, SCHEMA_CHANGED, STILL = DATABASES = ["synctest_wamessages_%d" % shard for shard in (1, 2, 3, 4)]

SCHEMA = {
    "mysql": [
        "CREATE TABLE keyed (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40), note TEXT NULL, data BLOB, "
        "amount DECIMAL(12,3), at DATETIME(6))",
        "CREATE TABLE pairs (a INT, b VARCHAR(20), v TEXT, PRIMARY KEY (a, b))",
        "CREATE TABLE loose (v VARCHAR(20), n INT)",
    ],
    "pgsql": [
        "CREATE TABLE keyed (id SERIAL PRIMARY KEY, name VARCHAR(40), note TEXT NULL, data BYTEA, "
        "amount NUMERIC(12,3), at TIMESTAMPTZ)",
        "CREATE TABLE pairs (a INT, b VARCHAR(20), v TEXT, PRIMARY KEY (a, b))",
        "CREATE TABLE loose (v VARCHAR(20), n INT)",
    ],
}


def each(server, dbname, statements, params=None):
    for statement in statements:
        server.execute(statement, params, dbname=dbname)


def create(server, engine):
    for dbname in DATABASES:
        if dbname in server.databases():
            server.drop_database(dbname)
        server.execute("CREATE DATABASE %s" % dbname)
        each(server, dbname, SCHEMA[engine])
        keyed = "INSERT INTO keyed (name, note, data, amount, at) VALUES (%s, %s, %s, %s, %s)"
        for number in range(1, 1201):
            note = None if number % 7 == 0 else ("" if number % 11 == 0 else "note %d" % number)
            server.execute(keyed, ("name %d" % number, note, bytes([number % 256, 0, 255]) * 3,
                                   "%d.125" % number, "2026-11-%02d 10:00:00.123456" % (1 + number % 28)),
                           dbname=dbname)
        for number in range(300):
            server.execute("INSERT INTO pairs VALUES (%s, %s, %s)", (number % 30, "b%d" % number, "v%d" % number),
                           dbname=dbname)
        for number in range(50):
            server.execute("INSERT INTO loose VALUES (%s, %s)", ("v%d" % number, number), dbname=dbname)


def change(server, engine):
    """What the client would do meanwhile, and then some."""
    rows = ROWS
    appended = "CONCAT(name, ' changed')" if engine == "mysql" else "name || ' changed'"
    each(server, rows, [
        "UPDATE keyed SET name = %s WHERE MOD(id, 97) = 0" % appended,  # 12 rows
        "UPDATE keyed SET note = '' WHERE id = 7",  # NULL becomes ''
        "UPDATE keyed SET note = NULL WHERE id = 11",  # '' becomes NULL
        "DELETE FROM keyed WHERE id IN (3, 4, 5, 900)",
        "DELETE FROM pairs WHERE a = 3",  # 10 rows
        "UPDATE pairs SET v = 'w' WHERE b = 'b10'",
        "INSERT INTO pairs VALUES (99, 'new', 'x')",
    ])
    server.execute("UPDATE keyed SET data = %s WHERE id = 500", (b"\x00\x01binary\xff",), dbname=rows)
    for number in range(30):
        server.execute("INSERT INTO keyed (name, note, data, amount, at) VALUES (%s, NULL, NULL, 1.5, NULL)",
                       ("late %d" % number,), dbname=rows)
    # The counter moves past the last row: the last row goes again, its id must not be given out twice.
    last = server.query("SELECT MAX(id) FROM keyed", dbname=rows)[0][0]
    server.execute("DELETE FROM keyed WHERE id = %s", (last,), dbname=rows)
    server.execute("INSERT INTO loose VALUES ('late', 1)", dbname=LOOSE)
    server.execute("ALTER TABLE keyed ADD COLUMN extra INT", dbname=SCHEMA_CHANGED)


def every_row(server, dbname):
    out = {}
    for schema, table in server.tables(dbname):
        out[table] = sorted(repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row))
                            for row in server.query("SELECT * FROM %s" % server.table_name(dbname, schema, table),
                                                    dbname=dbname))
    return out


def counter(server, engine):
    if engine == "mysql":
        return server.query("SELECT auto_increment FROM information_schema.tables WHERE table_schema = "
                            "%s AND table_name = 'keyed'", (ROWS,))[0][0]
    return server.query("SELECT last_value, is_called FROM keyed_id_seq", dbname=ROWS)[0]


def run(lab, work, phase):
    rc, output = ansible_playbook(PLAYBOOK, os.path.join(lab.workdir, "inventory.yml"), "-vvv", "-e", "phase=" + phase,
                                  "-e", json.dumps({"databases": DATABASES, "prefix": PREFIX, "work_dir": str(work)}))
    assert rc == 0, output[-6000:]
    assert leaks(lab, output) == [], "a secret in the -vvv output"
    with open(os.path.join(work, phase + ".json"), encoding="utf-8") as handle:
        return json.load(handle)


def test_sync_follows_every_kind_of_change(lab, tmp_path):
    engine = lab.setup("old")["engine"]
    lab.run("inventory")
    old, new = lab.server("old"), lab.server("new")
    try:
        create(old, engine)
        for dbname in set(DATABASES) & set(new.databases()):
            new.drop_database(dbname)
        copied = run(lab, tmp_path, "copy")
        assert copied["manifest"]["kind"] == "live" and copied["restored"]

        change(old, engine)
        # As in a migration: the old client stopped, no other session on the source (the write fence).
        lab.run("client", "down", "old")
        old.close()
        synced = run(lab, tmp_path, "sync")
        assert set(synced["copied_whole"]) == {LOOSE, SCHEMA_CHANGED}, synced["copied_whole"]
        assert "no primary key" in synced["copied_whole"][LOOSE]
        assert "schema differs" in synced["copied_whole"][SCHEMA_CHANGED]
        rows = synced["synced"][ROWS]["tables"]
        assert rows == {"keyed": {"copied": 12 + 3 + 29, "deleted": 12 + 3 + 4},
                        "pairs": {"copied": 2, "deleted": 10 + 1}}, rows
        assert synced["synced"][STILL]["tables"] == {}
        for dbname in DATABASES:
            assert every_row(new, dbname) == every_row(old, dbname), dbname
        assert counter(new, engine) == counter(old, engine)

        old.close()
        again = run(lab, tmp_path, "sync")  # idempotent: nothing left to copy
        assert again["copied_whole"] == {} and all(d["tables"] == {} for d in again["synced"].values())

        backup = run(lab, tmp_path, "backup")
        assert not backup.get("failed"), backup
        old.execute("INSERT INTO keyed (name) VALUES ('after the stop')", dbname=ROWS)
        changed_since = run(lab, tmp_path, "backup")
        assert changed_since.get("failed") and "is not what" in changed_since["msg"], changed_since
        assert "%s.keyed: rows 1225 when copied, 1226 now" % ROWS in changed_since["msg"], changed_since["msg"]

        refused = run(lab, tmp_path, "restore")["results"]
        assert [r.get("failed") for r in refused] == [True, True]
        assert "taken while the source still changed" in refused[0]["msg"]
        assert "db_sync's inventory" in refused[1]["msg"]
    finally:
        for server in (old, new):
            server.close()  # PostgreSQL drops no database that a connection of this test still uses
            for dbname in set(DATABASES) & set(server.databases()):
                server.drop_database(dbname)
            server.close()
