# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One client's databases and nothing else, on shared servers.

The old and the new database server each hold, beside the client's databases, a client with a longer prefix,
another application's databases (one whose name starts with the prefix, one that starts with a client name), and
databases named like a tool's option or a path. Option 2, a rollback after the cut-over, option 3 over the rollback's
leftovers with wabiz_db_overwrite=true, and the drop each succeed for the client, and leave every neighbour as it was
(compared by this test's own queries, row by row), off the other server, and out of the backup directories and the
journal. A neighbour is written to all along on the old server: the write fence is not the neighbours' either.
MariaDB with the prefix acme_, PostgreSQL with the vendor's default empty prefix.
"""

import json
import os
import threading

import pytest

from labsupport import ROOT, ansible_playbook, databases, start_lab, stop_lab

NEIGHBOURS = {
    # side: names after the client's prefix P ("+" marks a name taken as it is, without P)
    "old": ["eu_wacore", "eu_waweb", "eu_wamessages_1", "reports", "wacore_old", "wamessages_1x", "+billing",
            "+--result-file=x", "+--format=c", "+../escape", "+wacorex"],
    "new": ["us_wacore", "us_wamessages_1", "crm", "+--dbname=postgres", "+../../x", "+waweb_archive"],
}
BUSY = "busy_wamessages_1"  # a neighbour written to during the migrations, on the old server


def names(prefix, side):
    return [n[1:] if n.startswith("+") else prefix + n for n in NEIGHBOURS[side]]


def quote(engine, name):
    return "`%s`" % name.replace("`", "``") if engine == "mysql" else '"%s"' % name.replace('"', '""')


def plant(lab, side, prefix):
    """Creates the neighbours a server takes (a name the engine refuses is left out); returns their names."""
    engine = lab.setup(side)["engine"]
    planted = []
    for name in names(prefix, side) + ([prefix + BUSY] if side == "old" else []):
        conn = lab.db(side)
        try:
            with conn.cursor() as cur:
                cur.execute("CREATE DATABASE " + quote(engine, name))
        except Exception:  # pylint: disable=broad-except
            continue  # a name this engine does not take as a database name
        finally:
            conn.close()
        statements = ["CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(60))",
                      "INSERT INTO t VALUES (1, 'one'), (2, %s), (3, NULL)" % ("'%s'" % name.replace("'", "''"))]
        conn = lab.db(side, name)
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
            conn.commit()
        finally:
            conn.close()
        planted.append(name)
    return planted


def digest(lab, side, dbnames):
    """{database: (its tables, every row of t)}: the test's own reading, no hashing."""
    engine = lab.setup(side)["engine"]
    out = {}
    for name in dbnames:
        conn = lab.db(side, name)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                            (name if engine == "mysql" else "public",))
                tables = sorted(r[0] for r in cur.fetchall())
                cur.execute("SELECT id, v FROM t ORDER BY id")
                out[name] = (tables, [tuple(r) for r in cur.fetchall()])
        finally:
            conn.close()
    return out


def present(lab, side):
    engine = lab.setup(side)["engine"]
    conn = lab.db(side)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT schema_name FROM information_schema.schemata" if engine == "mysql"
                        else "SELECT datname FROM pg_database")
            return {r[0] for r in cur.fetchall()}
    finally:
        conn.close()


class Writer:
    """Inserts into the busy neighbour on the old server, one row a second, until stopped."""

    def __init__(self, lab, dbname):
        self.lab, self.dbname, self.written, self.errors = lab, dbname, 0, []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stopped.is_set():
            try:
                # In its own database: a MariaDB session without one could write anywhere, and counts as a writer.
                conn = self.lab.db("old", self.dbname)
                try:
                    with conn.cursor() as cur:
                        cur.execute("INSERT INTO t VALUES (%d, 'busy')" % (1000 + self.written))
                    conn.commit()
                    self.written += 1
                finally:
                    conn.close()
            except Exception as exc:  # pylint: disable=broad-except
                self.errors.append(str(exc))
            self.stopped.wait(1)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()


