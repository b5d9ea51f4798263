# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Connections to the client's MySQL/MariaDB or PostgreSQL server and what a migration reads from it.

Private to the collection. Drivers: PyMySQL and psycopg2 (psycopg2-binary) on the host that runs the module.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib

try:
    import pymysql
    PYMYSQL_ERROR = None
except ImportError:
    pymysql = None
    PYMYSQL_ERROR = traceback.format_exc()

try:
    import psycopg2
    PSYCOPG2_ERROR = None
except ImportError:
    psycopg2 = None
    PSYCOPG2_ERROR = traceback.format_exc()

ENGINES = ('mysql', 'pgsql')
SYSTEM_DATABASES = {
    'mysql': {'information_schema', 'mysql', 'performance_schema', 'sys'},
    'pgsql': {'postgres', 'template0', 'template1'},
}
DEFAULT_PORTS = {'mysql': 3306, 'pgsql': 5432}


def db_argument_spec():
    return dict(
        engine=dict(type='str', required=True, choices=list(ENGINES), fallback=(env_fallback, ['WA_DB_ENGINE'])),
        login_host=dict(type='str', default='127.0.0.1', fallback=(env_fallback, ['WA_DB_HOSTNAME'])),
        login_port=dict(type='int', fallback=(env_fallback, ['WA_DB_PORT'])),
        login_user=dict(type='str', default='root', fallback=(env_fallback, ['WA_DB_USERNAME'])),
        login_password=dict(type='str', no_log=True, fallback=(env_fallback, ['WA_DB_PASSWORD'])),
        connect_timeout=dict(type='int', default=10),
    )


def target_options():
    """Suboptions of a second server a module writes into (db_dump's restore_to, db_sync's target)."""
    return dict(login_host=dict(type='str', default='127.0.0.1'), login_port=dict(type='int', required=True),
                login_user=dict(type='str', default='root'),
                login_password=dict(type='str', required=True, no_log=True))


class DbError(Exception):
    pass


