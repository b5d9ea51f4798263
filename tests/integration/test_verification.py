# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The verification matrix: changes planted to slip past a weaker check, on real MariaDB and PostgreSQL servers.

Each engine gets two servers of its own, started here in different time zones (the old in America/New_York,
with its DST change, the new in Asia/Kolkata). Every case is a database of its own: it is copied ahead, then a
change is planted on the old server (as the old client, or a stray writer, would make it), then db_sync runs.
The run must either leave the new side with exactly the old side's content, compared row by row by this test
with its own queries (never the collection's digests), or fail before the new client would start, naming what
is wrong.

The cases are searched for as a reviewer would: where the check before this one (a sum of CRC-32 values on
MySQL/MariaDB, of PostgreSQL's record hash) could be fooled, the test constructs rows that fool it and asserts,
with that check's own SQL on both servers, that it sees no difference, so each case is a real trap and not a
random edit.
"""

import json
import threading
import time
import zlib

import pytest

from serverpair import (BUCKETS, DST_FIRST, DST_SECOND, IN_RANGES, PASSWORD, client_db, pair_fixture, run)

pair = pytest.fixture(scope="module", params=["mysql", "pgsql"], name="pair")(pair_fixture)


# Constructing rows that fool a sum of CRC-32 values ------------------------------------------------------
def old_crc(values):
    """The row hash of the check before this one, in Python: CRC32(CONCAT_WS(0x1f, values..., null pattern))."""
    text = b"\x1f".join(v if isinstance(v, bytes) else str(v).encode() for v in values)
    return zlib.crc32(text + b"\x1f" + b"0" * len(values))


def same_bucket_keys(count, start):
    """``count`` integer keys of one bucket of the old check (MOD(CRC32(key), 4096)), all of one length."""
    by_bucket = {}
    for key in range(start, start + 400000):
        keys = by_bucket.setdefault(zlib.crc32(str(key).encode()) % BUCKETS, [])
        keys.append(key)
        if len(keys) == count:
            return keys
    raise AssertionError("no bucket with %d keys" % count)


def crafted_pair(first, second, before, after):
    """Rows (id, status, note) of one bucket whose CRC sum stays the same when their statuses go from
    ``before`` to ``after`` (equal lengths): the second row's note is searched until it does. CRC-32 is linear,
    so an equal-length edit at the same place changes both rows' CRC by one XOR mask, and the sum stays where
    their bits under the mask are opposite."""
    row1 = (first, before[0], "note-000000")
    for attempt in range(1, 5000000):
        row2 = (second, before[1], "note-%06d" % attempt)
        edited = [(first, after[0], row1[2]), (second, after[1], row2[2])]
        if sum(old_crc(r) for r in edited) == old_crc(row1) + old_crc(row2):
            return row1, row2
    raise AssertionError("no note found")


# The cases -------------------------------------------------------------------------------------------
class Case:
    """One database: ``create`` before the copy ahead, ``plant`` after it. ``fools`` lists (table, key, columns)
    whose difference the check before this one cannot see (asserted before the sync)."""

    engines = ("mysql", "pgsql")
    fools = ()
    tables = ()

    def __init__(self, pair):
        self.pair = pair
        self.dbname = client_db(self.name)

    def create(self):
        raise NotImplementedError

    def plant(self):
        raise NotImplementedError


class SameEditOnManyRows(Case):
    """status 'sent' -> 'read' on six rows of one bucket, in pairs built to cancel in a CRC sum."""
    name = "same_edit"
    engines = ("mysql",)
    tables = ("msgs",)
    fools = (("msgs", "id", ("id", "status", "note")),)

    def create(self):
        keys = same_bucket_keys(6, 100000)
        self.rows = []
        for first, second in zip(keys[0::2], keys[1::2]):
            self.rows.extend(crafted_pair(first, second, ("sent", "sent"), ("read", "read")))
        self.pair.create_database("old", self.dbname, [
            "CREATE TABLE msgs (id INT PRIMARY KEY, status VARCHAR(8), note VARCHAR(24))",
            "INSERT INTO msgs SELECT seq, 'sent', CONCAT('note-', seq) FROM mysql.seq_1_to_2000"])
        self.pair.run("old", ["INSERT INTO msgs VALUES %s" % ", ".join("(%d, '%s', '%s')" % r for r in self.rows)],
                      self.dbname)
        # The Python CRC is the server's.
        crcs = self.pair.run("old", ["SELECT id, CRC32(CONCAT_WS(0x1f, id, status, note, CONCAT(ISNULL(id), "
                                     "ISNULL(status), ISNULL(note)))) FROM msgs WHERE id >= 100000"], self.dbname)
        assert dict(crcs) == dict((r[0], old_crc(r)) for r in self.rows)

    def plant(self):
        self.pair.run("old", ["UPDATE msgs SET status = 'read' WHERE id IN (%s)"
                              % ", ".join(str(r[0]) for r in self.rows)], self.dbname)


class ValuesSwapped(Case):
    """Values swapped between two rows of one bucket. MySQL: equal-length statuses, the pair built as above;
    PostgreSQL: the record hash is a weighted sum of column hashes, so a swap cancels (a pair is searched
    for whose exact sums are equal)."""
    name = "swap"
    tables = ("t",)
    fools = (("t", "id", ("id", "status", "note")),)

    def create(self):
        if self.pair.engine == "mysql":
            first, second = same_bucket_keys(2, 300000)
            row1, row2 = crafted_pair(first, second, ("sent", "read"), ("read", "sent"))
            self.swap = (first, second)
            self.pair.create_database("old", self.dbname, [
                "CREATE TABLE t (id INT PRIMARY KEY, status VARCHAR(8), note VARCHAR(24))",
                "INSERT INTO t SELECT seq, 'sent', CONCAT('n', seq) FROM mysql.seq_1_to_2000",
                "INSERT INTO t VALUES (%d, '%s', '%s'), (%d, '%s', '%s')" % (row1 + row2)])
            return
        self.pair.create_database("old", self.dbname, [
            "CREATE TABLE t (id INT PRIMARY KEY, status TEXT, note TEXT)",
            "INSERT INTO t SELECT g, 'status ' || g, 'n' || g FROM generate_series(1, 4000) g"])
        found = self.pair.run("old", [
            "SELECT a.id, b.id FROM t a JOIN t b ON a.id < b.id AND hashtext(a.id::text) & 4095 = "
            "hashtext(b.id::text) & 4095 WHERE hash_record_extended(a, 2)::numeric + hash_record_extended(b, 2) = "
            "hash_record_extended(ROW(a.id, b.status, a.note)::t, 2)::numeric + "
            "hash_record_extended(ROW(b.id, a.status, b.note)::t, 2) LIMIT 1"], self.dbname)
        assert found, "no swap that the record hash sum misses"
        self.swap = found[0]

    def plant(self):
        first, second = self.swap
        self.pair.run("old", ["UPDATE t SET status = CASE id WHEN %d THEN (SELECT status FROM t WHERE id = %d) "
                              "ELSE (SELECT status FROM t WHERE id = %d) END WHERE id IN (%d, %d)"
                              % (first, second, first, first, second)]
                      if self.pair.engine == "pgsql" else
                      ["UPDATE t SET status = IF(status = 'sent', 'read', 'sent') WHERE id IN (%d, %d)"
                       % (first, second)], self.dbname)


class SeparatorAndEveryByte(Case):
    """Binary values with every byte value; bytes moved across the old separator 0x1f between two columns."""
    name = "bytes"
    tables = ("blobs",)

    def create(self):
        if self.pair.engine == "mysql":
            self.fools = (("blobs", "id", ("id", "a", "b")),)  # CONCAT_WS gives the same bytes before and after
        blob = "BLOB" if self.pair.engine == "mysql" else "BYTEA"
        self.pair.create_database("old", self.dbname,
                                  ["CREATE TABLE blobs (id INT PRIMARY KEY, a %s, b %s)" % (blob, blob)])
        for key, (a, b) in enumerate([(bytes(range(256)), bytes(range(255, -1, -1))), (b"x\x1fy", b"z"),
                                      (b"", None), (None, b""), (b"\x1f", b"\x1f\x1f")], start=1):
            self.pair.run("old", ["INSERT INTO blobs VALUES (%s, %s, %s)"], self.dbname, (key, a, b))

    def plant(self):
        for key, a, b in ((2, b"x", b"y\x1fz"), (5, b"\x1f\x1f", b"\x1f")):
            self.pair.run("old", ["UPDATE blobs SET a = %s, b = %s WHERE id = %s"], self.dbname, (a, b, key))


class TimestampsAcrossZones(Case):
    """TIMESTAMP values in New York's repeated hour, copied between servers in different zones; one row moved
    from the first 01:30 to the second (the same text in New York)."""
    name = "zones"
    tables = ("ts",)

    def create(self):
        kind = "TIMESTAMP(6) NULL" if self.pair.engine == "mysql" else "TIMESTAMPTZ"
        utc = "SET time_zone = '+00:00'" if self.pair.engine == "mysql" else "SET TimeZone = 'UTC'"
        self.pair.create_database("old", self.dbname, [
            "CREATE TABLE ts (id INT PRIMARY KEY, at %s, note VARCHAR(10))" % kind, utc,
            "INSERT INTO ts VALUES (1, '%s', 'a'), (2, '%s', 'b'), (3, '2026-07-01 12:00:00.123456', 'c'), "
            "(4, NULL, 'd'), (5, '%s', 'e')" % (DST_FIRST, DST_SECOND, DST_FIRST)])

    def plant(self):
        utc = "SET time_zone = '+00:00'" if self.pair.engine == "mysql" else "SET TimeZone = 'UTC'"
        # The old server's own zone reads both instants as 01:30:00: a check that renders TIMESTAMP in the
        # server's zone sees no change in row 5.
        self.pair.run("old", [utc, "UPDATE ts SET note = 'changed' WHERE id IN (1, 2, 3)",
                              "UPDATE ts SET at = '%s' WHERE id = 5" % DST_SECOND], self.dbname)
        if self.pair.engine == "mysql":
            rendered = self.pair.run("old", ["SELECT CONCAT(at) FROM ts WHERE id IN (1, 2, 5)"], self.dbname)
            assert {r[0] for r in rendered} == {"2026-11-01 01:30:00.000000"}


class FloatsBeyondTheirText(Case):
    """FLOAT values that MariaDB's text shows alike (6 digits), DOUBLE neighbours, PostgreSQL's -0 (its hash
    equals 0's) and float4 neighbours."""
    name = "floats"
    tables = ("f",)

    def create(self):
        self.fools = (("f", "id", ("id", "x", "y")),)  # 6-digit FLOAT text; the hash of -0 is 0's
        if self.pair.engine == "mysql":
            statements = ["CREATE TABLE f (id INT PRIMARY KEY, x FLOAT, y DOUBLE)",
                          "INSERT INTO f VALUES (1, 1.0000001, 0.1), (2, 16777216, 1e308), (3, 0.5, -2.5)"]
        else:
            statements = ["CREATE TABLE f (id INT PRIMARY KEY, x REAL, y DOUBLE PRECISION)",
                          "INSERT INTO f VALUES (1, 1.0000001, 0.0), (2, 16777216, 1e308), (3, 0.5, 'NaN')"]
        self.pair.create_database("old", self.dbname, statements)

    def plant(self):
        if self.pair.engine == "mysql":
            self.pair.run("old", ["UPDATE f SET x = 1.0000002 WHERE id = 1", "UPDATE f SET x = 16777218 WHERE id = 2"],
                          self.dbname)
        else:
            self.pair.run("old", ["UPDATE f SET y = '-0' WHERE id = 1"], self.dbname)


class CaseInsensitiveText(Case):
    """Case-only changes and trailing spaces under case-insensitive collations (MariaDB _ci, PostgreSQL citext
    and a nondeterministic ICU collation), keys included."""
    name = "case"
    tables = ("ci",)

    def create(self):
        if self.pair.engine == "mysql":
            statements = ["CREATE TABLE ci (k VARCHAR(20) COLLATE utf8mb4_general_ci PRIMARY KEY, "
                          "v VARCHAR(20) COLLATE utf8mb4_general_ci, c CHAR(8) COLLATE utf8mb4_general_ci)",
                          "INSERT INTO ci VALUES ('key1', 'abc', 'x'), ('key2', 'abc', 'y'), ('key3', 'Abc', 'z')"]
        else:
            self.fools = (("ci", "k", ("k", "v", "w")),)
            statements = ["CREATE EXTENSION citext",
                          "CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
                          "CREATE TABLE ci (k INT PRIMARY KEY, v CITEXT, w TEXT COLLATE nocase, c CHAR(8))",
                          "INSERT INTO ci VALUES (1, 'abc', 'abc', 'x'), (2, 'abc', 'abc', 'y'), (3, 'Abc', 'Abc', 'z')"]
        self.pair.create_database("old", self.dbname, statements)

    def plant(self):
        if self.pair.engine == "mysql":
            self.pair.run("old", ["UPDATE ci SET v = 'ABC' WHERE k = 'key1'", "UPDATE ci SET v = 'abc ' WHERE k = 'key2'",
                                  "UPDATE ci SET k = 'KEY3' WHERE k = 'key3'"], self.dbname)
        else:
            self.pair.run("old", ["UPDATE ci SET v = 'ABC', w = 'ABC' WHERE k = 1", "UPDATE ci SET w = 'aBc' WHERE k = 2"],
                          self.dbname)


class NumericScale(Case):
    """numeric 1.5 -> 1.50 and 2 -> 2.000: equal as numbers (and hashes), different values."""
    name = "scale"
    engines = ("pgsql",)
    tables = ("n",)
    fools = (("n", "id", ("id", "v")),)

    def create(self):
        self.pair.create_database("old", self.dbname, ["CREATE TABLE n (id INT PRIMARY KEY, v NUMERIC)",
                                                       "INSERT INTO n VALUES (1, 1.5), (2, 2), (3, 0.1)"])

    def plant(self):
        self.pair.run("old", ["UPDATE n SET v = 1.50 WHERE id = 1", "UPDATE n SET v = 2.000 WHERE id = 2"],
                      self.dbname)


class RowsMovedBetweenTables(Case):
    """Rows moved between two tables of one shape, each table's row count kept."""
    name = "moved"
    tables = ("t1", "t2")

    def create(self):
        self.pair.create_database("old", self.dbname, [
            "CREATE TABLE t1 (id INT PRIMARY KEY, v VARCHAR(10))", "CREATE TABLE t2 (id INT PRIMARY KEY, v VARCHAR(10))",
            "INSERT INTO t1 VALUES (1, 'a'), (2, 'b'), (3, 'c')", "INSERT INTO t2 VALUES (4, 'd'), (5, 'e'), (6, 'f')"])

    def plant(self):
        self.pair.run("old", ["DELETE FROM t1 WHERE id = 2", "DELETE FROM t2 WHERE id = 5",
                              "INSERT INTO t1 VALUES (5, 'e')", "INSERT INTO t2 VALUES (2, 'b')"], self.dbname)


CASES = [SameEditOnManyRows, ValuesSwapped, SeparatorAndEveryByte, TimestampsAcrossZones, FloatsBeyondTheirText,
         CaseInsensitiveText, NumericScale, RowsMovedBetweenTables]
LATE = client_db("late")


@pytest.mark.parametrize("capture, rows_in_memory", [(False, None), (False, IN_RANGES), (True, None)],
                         ids=["compared-in-full", "compared-in-full-in-ranges", "captured"])
def test_planted_changes_are_found_and_the_copy_ends_exact(pair, tmp_path, capture, rows_in_memory):
    """With change capture the changes are planted after the capture began, so only what it read (PostgreSQL's
    decoding, MariaDB's binary log) can lead the sync to them; the backup check then proves the checksums the
    capture derived are the source's. In ranges: the differing groups' rows are compared through files, a few
    groups at a time, as in a large table."""
    cases = [case(pair) for case in CASES if pair.engine in case.engines]
    for case in cases:
        case.create()
    for dbname in set(pair.databases("new")):
        pair.run("new", ["DROP DATABASE %s" % dbname])
    databases = [case.dbname for case in cases]
    copied = run(pair, tmp_path, "copy", databases)
    assert copied.get("restored"), copied
    # A client database created after the copy ahead (before the capture: on MariaDB a statement logged after
    # it would make every captured database compared in full).
    pair.create_database("old", LATE, ["CREATE TABLE late (id INT PRIMARY KEY, v VARCHAR(10))",
                                       "INSERT INTO late VALUES (1, 'late')"])
    if capture:
        captured = run(pair, tmp_path, "capture", databases)
        assert sorted(captured["captured"]) == sorted(databases), captured

    for case in cases:
        case.plant()
        for table in case.tables:
            assert pair.exact_rows("old", case.dbname, table) != pair.exact_rows("new", case.dbname, table), \
                (case.name, table)
        for table, key, columns in case.fools:
            # The trap is real: the check before this one sees nothing, on the servers' own SQL.
            assert pair.old_check_sums("old", case.dbname, table, key, columns) == \
                pair.old_check_sums("new", case.dbname, table, key, columns), (case.name, table)

    synced = run(pair, tmp_path, "sync", databases, captured=capture, rows_in_memory=rows_in_memory)
    assert not synced.get("failed"), synced.get("msg")
    assert synced["copied_whole"] == {LATE: "missing on the target"}, synced["copied_whole"]
    if capture:
        assert synced["capture_fallbacks"] == {}, synced["capture_fallbacks"]
        assert set(synced["decoded"]) == set(databases), synced["decoded"]
        assert pair.slots("old") == [] and pair.slots("new") == []
    assert synced["databases"] == sorted(databases + [LATE])
    for case in cases:
        changed = synced["synced"][case.dbname]["tables"]
        assert set(changed) == set(case.tables), (case.name, changed)  # found by the digest, mended by rows
    for case in cases:
        for table in case.tables:
            assert pair.exact_rows("new", case.dbname, table) == pair.exact_rows("old", case.dbname, table), \
                (case.name, table)
    assert pair.exact_rows("new", LATE, "late") == pair.exact_rows("old", LATE, "late")

    # The backup after the cut-over compares content, not only row counts: an update after the stop is seen.
    backup = run(pair, tmp_path, "backup", databases + [LATE])
    assert not backup.get("failed"), backup.get("msg")
    pair.run("old", ["UPDATE t1 SET v = 'z' WHERE id = 1"], client_db("moved"))
    changed_since = run(pair, tmp_path, "backup", databases + [LATE])
    assert changed_since.get("failed") and "%s.t1: checksum" % client_db("moved") in changed_since["msg"], changed_since


def copied_ahead(pair, tmp_path, dbname):
    pair.create_database("old", dbname, ["CREATE TABLE w (id INT PRIMARY KEY, v VARCHAR(10))",
                                         "INSERT INTO w VALUES (1, 'a'), (2, 'b')"])
    for name in pair.databases("new"):
        pair.run("new", ["DROP DATABASE %s" % name])
    assert run(pair, tmp_path, "copy", [dbname]).get("restored")
    pair.run("old", ["UPDATE w SET v = 'c' WHERE id = 1"], dbname)


def test_a_writer_still_connected_after_the_stop_stops_the_sync(pair, tmp_path):
    dbname = client_db("fence")
    copied_ahead(pair, tmp_path, dbname)
    for current in (dbname, None):
        if current is None and pair.engine == "pgsql":
            continue  # a PostgreSQL session is always in one database
        writer = pair.connect("old", current)  # connected, idle: it could write at any moment
        try:
            refused = run(pair, tmp_path, "sync", [dbname])
        finally:
            writer.close()
        assert refused.get("failed"), refused
        assert "Sessions other than the migration's are connected" in refused["msg"], refused["msg"]
        assert "root@127.0.0.1:" in refused["msg"] and "database %s" % (current or "none") in refused["msg"]
        assert "The new client was not started" in refused["msg"]
        assert pair.exact_rows("new", dbname, "w") != pair.exact_rows("old", dbname, "w")  # nothing copied
    synced = run(pair, tmp_path, "sync", [dbname])  # the writer gone, a re-run completes
    assert not synced.get("failed"), synced.get("msg")
    assert pair.exact_rows("new", dbname, "w") == pair.exact_rows("old", dbname, "w")


def test_a_writer_that_comes_and_goes_during_the_sync_is_caught(pair, tmp_path):
    dbname = client_db("comes")
    copied_ahead(pair, tmp_path, dbname)
    stop = threading.Event()
    written = []

    def write():
        # A client on another host: connects, writes a row, disconnects, again and again.
        number = 100
        while not stop.is_set():
            number += 1
            pair.run("old", ["INSERT INTO w VALUES (%d, 'stray')" % number], dbname)
            written.append(number)
            time.sleep(0.005)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        caught = run(pair, tmp_path, "sync", [dbname])
    finally:
        stop.set()
        thread.join()
    assert written
    assert caught.get("failed"), caught
    assert ("were written to while the migration compared them" in caught["msg"] or
            "Sessions other than the migration's are connected" in caught["msg"]), caught["msg"]
    assert "The new client was not started" in caught["msg"]
    synced = run(pair, tmp_path, "sync", [dbname])
    assert not synced.get("failed"), synced.get("msg")
    assert pair.exact_rows("new", dbname, "w") == pair.exact_rows("old", dbname, "w")


def test_the_fence_counts_writes_of_a_client_that_has_already_gone(pair):
    """The fence's own parts on the real servers: a client that connected, wrote and left between the fence's
    two readings is no session any more; the write counters still show it."""
    from ansible_collections.wabiz.migration.plugins.module_utils._db import Server
    from ansible_collections.wabiz.migration.plugins.module_utils._fence import FenceBroken, WriteFence
    dbname = client_db("gone")
    pair.create_database("old", dbname, ["CREATE TABLE w (id INT PRIMARY KEY, v VARCHAR(10))"])
    server = Server(pair.engine, "127.0.0.1", pair.ports["old"], "root", PASSWORD)
    try:
        fence = WriteFence(server, [dbname])
        fence.raise_()
        pair.run("old", ["SELECT COUNT(*) FROM w"], dbname)  # a reader is no writer
        assert fence.check() == fence.positions
        pair.run("old", ["UPDATE w SET v = 'x' WHERE id = 0"], dbname)  # a statement that writes no row
        assert fence.check() == fence.positions
        pair.run("old", ["INSERT INTO w VALUES (1, 'gone')"], dbname)
        with pytest.raises(FenceBroken, match="were written to while the migration compared them") as broken:
            fence.check()
        assert "counted per database" in str(broken.value)
        # A neighbour on the shared server (another client, another application) writes its own rows: no writer
        # of these databases. On MariaDB its schema statements still count (no per-table reading has them).
        neighbour = "vt_eu_wamessages_1"
        pair.create_database("old", neighbour, ["CREATE TABLE w (id INT PRIMARY KEY)"])
        fence.raise_()
        pair.run("old", ["INSERT INTO w VALUES (1)", "UPDATE w SET id = 2", "DELETE FROM w"], neighbour)
        assert fence.check() == fence.positions
        if pair.engine == "mysql":
            pair.run("old", ["ALTER TABLE w ADD COLUMN extra INT"], neighbour)
            with pytest.raises(FenceBroken, match=r"Com_alter_table \+1 \(counted for the whole server"):
                fence.check()
        pair.run("old", ["DROP DATABASE %s" % neighbour])
        if pair.engine == "pgsql":
            fence.raise_()
            pair.run("old", ["ANALYZE w"], dbname)  # as autovacuum does after the client's last writes: no writer
            assert fence.check() == fence.positions
            pair.run("old", ["ALTER TABLE w ADD COLUMN extra INT"], dbname)  # a schema change writes no row
            with pytest.raises(FenceBroken, match=r"catalog writes \(pg_attribute\) \+1"):
                fence.check()
    finally:
        server.close()


FENCE_WRITERS = {
    # Writers that move no table's row counter: sequences, large objects (a catalog), DDL that only updates a
    # catalog row, and a transaction prepared for two-phase commit (no session holds it).
    "pgsql": {
        "nextval": ["SELECT nextval('s')"], "setval": ["SELECT setval('s', 500)"],
        "alter sequence": ["ALTER SEQUENCE s INCREMENT BY 3"],
        "lo_put": ["SELECT lo_put(4711, 0, 'changed')"], "lo_create": ["SELECT lo_from_bytea(4712, 'new')"],
        "replica identity": ["ALTER TABLE w REPLICA IDENTITY FULL"],
        "prepared": ["BEGIN", "INSERT INTO w VALUES (7, 'prepared')", "PREPARE TRANSACTION 'wabiz_test'"],
    },
    "mysql": {
        "xa prepared": ["XA START 'wabiz_test'", "INSERT INTO w VALUES (7, 'prepared')", "XA END 'wabiz_test'",
                        "XA PREPARE 'wabiz_test'"],
    },
}
FENCE_CLEANUP = {"prepared": ["ROLLBACK PREPARED 'wabiz_test'"], "xa prepared": ["XA ROLLBACK 'wabiz_test'"]}


@pytest.mark.parametrize("writer", sorted(set(FENCE_WRITERS["pgsql"]) | set(FENCE_WRITERS["mysql"])))
def test_the_fence_sees_writers_that_move_no_row_counter(pair, writer):
    from ansible_collections.wabiz.migration.plugins.module_utils._db import Server
    from ansible_collections.wabiz.migration.plugins.module_utils._fence import FenceBroken, WriteFence
    if writer not in FENCE_WRITERS[pair.engine]:
        pytest.skip("no such writer on %s" % pair.engine)
    dbname = client_db("fence_writers")
    setup = ["CREATE TABLE w (id INT PRIMARY KEY, v VARCHAR(10))"]
    if pair.engine == "pgsql":
        setup += ["CREATE SEQUENCE s", "SELECT lo_from_bytea(4711, 'kept')"]
    pair.create_database("old", dbname, setup)
    server = Server(pair.engine, "127.0.0.1", pair.ports["old"], "root", PASSWORD)
    try:
        fence = WriteFence(server, [dbname])
        fence.raise_()
        pair.run("old", FENCE_WRITERS[pair.engine][writer], dbname)
        with pytest.raises(FenceBroken):
            fence.check()
    finally:
        server.close()
        if writer in FENCE_CLEANUP:
            pair.run("old", FENCE_CLEANUP[writer], dbname)


class Load:
    """CPU and disk load beside a test, as a busy database host has: one spinning process per core and one writing
    and syncing a file, started and stopped by their PIDs."""

    def __init__(self, workdir):
        self.workdir, self.processes = workdir, []

    def __enter__(self):
        import os
        import subprocess
        import sys
        spin = "while True: pass"
        disk = ("import os\nwhile True:\n    with open(%r, 'wb') as f:\n        for _ in range(64):\n"
                "            f.write(os.urandom(1 << 20))\n        f.flush()\n        os.fsync(f.fileno())\n"
                % os.path.join(self.workdir, "load.bin"))
        for code in [spin] * (os.cpu_count() or 2) + [disk]:
            self.processes.append(subprocess.Popen([sys.executable, "-c", code]))
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.kill()
            process.wait()


def test_the_fence_holds_under_load_with_autovacuum_and_analyze_and_still_catches_every_writer(pair, tmp_path):
    """20 rounds on a loaded machine, with the old server's own maintenance forced all along (PostgreSQL:
    autovacuum and its ANALYZE every second on every table; MariaDB: persistent statistics recalculated): a
    fence with no writer never refuses, and the writer planted next is caught each time, whatever its kind."""
    from ansible_collections.wabiz.migration.plugins.module_utils._db import Server
    from ansible_collections.wabiz.migration.plugins.module_utils._fence import FenceBroken, WriteFence
    dbname = client_db("fence_load")
    setup = ["CREATE TABLE w (id INT PRIMARY KEY, v VARCHAR(10))", "CREATE TABLE x (id INT PRIMARY KEY)"]
    if pair.engine == "pgsql":
        setup += ["CREATE SEQUENCE s", "SELECT lo_from_bytea(4711, 'kept')"] + [
            "ALTER TABLE %s SET (autovacuum_vacuum_threshold = 0, autovacuum_analyze_threshold = 0, "
            "autovacuum_vacuum_scale_factor = 0, autovacuum_analyze_scale_factor = 0)" % table for table in "wx"]
        maintenance = ["ALTER SYSTEM SET autovacuum_naptime = 1", "SELECT pg_reload_conf()"]
        restore = ["ALTER SYSTEM RESET autovacuum_naptime", "SELECT pg_reload_conf()"]
    else:
        setup += ["ALTER TABLE w STATS_AUTO_RECALC = 1", "ALTER TABLE x STATS_AUTO_RECALC = 1"]
        maintenance = ["SET GLOBAL innodb_stats_auto_recalc = ON"]
        restore = []
    pair.create_database("old", dbname, setup + ["INSERT INTO x VALUES (1)"])
    pair.run("old", maintenance)
    # Each writer once per kind and round, with values of the round (a second identical ALTER would change nothing).
    writers = [["INSERT INTO w VALUES ({n}, 'planted')"], ["UPDATE x SET id = id + 1"], ["DELETE FROM w"]]
    writers += {"pgsql": [["SELECT nextval('s')"], ["SELECT setval('s', {n})"], ["ALTER SEQUENCE s INCREMENT BY {n}"],
                          ["SELECT lo_put(4711, 0, 'changed {n}')"], ["SELECT lo_from_bytea({n}, 'new')"],
                          ["ALTER TABLE w REPLICA IDENTITY {identity}"]],
                "mysql": [["ALTER TABLE x ADD COLUMN c{n} INT"], ["TRUNCATE TABLE w"],
                          ["CREATE TABLE t{n} (id INT PRIMARY KEY)"]]}[pair.engine]
    server = Server(pair.engine, "127.0.0.1", pair.ports["old"], "root", PASSWORD)
    false_refusals, missed = [], []
    try:
        with Load(str(tmp_path)):
            for round_number in range(20):
                # Rows the maintenance can work on: written, then left alone before the fence is raised.
                pair.run("old", ["INSERT INTO w VALUES (%d, 'row')" % (1000 + round_number),
                                 "UPDATE w SET v = 'again'"], dbname)
                fence = WriteFence(server, [dbname])
                fence.raise_()
                time.sleep(1.5)  # long enough for autovacuum (naptime 1 s) to visit the tables
                try:
                    fence.check()
                except FenceBroken as exc:
                    false_refusals.append((round_number, str(exc)))
                writer = writers[round_number % len(writers)]
                pair.run("old", [statement.format(n=5000 + round_number,
                                                  identity="DEFAULT" if round_number // len(writers) % 2 else "FULL")
                                 for statement in writer], dbname)
                try:
                    fence.check()
                    missed.append((round_number, writer))
                except FenceBroken:
                    pass
    finally:
        server.close()
        if restore:
            pair.run("old", restore)
    assert false_refusals == [], false_refusals[:3]
    assert missed == [], missed


# Change capture: what it cannot see must not pass ------------------------------------------------------
CAPTURED_TABLE = {"pgsql": ["CREATE TABLE w (id INT PRIMARY KEY, v VARCHAR(40))",
                            "INSERT INTO w SELECT g, 'row ' || g FROM generate_series(1, 400) g"],
                  "mysql": ["CREATE TABLE w (id INT PRIMARY KEY, v VARCHAR(40))",
                            "INSERT INTO w SELECT seq, CONCAT('row ', seq) FROM seq_1_to_400"]}
TRICKY_KEYS = {
    "pgsql": ["CREATE TABLE k (name TEXT, at TIMESTAMPTZ, v INT, PRIMARY KEY (name, at))",
              "INSERT INTO k VALUES ('it''s', '2026-11-01 05:30:00+00', 1), "
              "(' new-tuple: x[text]:''y''', '2026-11-01 06:30:00+00', 2), ('ünï €', '2026-01-01 00:00+00', 3), "
              "('trailing  ', '2026-01-01 00:00+00', 4)",
              "CREATE SEQUENCE s"],
    # mariadb-binlog writes a byte below 0x20 as \x and two hex digits and nothing else escaped: the text
    # 'tab\x09' and 'tab' + TAB read the same; so do quotes and backslashes inside a value and the line's end.
    "mysql": ["CREATE TABLE k (name VARCHAR(40), n INT, v INT, PRIMARY KEY (name, n))",
              "INSERT INTO k VALUES ('it''s', 1, 1), ('tab\\\\x09', 2, 2), ('tab\\t', 2, 3), "
              "('back\\\\slash''', 3, 4), ('new\\nline', 4, 5), ('ünï €', 5, 6), ('trailing  ', 6, 7), "
              "('@2=''x''', 7, 8)",
              "CREATE TABLE b (id VARBINARY(16) PRIMARY KEY, v INT)",
              "INSERT INTO b VALUES (X'00275C0A', 1), (X'FF', 2), (0x5C783030, 3)",
              "CREATE TABLE u (id BIGINT UNSIGNED PRIMARY KEY, v INT)",
              "INSERT INTO u VALUES (18446744073709551615, 1), (1, 2)",
              "CREATE TABLE l (name VARCHAR(20) PRIMARY KEY, v INT) CHARACTER SET latin1",
              "INSERT INTO l VALUES ('café', 1), ('x', 2)",
              "CREATE TABLE a (id INT AUTO_INCREMENT PRIMARY KEY, v INT)", "INSERT INTO a (v) VALUES (1), (2)",
              "CREATE TABLE d (at DATETIME PRIMARY KEY, v INT)", "INSERT INTO d VALUES ('2026-01-01 00:00:00', 1)"],
}


# A busy table: every row rewritten between the copy ahead and the capture (more groups than 1024).
CHURN_TABLE = {"pgsql": ["CREATE TABLE c (id INT PRIMARY KEY, v VARCHAR(20))",
                         "INSERT INTO c SELECT g, 'row ' || g FROM generate_series(1, 6000) g"],
               "mysql": ["CREATE TABLE c (id INT PRIMARY KEY, v VARCHAR(20))",
                         "INSERT INTO c SELECT seq, CONCAT('row ', seq) FROM seq_1_to_6000"]}
CHURN = {"pgsql": ["UPDATE c SET v = v || '!'"], "mysql": ["UPDATE c SET v = CONCAT(v, '!')"]}


def captured_trap(pair, tmp_path, names, extra):
    """Databases client_db("cap_" + name), each with table w (and ``extra``'s statements), copied ahead and captured
    with a change in between; returns {name: database}."""
    databases = [client_db("cap_" + name) for name in names]
    for name, dbname in zip(names, databases):
        pair.create_database("old", dbname, CAPTURED_TABLE[pair.engine] + extra.get(name, []) + (
            CHURN_TABLE[pair.engine] if name == "between" else []))
    for dbname in pair.databases("new"):
        pair.run("new", ["DROP DATABASE %s" % dbname])
    assert run(pair, tmp_path, "copy", databases).get("restored")
    db = dict(zip(names, databases))
    # Written after the copy ahead, before the capture: the capture mends it at its own moment, a few rows or,
    # in a busy table, more row groups than the downtime would mend by rows.
    pair.run("old", ["UPDATE w SET v = 'before the capture' WHERE id BETWEEN 10 AND 19"], db["between"])
    pair.run("old", CHURN[pair.engine], db["between"])
    # In ranges: the churned table's 12 000 rows in more than 1024 differing groups go through files.
    captured = run(pair, tmp_path, "capture", databases, rows_in_memory=IN_RANGES)
    assert sorted(captured["captured"]) == sorted(databases) and captured["not_captured"] == {}, captured
    # MariaDB catches up after the capture: nothing was written meanwhile here.
    assert captured.get("caught_up", {}) == ({d: [0] for d in databases} if pair.engine == "mysql" else {}), captured
    # A row the capture mended, written again on the new server: the mend's own changes are left alone in the
    # downtime, this one (a change more than the mend logged) must not be.
    pair.run("new", ["UPDATE c SET v = 'on the new server' WHERE id = 77"], db["between"])
    return db


def planted_differ(pair, db, tables):
    for name, table in tables:
        assert pair.exact_rows("new", db[name], table) != pair.exact_rows("old", db[name], table), (name, table)


def captured_sync_ends_exact(pair, tmp_path, db, tables):
    """The sync of the captured databases; every table of ``tables`` ({name: [table]}) ends exact, no slot is
    left, and the backup's dump is checked against the manifest's checksums, derived or not."""
    synced = run(pair, tmp_path, "sync", sorted(db.values()), captured=True, rows_in_memory=IN_RANGES)
    assert not synced.get("failed"), synced.get("msg")
    for name, dbname in db.items():
        for table in ["w"] + tables.get(name, []):
            assert pair.exact_rows("new", dbname, table) == pair.exact_rows("old", dbname, table), (dbname, table)
    assert pair.slots("old") == [] and pair.slots("new") == []
    manifest = json.load(open(synced["manifest_path"], encoding="utf-8"))
    assert set(db.values()) <= set(manifest["databases"])
    backup = run(pair, tmp_path, "backup", sorted(manifest["databases"]))
    assert not backup.get("failed"), backup.get("msg")
    # (The sync takes every database of the prefix: the other tests' are copied whole beside these.)
    synced["copied_whole"] = dict((d, why) for d, why in synced["copied_whole"].items() if d in db.values())
    return synced


def test_what_change_capture_cannot_see_is_compared_in_full(pair, tmp_path):
    """PostgreSQL. Each database is a way to hide a change from a sync that trusts the decoding: a write on the
    new server, a slot read by someone else or made anew, a truncation, an unlogged table, a schema change, a
    bulk update, keys whose text could derail a parser. Each must end exact on the new side, for the reason
    given."""
    if pair.engine != "pgsql":
        pytest.skip("PostgreSQL's decoding; test_what_the_binary_log_cannot_show_is_compared_in_full for MariaDB")
    names = ["target", "consumed", "replaced", "truncated", "unlogged", "ddl", "bulk", "keys", "between"]
    db = captured_trap(pair, tmp_path, names, {
        "keys": TRICKY_KEYS["pgsql"],
        "unlogged": ["CREATE UNLOGGED TABLE u (id INT PRIMARY KEY, v TEXT)", "INSERT INTO u VALUES (1, 'a'), (2, 'b')"]})
    assert len(pair.slots("old")) == len(names) and len(pair.slots("new")) == len(names)

    # A row of the copy edited on the new server, in a row the old client never touches again.
    pair.run("new", ["UPDATE w SET v = 'planted on the new server' WHERE id = 321"], db["target"])
    # A change, then its decoded record consumed by someone else.
    slots = dict((r[1], r[0]) for r in pair.run(
        "old", ["SELECT slot_name, database FROM pg_replication_slots"]))
    pair.run("old", ["UPDATE w SET v = 'hidden' WHERE id = 5"], db["consumed"])
    pair.run("old", ["SELECT count(*) FROM pg_logical_slot_get_changes('%s', NULL, NULL)" % slots[db["consumed"]]],
             db["consumed"])
    # A change, then the slot made anew under its name: it starts after the change.
    pair.run("old", ["UPDATE w SET v = 'before the new slot' WHERE id = 6"], db["replaced"])
    pair.run("old", ["SELECT pg_drop_replication_slot('%s')" % slots[db["replaced"]],
                     "SELECT pg_create_logical_replication_slot('%s', 'test_decoding')" % slots[db["replaced"]]],
             db["replaced"])
    # Emptied and filled again with one row different: TRUNCATE decodes without keys.
    pair.run("old", ["CREATE TABLE keep AS SELECT * FROM w", "TRUNCATE w", "INSERT INTO w SELECT * FROM keep",
                     "UPDATE w SET v = 'after the truncate' WHERE id = 7", "DROP TABLE keep"], db["truncated"])
    # An unlogged table's writes are not in the WAL at all.
    pair.run("old", ["UPDATE u SET v = 'unlogged change' WHERE id = 2"], db["unlogged"])
    # A column added by a newer old client: no decoding of rows can carry that.
    pair.run("old", ["ALTER TABLE w ADD COLUMN extra INT DEFAULT 1"], db["ddl"])
    # One transaction over most of the table, still open until just before the stop.
    pair.run("old", ["BEGIN", "UPDATE w SET v = v || '!'", "DELETE FROM w WHERE id > 300", "COMMIT"], db["bulk"])
    # Keys whose text holds quotes, a parser's own words, non-ASCII and trailing spaces; a key moved; a sequence.
    pair.run("old", ["UPDATE k SET v = v + 10", "UPDATE k SET name = 'moved ''key''' WHERE v = 13",
                     "UPDATE w SET id = 1000 WHERE id = 1", "SELECT nextval('s')"], db["keys"])
    pair.run("old", ["UPDATE w SET v = 'after the capture' WHERE id BETWEEN 15 AND 25"], db["between"])
    planted_differ(pair, db, [(name, "u" if name == "unlogged" else "w") for name in names if name != "ddl"])

    synced = captured_sync_ends_exact(pair, tmp_path, db, {"keys": ["k"], "unlogged": ["u"], "between": ["c"]})
    fallbacks = synced["capture_fallbacks"]
    assert set(fallbacks) == {db["consumed"], db["replaced"]}, fallbacks
    assert "read by another consumer" in fallbacks[db["consumed"]], fallbacks
    assert "read by another consumer" in fallbacks[db["replaced"]], fallbacks  # started at another position
    assert synced["copied_whole"] == {db["ddl"]: "its schema changed on the source since the capture"}
    assert synced["synced"][db["target"]]["tables"] == {"w": {"deleted": 1, "copied": 1}}
    assert synced["decoded"][db["target"]]["source"] == 0  # found by the new server's own slot
    assert synced["compared_in_full"] == {db["truncated"]: {"w": "it was truncated"},
                                          db["unlogged"]: {"u": "it is unlogged"}}, synced["compared_in_full"]
    for name in ("bulk", "keys", "between"):
        assert synced["decoded"][db[name]]["source"] > 0, name
    assert '"public"."s"' in synced["synced"][db["keys"]]["counters"]


def test_what_the_binary_log_cannot_show_is_compared_in_full(pair, tmp_path):
    """MariaDB. Each database is a way to hide a change from a sync that trusts the binary log: a write on the
    new server, a table without a primary key, a bulk update, key values that mariadb-binlog writes ambiguously,
    in binary, unsigned, latin1, a key type it does not read back, an AUTO_INCREMENT moved by a rolled-back
    insert. Each must end exact on the new side, for the reason given. (Statements in the log, which count against
    every captured database, are planted apart: test_capture_matrix.py.)"""
    if pair.engine != "mysql":
        pytest.skip("MariaDB's binary log; test_what_change_capture_cannot_see_is_compared_in_full for PostgreSQL")
    names = ["target", "nopk", "bulk", "keys", "between"]
    db = captured_trap(pair, tmp_path, names, {
        "keys": TRICKY_KEYS["mysql"],
        "nopk": ["CREATE TABLE n (id INT, v VARCHAR(10))", "INSERT INTO n VALUES (1, 'a'), (2, 'b')"]})

    # The catch-up moves the moment of a database whose source changed, and not that of one written on the new
    # server meanwhile: that write must still be seen in the downtime (row 322 below), and the sums it moved must
    # still be the source's (the backup checks them).
    pair.run("old", ["UPDATE w SET v = 'before the catch-up' WHERE id BETWEEN 30 AND 39", "DELETE FROM w WHERE id = 40",
                     "INSERT INTO w VALUES (2000, 'inserted before the catch-up')"], db["keys"])
    pair.run("new", ["UPDATE w SET v = 'on the new server before the catch-up' WHERE id = 322"], db["target"])
    caught = run(pair, tmp_path, "catch_up", sorted(db.values()))
    assert caught["caught_up"][db["keys"]] == [12], caught["caught_up"]
    assert caught["caught_up"][db["target"]] == ["table w was written on the target"], caught["caught_up"]
    assert caught["caught_up"][db["between"]] == ["table c was written on the target"], caught["caught_up"]

    pair.run("new", ["UPDATE w SET v = 'planted on the new server' WHERE id = 321"], db["target"])
    pair.run("old", ["UPDATE n SET v = 'no key' WHERE id = 2"], db["nopk"])
    pair.run("old", ["BEGIN", "UPDATE w SET v = CONCAT(v, '!')", "DELETE FROM w WHERE id > 300", "COMMIT"],
             db["bulk"])
    pair.run("old", ["UPDATE k SET v = v + 10", "UPDATE k SET name = 'moved ''key''' WHERE v = 18",
                     "UPDATE b SET v = v + 10", "UPDATE u SET v = v + 10", "UPDATE l SET v = v + 10",
                     "UPDATE d SET v = 2", "UPDATE w SET id = 1000 WHERE id = 1",
                     "BEGIN", "INSERT INTO a (v) VALUES (3), (4)", "ROLLBACK"], db["keys"])
    pair.run("old", ["UPDATE w SET v = 'after the capture' WHERE id BETWEEN 15 AND 25"], db["between"])
    planted_differ(pair, db, [(name, "n" if name == "nopk" else "w") for name in names] +
                   [("keys", table) for table in "kbuld"])

    synced = captured_sync_ends_exact(pair, tmp_path, db, {"keys": list("kbulda"), "nopk": ["n"], "between": ["c"]})
    assert synced["capture_fallbacks"] == {}, synced["capture_fallbacks"]
    # A table without a primary key that changed cannot be mended by rows: its database is copied whole.
    assert synced["copied_whole"] == {db["nopk"]: "table n differs and cannot be mended row by row"}
    assert synced["synced"][db["target"]]["tables"] == {"w": {"deleted": 2, "copied": 2}}
    assert synced["decoded"][db["target"]] == {"source": 0, "target": 2}  # found in the new server's own log
    in_full = synced["compared_in_full"]
    assert set(in_full) == {db["keys"]} and set(in_full[db["keys"]]) == {"a", "d"}, in_full
    assert in_full[db["keys"]]["d"] == "its primary key is of a type the capture does not read back from the binary log"
    # The rolled-back insert: counted by the server's user statistics, logged by no one.
    assert in_full[db["keys"]]["a"].startswith("the server counted 2 rows changed since the capture"), in_full
    for name in ("bulk", "keys", "between"):
        assert synced["decoded"][db[name]]["source"] > 0, name
    assert set(synced["synced"][db["keys"]]["tables"]) == set("kbulwd"), synced["synced"][db["keys"]]
    assert synced["synced"][db["keys"]]["counters"] == ["a"]
