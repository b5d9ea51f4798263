# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The write fence: proof that nobody wrote to the source databases while a migration read them.

Private to the collection. Stopping the old client's containers stops the writers the migration knows of; a
node of the old setup on another host, a script or any other client would go on writing, and the new client
would start on data that is already stale. The fence is raised before the first read of the source and checked
after the last comparison: in between, no session other than the migration's own may be connected to the
databases (from any host, as any user), and the server's write counters must not move. Nothing is written to
the source: its databases are not switched to read-only (that is the operator's choice, not the migration's).

Write counters: PostgreSQL counts inserted, updated and deleted rows per table (``pg_stat_user_tables``, summed per
database) and catalog rows written (schema changes, large objects; autovacuum's statistics left out), and each
sequence's state is read (nextval and setval move no row counter); a backend hands its counts over when it ends,
and one still connected is found as a session. A transaction prepared for two-phase commit is a writer no
session holds: it is named with the sessions. MySQL/MariaDB count
rows per table in performance_schema where it is on (MySQL 8's default), else in MariaDB's user statistics
(userstat=1), so that another client's or application's writes on a shared server do not stop the migration;
schema statements are counted for the whole server, and without either per-table reading rows too (the message
says so: on a shared server, the others' writes then stop the migration).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.wabiz.migration.plugins.module_utils._binlog import rows_written

# Sessions that go away within this time are connections closing (the old client's, the dump tools'), not
# writers waiting.
SETTLE_SECONDS = 3.0
# PostgreSQL, per database: rows written to its tables, and catalog rows inserted or deleted (what DDL does).
# Not pg_stat_database's totals: they count the catalog rows autovacuum's ANALYZE writes (pg_statistic, and
# pg_class updates), which go on after the client stopped and are no writer's.
PG_ROWS_WRITTEN = "SELECT COALESCE(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables"
# Per catalog table, so that a refusal says what kind of change it saw (pg_attribute and pg_class: a table made
# or altered, a temporary one too; pg_largeobject: a large object written; pg_sequence: a sequence altered).
# Statistics are no writer's (autovacuum's ANALYZE writes them after the client's last writes), and its updates
# of pg_class and pg_database are made in place, which counts no update.
# Their TOAST tables too: a large statistic (a long text column's histogram) is stored there.
PG_CATALOG_WRITES = ("SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_sys_tables "
                     "WHERE relname NOT IN ('pg_statistic', 'pg_statistic_ext_data') AND relid NOT IN ("
                     "SELECT reltoastrelid FROM pg_class WHERE oid IN ('pg_statistic'::regclass, "
                     "'pg_statistic_ext_data'::regclass)) AND n_tup_ins + n_tup_upd + n_tup_del > 0")
PG_SEQUENCES = "SELECT format('%I.%I', schemaname, sequencename), last_value::text FROM pg_sequences"
# Between two readings of PostgreSQL's write counters that must agree before the fence stands.
STATS_SETTLE_SECONDS = 0.25
# Rows written to tables (MariaDB counts its internal temporary tables apart, as Handler_tmp_*) and schema
# changes, for the whole server.
MYSQL_ROW_COUNTERS = ('Handler_write', 'Handler_update', 'Handler_delete')
MYSQL_SCHEMA_COUNTERS = ('Com_create_table', 'Com_alter_table', 'Com_drop_table', 'Com_rename_table', 'Com_truncate',
                         'Com_create_index', 'Com_drop_index', 'Com_create_db', 'Com_drop_db')


class FenceBroken(Exception):
    pass


def _moved(name, before, now):
    """A counter's move ('name +2'), or a state's ('name 41 -> 500')."""
    if isinstance(now, int) and isinstance(before, (int, type(None))):
        return '%s %+d' % (name, now - (before or 0))
    return '%s %s -> %s' % (name, before, now)


class WriteFence(object):
    """``raise_()`` before the first read of ``databases`` on ``server``; ``check()`` after the last comparison.

    ``server`` is the migration's own connection set: the sessions of it and of its siblings are not writers.
    """

    # What a failure says, by whose databases the source holds: the old client's in a migration, the new
    # client's when a rollback carries its writes back.
    WAY_ON = {
        'old': ('old', 'Another node of the old setup, a script, a second application',
                'then re-run the playbook: it resumes at this step and compares again; or run wabiz.migration.rollback (in AWX, its job template) to bring '
                'the old client back. The new client was not started.'),
        'new': ('new', 'A container of the new client left running, a script, a second application',
                'then run wabiz.migration.rollback again. The old client was not started.'),
    }

    def __init__(self, server, databases, source_client='old'):
        self.server = server
        self.databases = sorted(databases)
        self.positions = None
        self.side, self.suspects, self.way_on = self.WAY_ON[source_client]

    def raise_(self):
        self._no_sessions('before the copy was compared')
        self.positions = self._settled_positions()
        return self.positions

    def _settled_positions(self):
        """The counters once they stand still. PostgreSQL: a backend hands its counts to the statistics as it
        exits, which can be just after it left pg_stat_activity (a client stopped a moment ago); its writes were
        committed before, but counted after a first reading they would break the fence for nothing."""
        positions = self.read_positions()
        if self.server.engine != 'pgsql':
            return positions  # MySQL/MariaDB count as they write
        deadline = time.time() + SETTLE_SECONDS
        while True:
            time.sleep(STATS_SETTLE_SECONDS)
            again = self.read_positions()
            if again == positions or time.time() > deadline:
                return again  # a writer that goes on is caught by check()
            positions = again

    def check(self):
        self._no_sessions('while the copy was compared')
        now = self.read_positions()
        moved_names = sorted(name for name, value in now.items() if self.positions.get(name) != value)
        moved = [_moved(name, self.positions.get(name), now[name]) for name in moved_names]
        if moved:
            scope = ('for the whole server, so writes to other databases on it count too'
                     if any(name in MYSQL_ROW_COUNTERS + MYSQL_SCHEMA_COUNTERS for name in moved_names) else 'per database')
            raise FenceBroken(
                'The %s databases were written to while the migration compared them: %s (counted %s). A writer '
                'is still running against %s (%s?). Find and stop it, %s'
                % (self.side, ', '.join(moved), scope, self.server.describe(), self.suspects.lower(), self.way_on))
        return now

    def _no_sessions(self, when):
        deadline = time.time() + SETTLE_SECONDS
        while True:
            found = self.sessions()
            if not found or time.time() > deadline:
                break
            time.sleep(0.2)
        if found:
            raise FenceBroken(
                'Sessions other than the migration\'s are connected to the %s databases %s: %s. Each could write '
                'to them after the copy is taken. Stop those clients (%s), %s'
                % (self.side, when, '; '.join(found), self.suspects.lower(), self.way_on))

    def sessions(self):
        """Other sessions that are, or may be, on the databases: 'user@host (database, state)'."""
        server = self.server
        server.connection()  # opened first, so that its own session is among the migration's
        own = sorted(server.session_ids)
        if server.engine == 'pgsql':
            rows = server.query(
                "SELECT usename, COALESCE(host(client_addr), 'local socket'), client_port, datname, state "
                "FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname = ANY(%s) "
                "AND NOT pid = ANY(%s) ORDER BY pid", (self.databases, own or [0]))
        else:
            # A session without a current database may still write to any of them: it counts too.
            rows = server.query(
                "SELECT user, host, '', db, command FROM information_schema.processlist "
                "WHERE id NOT IN (%s) AND user NOT IN ('system user', 'event_scheduler', 'unauthenticated user') "
                "AND command NOT IN ('Daemon', 'Binlog Dump', 'Binlog Dump GTID') AND (db IS NULL OR db IN (%s)) "
                "ORDER BY id" % (', '.join(['%s'] * len(own or [0])), ', '.join(['%s'] * len(self.databases))),
                list(own or [0]) + list(self.databases))
        return ['%s@%s%s (database %s, %s)' % (user, host, ':%s' % port if port else '', db or 'none', state)
                for user, host, port, db, state in rows] + self.prepared()

    def prepared(self):
        """Transactions prepared for two-phase commit: writers that no session holds, committed whenever their
        coordinator says so."""
        server = self.server
        if server.engine == 'pgsql':
            return ["prepared transaction '%s' of %s (database %s)" % row for row in server.query(
                'SELECT gid, owner, database FROM pg_prepared_xacts WHERE database = ANY(%s) ORDER BY prepared',
                (self.databases,))]
        # XA transactions carry no database: any prepared one may write these.
        return ["prepared XA transaction '%s' (database unknown)" % row[3] for row in server.query('XA RECOVER')]

    def read_positions(self):
        """{counter: value}: what moves when rows of the databases are written."""
        server = self.server
        if server.engine == 'pgsql':
            out = {}
            for dbname in self.databases:
                server.query('SELECT pg_stat_clear_snapshot()', dbname=dbname)
                out['%s rows written' % dbname] = int(server.query(PG_ROWS_WRITTEN, dbname=dbname)[0][0])
                out.update(('%s catalog writes (%s)' % (dbname, table), int(changed))
                           for table, changed in server.query(PG_CATALOG_WRITES, dbname=dbname))
                out.update(('%s sequence %s' % (dbname, name), value)
                           for name, value in server.query(PG_SEQUENCES, dbname=dbname))
            return out
        if int(server.query('SELECT @@performance_schema')[0][0]):
            rows = server.query('SELECT object_schema, object_name, count_insert + count_update + count_delete FROM '
                                'performance_schema.table_io_waits_summary_by_table WHERE object_schema IN (%s)'
                                % ', '.join(['%s'] * len(self.databases)), self.databases)
        elif rows_written(server.query, self.databases[0]) is not None:
            # MariaDB's user statistics (the change capture's independent count): rows changed per table.
            rows = [(dbname, table, written) for dbname in self.databases
                    for table, written in rows_written(server.query, dbname).items()]
        else:
            return self._global_status(MYSQL_ROW_COUNTERS + MYSQL_SCHEMA_COUNTERS)
        # Rows per table of these databases (a neighbour's writes on a shared server are its own); schema
        # statements for the whole server, as no per-table reading counts them.
        positions = self._global_status(MYSQL_SCHEMA_COUNTERS)
        positions.update(('%s.%s rows written' % (dbname, table), int(written)) for dbname, table, written in rows)
        return positions

    def _global_status(self, names):
        rows = self.server.query('SHOW GLOBAL STATUS WHERE Variable_name IN (%s)' % ', '.join(['%s'] * len(names)),
                                 names)
        return dict((name, int(value)) for name, value in rows)
