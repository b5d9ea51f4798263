# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Two readers of MariaDB's binary log side by side, on the same log and the same changes: the collection's (the
text of ``mariadb-binlog -v``, module_utils/_binlog.py) and typed row events over the replication protocol
(mysql-replication, on PyMySQL). Each must find exactly the keys the test changed, no fewer and, for typed events,
no more; their times are printed beside each other.

    PYTHONPATH=tests .venv/bin/python -m pip install mysql-replication   # the typed reader, only for this
    PYTHONPATH=tests .venv/bin/python bench/binlog_readers.py --rows 400000 --changes 200000

Starts a MariaDB server of its own (a free 127.0.0.1 port, a temporary data directory), stopped by its PID at
the end. The changes are those of a busy client in the downtime: updates, inserts and deletes of message rows,
plus keys whose text mariadb-binlog prints ambiguously (tabs, backslashes, quotes, the four characters of a \\x
escape) and binary and unsigned keys."""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

# This checkout as ansible_collections.wabiz.migration, for the imports below.
import labsupport  # noqa: E402,F401 pylint: disable=wrong-import-position,unused-import

DBNAME = "bench_wamessages_1"
PASSWORD = "binlog-bench-7c1d"
TRICKY = ["it's", "tab\t", "tab\\x09", "back\\slash'", "new\nline", "ünï €", "trailing  ", "@2='x'", "x00\\x00"]


class Module:
    """What _binlog.BinlogReader asks of an Ansible module: run a command, find a program."""

    @staticmethod
    def run_command(argv, environ_update=None):
        result = subprocess.run(argv, capture_output=True, text=True, check=False,
                                env=dict(os.environ, **(environ_update or {})))
        return result.returncode, result.stdout, result.stderr

    @staticmethod
    def get_bin_path(name, opt_dirs=None):  # pylint: disable=unused-argument
        return shutil.which(name)


def fill(server, rows):
    server.execute("DROP DATABASE IF EXISTS %s" % DBNAME)
    server.execute("CREATE DATABASE %s" % DBNAME)
    for statement in (
            "CREATE TABLE messages (id BIGINT PRIMARY KEY, chat VARCHAR(40), body TEXT, media VARBINARY(64))",
            "CREATE TABLE k (name VARCHAR(40), n INT, v INT, PRIMARY KEY (name, n))",
            "CREATE TABLE b (id VARBINARY(16) PRIMARY KEY, v INT)",
            "CREATE TABLE u (id BIGINT UNSIGNED PRIMARY KEY, v INT)"):
        server.execute(statement, dbname=DBNAME)
    batch = 5000
    for start in range(0, rows, batch):
        server.executemany("INSERT INTO messages VALUES (%s, %s, %s, %s)",
                           [(i, "chat %d" % (i % 997), "body %d " % i * 8, os.urandom(16))
                            for i in range(start, min(rows, start + batch))], dbname=DBNAME)
    server.executemany("INSERT INTO k VALUES (%s, %s, %s)", [(name, i, 0) for i, name in enumerate(TRICKY)],
                       dbname=DBNAME)
    server.executemany("INSERT INTO b VALUES (%s, %s)", [(bytes([i, 0, 0x5c, 0x27]), i) for i in range(40)],
                       dbname=DBNAME)
    server.executemany("INSERT INTO u VALUES (%s, %s)", [(2 ** 64 - 1 - i, i) for i in range(40)], dbname=DBNAME)


def change(server, rows, changes):
    """Writes ``changes`` row changes; returns {table: set of key texts} they touched."""
    touched = {"messages": set(), "k": set(), "b": set(), "u": set()}
    rng = random.Random(7)
    ids = rng.sample(range(rows), min(changes, rows))
    for start in range(0, len(ids), 2000):
        chunk = ids[start:start + 2000]
        kind = (start // 2000) % 3
        if kind == 0:
            server.executemany("UPDATE messages SET body = %s WHERE id = %s", [("changed", i) for i in chunk],
                               dbname=DBNAME)
        elif kind == 1:
            server.executemany("DELETE FROM messages WHERE id = %s", [(i,) for i in chunk], dbname=DBNAME)
        else:
            chunk = [rows + i for i in chunk]
            server.executemany("INSERT INTO messages VALUES (%s, 'new', 'new', NULL)", [(i,) for i in chunk],
                               dbname=DBNAME)
        touched["messages"].update(str(i) for i in chunk)
    for i, name in enumerate(TRICKY):
        server.execute("UPDATE k SET v = v + 1 WHERE name = %s AND n = %s", (name, i), dbname=DBNAME)
        touched["k"].add((name, str(i)))
    for i in range(0, 40, 3):
        server.execute("UPDATE b SET v = v + 1 WHERE id = %s", (bytes([i, 0, 0x5c, 0x27]),), dbname=DBNAME)
        touched["b"].add(bytes([i, 0, 0x5c, 0x27]).hex().upper())
        server.execute("UPDATE u SET v = v + 1 WHERE id = %s", (2 ** 64 - 1 - i,), dbname=DBNAME)
        touched["u"].add(str(2 ** 64 - 1 - i))
    return touched


def as_key(values):
    return tuple(v.hex().upper() if isinstance(v, bytes) else str(v) for v in values)


def text_reader(server, start, tables):
    from ansible_collections.wabiz.migration.plugins.module_utils._binlog import BinlogReader
    with BinlogReader(Module()) as reader:
        changes = reader.changes(server, DBNAME, start, tables)
    return {label: set(k if len(k) > 1 else k[0] for k in keys) for label, keys in changes.keys.items()}, changes


def typed_reader(port, start, tables):
    from pymysqlreplication import BinLogStreamReader
    from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent
    stream = BinLogStreamReader(
        connection_settings={"host": "127.0.0.1", "port": port, "user": "root", "passwd": PASSWORD},
        server_id=random.randint(10 ** 6, 2 * 10 ** 6), log_file=start["file"], log_pos=start["position"],
        resume_stream=True, blocking=False, only_schemas=[DBNAME], is_mariadb=True,
        # Without it the reader stops at the first VARBINARY value that is no UTF-8 (1.0.17 decodes binary
        # columns of MariaDB as text even with binlog_row_metadata=FULL); with it, such bytes are dropped.
        ignore_decode_errors=True,
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent])
    found = {}
    try:
        for event in stream:
            key_columns = tables[event.table].primary_key
            for row in event.rows:
                for image in ([row["before_values"], row["after_values"]] if "before_values" in row
                              else [row["values"]]):
                    missing = [c for c in key_columns if c not in image]
                    if missing:
                        raise ValueError("the typed events name the columns of %s %s, not %s" % (
                            event.table, ", ".join(sorted(image)[:4]), ", ".join(missing)))
                    key = as_key(image[c] for c in key_columns)
                    found.setdefault(event.table, set()).add(key if len(key) > 1 else key[0])
    finally:
        stream.close()
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=400000)
    parser.add_argument("--changes", type=int, default=200000)
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    from lablib import dbserver
    from labsupport import free_port_base
    from ansible_collections.wabiz.migration.plugins.module_utils._binlog import position
    from ansible_collections.wabiz.migration.plugins.module_utils._db import Server
    from ansible_collections.wabiz.migration.plugins.module_utils._dbsync import database_shape
    workdir = tempfile.mkdtemp(prefix="wabiz-binlog-bench-", dir="/var/tmp")
    os.chmod(workdir, 0o755)
    datadir = os.path.join(workdir, "db")
    os.makedirs(os.path.dirname(datadir), exist_ok=True)
    port = free_port_base() + 306
    pid = dbserver.start_mariadb(datadir, port, PASSWORD)
    server = Server("mysql", "127.0.0.1", port, "root", PASSWORD)
    try:
        fill(server, args.rows)
        _fingerprint, tables = database_shape(server, DBNAME)
        # mysql-replication names columns and knows their types and character sets only from the table map's
        # full metadata (MariaDB 10.5+: binlog_row_metadata=FULL, off by default): without it, a VARBINARY value
        # is decoded as UTF-8 text and the reader fails. The text reader needs no such setting.
        server.execute("SET GLOBAL binlog_row_metadata = FULL")
        start = position(server)
        touched = change(server, args.rows, args.changes)
        started = time.time()
        text_keys, text_changes = text_reader(server, start, tables)
        text_seconds = time.time() - started
        started = time.time()
        try:
            typed_keys, typed_error = typed_reader(port, start, tables), None
        except Exception as exc:  # pylint: disable=broad-except
            typed_keys, typed_error = {}, "%s: %s" % (type(exc).__name__, exc)
        typed_seconds = time.time() - started
        figures = {"rows": args.rows, "changes": args.changes, "log_bytes": sum(
            os.path.getsize(os.path.join(datadir, f)) for f in os.listdir(datadir) if f.startswith("binlog.0")),
            "text": {"seconds": round(text_seconds, 2), "whole": text_changes.whole,
                     "missing": {t: len(touched[t] - text_keys.get(t, set())) for t in touched},
                     "extra": {t: len(text_keys.get(t, set()) - touched[t]) for t in touched}},
            "typed": {"seconds": round(typed_seconds, 2), "error": typed_error,
                      "missing": {t: len(touched[t] - typed_keys.get(t, set())) for t in touched},
                      "extra": {t: len(typed_keys.get(t, set()) - touched[t]) for t in touched}}}
        print(json.dumps(figures, indent=2))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as handle:
                json.dump(figures, handle, indent=2)
    finally:
        server.close()
        dbserver.stop_server("mysql", datadir, pid)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