class Server(object):
    """One database server: list databases and tables, sizes, exact row counts, checksums."""

    def __init__(self, engine, host, port, user, password, connect_timeout=10, session=()):
        self.engine = engine
        self.session = session  # statements run on each new connection (settings of this session only)
        self.host = host
        self.port = port or DEFAULT_PORTS[engine]
        self.user = user
        self.password = password
        self.connect_timeout = connect_timeout
        self._conns = {}

    @classmethod
    def from_module(cls, module):
        params = module.params
        engine = params['engine']
        if engine == 'mysql' and pymysql is None:
            module.fail_json(msg=missing_required_lib('PyMySQL'), exception=PYMYSQL_ERROR)
        if engine == 'pgsql' and psycopg2 is None:
            module.fail_json(msg=missing_required_lib('psycopg2 (psycopg2-binary)'), exception=PSYCOPG2_ERROR)
        return cls(engine, params['login_host'], params['login_port'], params['login_user'],
                   params['login_password'], params['connect_timeout'])

    def describe(self):
        return '%s server %s:%s as %s' % (self.engine, self.host, self.port, self.user)

    def connection(self, dbname=None):
        if dbname not in self._conns:
            try:
                if self.engine == 'mysql':
                    conn = pymysql.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                           database=dbname, connect_timeout=self.connect_timeout,
                                           charset='utf8mb4', autocommit=True)
                else:
                    conn = psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                            dbname=dbname or 'postgres', connect_timeout=self.connect_timeout)
                    conn.autocommit = True
                for statement in self.session:
                    with conn.cursor() as cur:
                        cur.execute(statement)
            except Exception as exc:
                raise DbError('Cannot connect to the %s%s: %s' % (
                    self.describe(), ' database %s' % dbname if dbname else '', exc))
            self._conns[dbname] = conn
        return self._conns[dbname]

    def close(self):
        for conn in self._conns.values():
            try:
                conn.close()
            except Exception:
                pass
        self._conns = {}

    def query(self, sql, params=None, dbname=None):
        return self._run(sql, params, dbname, fetch=True)

    def execute(self, sql, params=None, dbname=None):
        self._run(sql, params, dbname, fetch=False)

    def executemany(self, sql, rows, dbname=None):
        self._run(sql, rows, dbname, fetch=False, many=True)

    def mogrify(self, sql, params, dbname=None):
        """PostgreSQL: the statement with its parameters bound, as the server would get it."""
        return self._cursor_call(dbname, lambda cur: cur.mogrify(sql, params).decode('utf-8'))

    def copy_out(self, sql, handle, dbname=None):
        """PostgreSQL: COPY ... TO STDOUT into a file object."""
        self._cursor_call(dbname, lambda cur: cur.copy_expert(sql, handle))

    def copy_in(self, sql, handle, dbname=None):
        """PostgreSQL: COPY ... FROM STDIN out of a file object."""
        self._cursor_call(dbname, lambda cur: cur.copy_expert(sql, handle))

    def _run(self, sql, params, dbname, fetch, many=False):
        def call(cur):
            (cur.executemany if many else cur.execute)(sql, params)
            return cur.fetchall() if fetch else None
        return self._cursor_call(dbname, call)

    def _cursor_call(self, dbname, call):
        conn = self.connection(dbname)
        try:
            with conn.cursor() as cur:
                return call(cur)
        except self.driver_errors() as exc:
            # A server that dies mid-query: say which one, and forget the broken connection.
            self._conns.pop(dbname, None)
            raise DbError('The %s failed%s: %s' % (self.describe(), ' (database %s)' % dbname if dbname else '',
                                                   str(exc).strip()))

    def driver_errors(self):
        return (pymysql.MySQLError,) if self.engine == 'mysql' else (psycopg2.Error,)

    def drop_database(self, dbname):
        self.execute('DROP DATABASE %s' % self.quote(dbname))

    def quote(self, name):
        if self.engine == 'mysql':
            return '`%s`' % name.replace('`', '``')
        return '"%s"' % name.replace('"', '""')

    # discovery ---------------------------------------------------------------------------------
    def version(self):
        return self.query('SELECT VERSION()')[0][0]

    def identity(self):
        """Names this server uniquely, wherever it is reached from (loopback addresses repeat across hosts)."""
        if self.engine == 'mysql':
            return 'mysql:%s:%s:%s' % self.query('SELECT @@hostname, @@port, @@datadir')[0]
        return 'pgsql:%s' % self.query('SELECT system_identifier FROM pg_control_system()')[0][0]

    def databases(self):
        if self.engine == 'mysql':
            rows = self.query('SELECT schema_name FROM information_schema.schemata')
        else:
            rows = self.query('SELECT datname FROM pg_database WHERE NOT datistemplate')
        return sorted(r[0] for r in rows if r[0] not in SYSTEM_DATABASES[self.engine])

    def select(self, prefix='', include=None, exclude=None):
        """The client's databases: by prefix, restricted to ``include`` when given, minus ``exclude``.

        Raises DbError when an included database is missing or nothing matches.
        """
        present = [d for d in self.databases() if d.startswith(prefix)]
        if include:
            missing = sorted(set(include) - set(present))
            if missing:
                raise DbError('%s not found on the %s (prefix %r; present: %s)' % (
                    ', '.join(missing), self.describe(), prefix, ', '.join(present) or 'none'))
            present = [d for d in present if d in include]
        chosen = [d for d in present if d not in set(exclude or [])]
        return chosen

    def tables(self, dbname):
        """(schema, table) pairs; schema is None on MySQL."""
        if self.engine == 'mysql':
            rows = self.query("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                              "AND table_type = 'BASE TABLE' ORDER BY table_name", (dbname,))
            return [(None, r[0]) for r in rows]
        rows = self.query("SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = "
                          "'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') "
                          "ORDER BY table_schema, table_name", dbname=dbname)
        return [(r[0], r[1]) for r in rows]

    def size(self, dbname):
        if self.engine == 'mysql':
            row = self.query('SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables '
                             'WHERE table_schema = %s', (dbname,))[0]
        else:
            row = self.query('SELECT pg_database_size(%s)', (dbname,))[0]
        return int(row[0])

    def table_name(self, dbname, schema, table):
        if self.engine == 'mysql':
            return '%s.%s' % (self.quote(dbname), self.quote(table))
        return '%s.%s' % (self.quote(schema), self.quote(table))

    def row_count(self, dbname, schema, table):
        sql = 'SELECT COUNT(*) FROM %s' % self.table_name(dbname, schema, table)
        return int(self.query(sql, dbname=None if self.engine == 'mysql' else dbname)[0][0])

    def checksum(self, dbname, schema, table):
        """A content checksum that is equal on two servers of one engine and version holding the same rows.

        MySQL/MariaDB: CHECKSUM TABLE. PostgreSQL: the row count and the sums of two differently seeded 64-bit
        hashes of each row (128 bits in all), which need no sort and no memory beyond one row (order does not
        matter). Rows are hashed with hash_record_extended (PostgreSQL 14 and later: each column's own hash
        function, several times cheaper than hashing the row's text, and stable across versions since hash
        partitioning relies on it); a table with a column type that has no hash function, or an older server,
        hashes the row's text instead. The method is part of the checksum, so two servers that would hash
        differently never compare equal. This runs inside the downtime.
        Returns ``(checksum, rows)``; rows is None where the checksum does not count them.
        """
        name = self.table_name(dbname, schema, table)
        if self.engine == 'mysql':
            return str(self.query('CHECKSUM TABLE %s EXTENDED' % name)[0][1]), None
        by_record = ('SELECT COUNT(*), COALESCE(SUM(hash_record_extended(t, 0)), 0), '
                     'COALESCE(SUM(hash_record_extended(t, 1)), 0) FROM %s t' % name)
        by_text = ('SELECT COUNT(*), COALESCE(SUM(hashtextextended(r, 0)), 0), '
                   'COALESCE(SUM(hashtextextended(r, 1)), 0) FROM (SELECT t::text AS r FROM %s t) s' % name)
        try:
            method, (count, first, second) = 'r', self.query(by_record, dbname=dbname)[0]
        except DbError:
            if not self.ping(dbname):
                raise
            method, (count, first, second) = 't', self.query(by_text, dbname=dbname)[0]
        return '%s%d-%x-%x' % (method, count, int(first) % (1 << 80), int(second) % (1 << 80)), int(count)

    def ping(self, dbname=None):
        """Whether the server still answers (a failed query may be the query's fault or the server's)."""
        try:
            self.query('SELECT 1', dbname=dbname)
            return True
        except DbError:
            return False

    def label(self, schema, table):
        return table if self.engine == 'mysql' or schema == 'public' else '%s.%s' % (schema, table)

    def table_inventory(self, dbname, schema, table, row_counts=True, checksums=False):
        entry = {}
        if checksums:
            entry['checksum'], counted = self.checksum(dbname, schema, table)
            if row_counts and counted is not None:
                entry['rows'] = counted  # one scan of the table instead of two
        if row_counts and 'rows' not in entry:
            entry['rows'] = self.row_count(dbname, schema, table)
        return entry

    def inventory(self, dbname, row_counts=True, checksums=False):
        tables = dict((self.label(schema, table), self.table_inventory(dbname, schema, table, row_counts, checksums))
                      for schema, table in self.tables(dbname))
        return {'size_bytes': self.size(dbname), 'tables': tables}


def inventory_of(server, databases, checksums):
    """Tables, row counts and checksums of ``databases``, on connections of its own (safe beside a dump)."""
    own = Server(server.engine, server.host, server.port, server.user, server.password, server.connect_timeout)
    try:
        return dict((d, own.inventory(d, True, checksums)) for d in databases)
    finally:
        own.close()