def traces(lab, dbnames):
    """Where a neighbour's name appears in what the migration wrote: file and directory names under the backup
    directories and the runs directory, and the text of every manifest, journal and report there."""
    found = []
    for top in [os.path.join(lab.workdir, "runs")] + [os.path.join(lab.workdir, s, "backups") for s in ("old", "new")]:
        for directory, subdirs, files in os.walk(top):
            for entry in subdirs + files:
                found += ["%s/%s" % (directory, entry) for name in dbnames if name in entry]
            for entry in files:
                if entry.endswith((".json", ".html", ".txt", ".log")):
                    with open(os.path.join(directory, entry), encoding="utf-8", errors="replace") as handle:
                        text = handle.read()
                    found += ["%s/%s mentions %s" % (directory, entry, name) for name in dbnames
                              if json.dumps(name)[1:-1] in text]
    return found


@pytest.fixture(params=[("mysql", "acme_"), ("pgsql", "")], ids=["mysql-prefix-acme", "pgsql-empty-prefix"])
def shared(request, docker_engine):  # pylint: disable=unused-argument
    engine, prefix = request.param
    lab = start_lab(engine, 0, messages=100, db_prefix=prefix)
    try:
        lab.run("inventory")
        yield lab, prefix
    finally:
        stop_lab(lab)


def playbook(name):
    return os.path.join(ROOT, "playbooks", name)


def test_a_migration_touches_the_clients_databases_and_nothing_else(shared):
    lab, prefix = shared
    inventory = os.path.join(lab.workdir, "inventory.yml")
    old_neighbours, new_neighbours = plant(lab, "old", prefix), plant(lab, "new", prefix)
    busy = prefix + BUSY
    assert busy in old_neighbours
    quiet = [n for n in old_neighbours if n != busy]
    assert {"--result-file=x", "--format=c"} & set(quiet) and prefix + "eu_wacore" in quiet, quiet
    before = {"old": digest(lab, "old", quiet), "new": digest(lab, "new", new_neighbours)}
    client = sorted(databases(lab, "old"))
    assert client and not set(client) & set(old_neighbours), client

    def unchanged(when):
        assert digest(lab, "old", quiet) == before["old"], when
        assert digest(lab, "new", new_neighbours) == before["new"], when
        assert not set(old_neighbours) & present(lab, "new"), when
        assert not set(new_neighbours) & present(lab, "old"), when
        assert traces(lab, old_neighbours + new_neighbours) == [], when

    # The plan names the neighbours the prefix matches as left alone.
    rc, output = ansible_playbook(playbook("option2.yml"), inventory, "--check")
    assert rc == 0 and "not the client's, left alone: " in output, output[-4000:]
    assert prefix + "eu_wacore" in output.split("left alone: ", 1)[1].split("\n", 1)[0], output[-4000:]
    with Writer(lab, busy) as writer:
        rc, output = ansible_playbook(playbook("option2.yml"), inventory)
        assert rc == 0, output[-4000:]
        unchanged("option 2")
        # The new client made its own waweb (option 2 leaves the old one's API users behind).
        assert sorted(databases(lab, "new")) == client
        rc, output = ansible_playbook(playbook("rollback.yml"), inventory)
        assert rc == 0, output[-4000:]
        unchanged("rollback")
        lab.client("old").wait_health(timeout=60)
        # Option 3 over what option 2 and its rollback left on the new server: replaced, and only that.
        os.unlink(os.path.join(lab.workdir, "runs", "old-setup__new-setup.json"))
        rc, output = ansible_playbook(playbook("option3.yml"), inventory, "-e", "wabiz_db_overwrite=true")
        assert rc == 0, output[-4000:]
        unchanged("option 3")
        assert sorted(databases(lab, "new")) == client
    assert writer.written > 10 and not writer.errors, (writer.written, writer.errors[:3])
    drop = ["-e", "wabiz_drop_force=true", "-e", "wabiz_drop_confirm=" + ",".join(sorted(client))]
    if not prefix:
        drop += ["-e", "wabiz_drop_unprefixed=true"]
    rc, output = ansible_playbook(playbook("drop_old_database.yml"), inventory, *drop)
    assert rc == 0, output[-4000:]
    unchanged("drop")
    assert databases(lab, "old") == [] and set(old_neighbours) <= present(lab, "old")
    lab.client("new").wait_health(timeout=60)
