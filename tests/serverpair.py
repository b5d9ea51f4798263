# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Two bare database servers of one engine (no Docker, no emulator), started by the test module that uses
them, and the database modules run against them through ansible-playbook, one phase at a time
(tests/integration/playbooks/verify.yml)."""

import json
import os
import shutil
import sys
import tempfile

from labsupport import ROOT, ansible_playbook, free_port_base

PLAYBOOK = os.path.join(ROOT, "tests", "integration", "playbooks", "verify.yml")
PASSWORD = "verify-pw-5b1e"
PREFIX = "vt_"
# The modules take only a client's own databases (the prefix followed by wacore, waweb, wamessages or
# wamessages_<shard>): each test database is a shard database of the client vt_, numbered by its label.
SHARDS = {}


def client_db(label):
    """The test database for ``label``: vt_wamessages_<n>, the same n for the same label within a run."""
    return "%swamessages_%d" % (PREFIX, SHARDS.setdefault(label, len(SHARDS) + 1))


ZONES = {"old": "America/New_York", "new": "Asia/Kolkata"}
BUCKETS = 4096
# The repeated hour of 2026-11-01 in New York: both instants read 01:30:00 there.
DST_FIRST, DST_SECOND = "2026-11-01 05:30:00", "2026-11-01 06:30:00"


class Pair:
    """An old and a new server of one engine, and plain driver connections to them (the test's own)."""

    def __init__(self, engine, workdir):
        self.engine = engine
        self.workdir = workdir
        base = free_port_base()
        offset = 306 if engine == "mysql" else 432
        self.ports = {"old": base + offset, "new": base + 1000 + offset}
        self.pids = {}
        self.inventory = os.path.join(workdir, "inventory.yml")
        localhost = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        with open(self.inventory, "w", encoding="utf-8") as handle:
            json.dump({"all": {"hosts": {"localhost": localhost}}}, handle)

    def start(self):
        from lablib import dbserver
        for name in ("old", "new"):
            datadir = self.datadir(name)
            os.makedirs(os.path.dirname(datadir), mode=0o755)
            start = dbserver.start_mariadb if self.engine == "mysql" else dbserver.start_postgres
            self.pids[name] = start(datadir, self.ports[name], PASSWORD, time_zone=ZONES[name])

    def stop(self):
        from lablib import dbserver
        for name, pid in self.pids.items():
            dbserver.stop_server(self.engine, self.datadir(name), pid)

    def datadir(self, name):
        return os.path.join(self.workdir, name, "db")

    def connect(self, name, dbname=None):
        from lablib import dbserver
        return dbserver.connect(self.engine, self.ports[name], PASSWORD, dbname)

    def run(self, name, statements, dbname=None, params=None):
        """Execute statements; returns the last one's rows (or None)."""
        conn = self.connect(name, dbname)
        try:
            rows = None
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement, params)
                    rows = cur.fetchall() if cur.description else None
            return rows
        finally:
            conn.close()

    def slots(self, name):
        """The replication slots on a server (MariaDB's capture has none to leave behind)."""
        if self.engine == "mysql":
            return []
        return [r[0] for r in self.run(name, ["SELECT slot_name FROM pg_replication_slots ORDER BY 1"])]

    def databases(self, name):
        sql = ("SELECT schema_name FROM information_schema.schemata" if self.engine == "mysql" else
               "SELECT datname FROM pg_database")
        return sorted(r[0] for r in self.run(name, [sql]) if r[0].startswith(PREFIX))

    def create_database(self, name, dbname, statements):
        if dbname in self.databases(name):
            self.run(name, ["DROP DATABASE %s" % dbname])
        self.run(name, ["CREATE DATABASE %s" % dbname])
        self.run(name, statements, dbname)

    def exact_rows(self, name, dbname, table):
        """Every row of a table, each value read so that any two different values read differently: this
        test's own comparison, sorted, with no hashing."""
        if self.engine == "pgsql":
            # A record's text carries each value in full: numeric scale, citext case, -0, bytea, char padding.
            statements = ["SET TimeZone = 'UTC'", "SET extra_float_digits = 3", "SET bytea_output = 'hex'",
                          "SELECT t::text FROM %s t" % table]
            return sorted(r[0] for r in self.run(name, statements, dbname))
        columns = self.run(name, ["SELECT column_name, data_type FROM information_schema.columns WHERE "
                                  "table_schema = %s AND table_name = %s ORDER BY ordinal_position"],
                           params=(dbname, table))
        select = []
        for column, data_type in columns:
            if data_type == "float":
                select.append("CAST(`%s` AS DOUBLE)" % column)  # the driver reads FLOAT with 6 digits
            elif data_type == "timestamp":
                select.append("UNIX_TIMESTAMP(`%s`)" % column)  # the instant, whatever the session's zone
            else:
                select.append("HEX(`%s`)" % column)  # the bytes: case, trailing spaces, every byte value
        return sorted(repr(r) for r in self.run(name, ["SELECT %s FROM `%s`" % (", ".join(select), table)], dbname))

    def old_check_sums(self, name, dbname, table, key, columns):
        """The bucket sums of the check before this one, by its own SQL: {bucket: (rows, sum)}."""
        if self.engine == "mysql":
            row_hash = "CRC32(CONCAT_WS(0x1f, %s, CONCAT(%s)))" % (
                ", ".join("`%s`" % c for c in columns), ", ".join("ISNULL(`%s`)" % c for c in columns))
            sql = "SELECT MOD(CRC32(`%s`), %d), COUNT(*), SUM(%s) FROM `%s` GROUP BY 1" % (
                key, BUCKETS, row_hash, table)
        else:
            sql = ("SELECT hashtext(t.%s::text) & %d, COUNT(*), SUM(hash_record_extended(t, 2)) FROM %s t GROUP BY 1"
                   % (key, BUCKETS - 1, table))
        return dict((r[0], (r[1], r[2])) for r in self.run(name, [sql], dbname))


def pair_fixture(request):
    workdir = tempfile.mkdtemp(prefix="wabiz-verify-", dir="/var/tmp")
    os.chmod(workdir, 0o755)  # PostgreSQL runs as user postgres
    pair = Pair(request.param, workdir)
    try:
        pair.start()
        yield pair
    finally:
        pair.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# Few enough rows in memory at a time that the rows of the differing groups go through files, range by range.
IN_RANGES = 2


def run(pair, work, phase, databases, captured=False, rows_in_memory=None, required=None):
    """One phase of verify.yml; ``required``: db_capture's (on PostgreSQL by default)."""
    extra = {"phase": phase, "engine": pair.engine, "old_port": pair.ports["old"], "new_port": pair.ports["new"],
             "password": PASSWORD, "databases": databases, "prefix": PREFIX, "work_dir": str(work),
             "captured": captured}
    if rows_in_memory:
        extra["rows_in_memory"] = rows_in_memory
    if required is not None:
        extra["required"] = required
    rc, output = ansible_playbook(PLAYBOOK, pair.inventory, "-e", json.dumps(extra))
    assert rc == 0, output[-6000:]
    assert PASSWORD not in output
    with open(os.path.join(work, phase + ".json"), encoding="utf-8") as handle:
        return json.load(handle)
