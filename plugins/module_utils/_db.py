# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Connections to the client's MySQL/MariaDB or PostgreSQL server and what a migration reads from it.

Private to the collection. Drivers: PyMySQL and psycopg2 (psycopg2-binary) on the host that runs the module.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re
import ssl
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib

try:
    import pymysql
    PYMYSQL_ERROR = None
except ImportError:
    pymysql = None
    PYMYSQL_ERROR = traceback.format_exc()

if pymysql is not None:
    class MysqlConnection(pymysql.connections.Connection):
        """PyMySQL's connection with one TLS context per process for ssl_mode=prefer. In that mode PyMySQL builds a
        context for every connection and loads the system's CA certificates into it (20 ms of CPU each), for a
        context that verifies nothing; the downtime's sync opens about ten connections."""

        prefer_context = None

        def _create_ssl_ctx(self, sslp):
            if sslp:
                return super(MysqlConnection, self)._create_ssl_ctx(sslp)
            if MysqlConnection.prefer_context is None:
                MysqlConnection.prefer_context = super(MysqlConnection, self)._create_ssl_ctx(sslp)
            return MysqlConnection.prefer_context

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

# Every session of the collection reads and writes values in one fixed way, whatever the servers' defaults:
# TIMESTAMP values as UTC instants (two servers in different zones, or the repeated hour of a DST change, would
# otherwise shift or merge them), no silent value changes on insert, an id 0 kept as 0, floats and bytes exact.
MYSQL_SESSION = ("SET time_zone = '+00:00', "
                 "sql_mode = 'NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'")
# MySQL 8 serves information_schema's AUTO_INCREMENT and sizes from a cache (a day old by default).
MYSQL8_SESSION = 'SET information_schema_stats_expiry = 0'
# Rows read from a cursor on the server at a time; how long a MySQL/MariaDB server waits for its reader.
STREAM_BATCH = 5000
STREAM_WAIT_SECONDS = 3600
PG_SESSION_OPTIONS = ('-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres -c extra_float_digits=3 '
                      '-c bytea_output=hex')


# libpq's sslmode values, as community.postgresql's ssl_mode takes them; MySQL/MariaDB get their equivalents.
SSL_MODES = ('disable', 'prefer', 'require', 'verify-ca', 'verify-full')
TLS_OPTIONS = ('ssl_mode', 'ca_cert', 'client_cert', 'client_key')


def tls_argument_spec():
    """TLS to the server: the same four options on a module's own server and on a target suboption."""
    return dict(
        ssl_mode=dict(type='str', default='prefer', choices=list(SSL_MODES)),
        ca_cert=dict(type='path'),
        client_cert=dict(type='path'),
        client_key=dict(type='path', no_log=False),
    )


def db_argument_spec():
    spec = dict(
        engine=dict(type='str', required=True, choices=list(ENGINES), fallback=(env_fallback, ['WA_DB_ENGINE'])),
        login_host=dict(type='str', default='127.0.0.1', fallback=(env_fallback, ['WA_DB_HOSTNAME'])),
        login_port=dict(type='int', fallback=(env_fallback, ['WA_DB_PORT'])),
        login_user=dict(type='str', default='root', fallback=(env_fallback, ['WA_DB_USERNAME'])),
        login_password=dict(type='str', no_log=True, fallback=(env_fallback, ['WA_DB_PASSWORD'])),
        connect_timeout=dict(type='int', default=10),
        # The client's WA_DB_NAME_PREFIX: with the connection, one server's options for module_defaults.
        name_prefix=dict(type='str', default=''),
    )
    spec.update(tls_argument_spec())
    return spec


def target_options():
    """Suboptions of a second server a module writes into (db_dump's restore_to, db_sync's target)."""
    spec = dict(engine=dict(type='str', choices=list(ENGINES)),
                login_host=dict(type='str', default='127.0.0.1'), login_port=dict(type='int', required=True),
                login_user=dict(type='str', default='root'),
                login_password=dict(type='str', required=True, no_log=True), name_prefix=dict(type='str'))
    spec.update(tls_argument_spec())
    return spec


def loopback(host):
    """Whether ``host`` is this machine (a loopback address or name, or a Unix socket's directory)."""
    host = (host or '').strip('[]').lower()
    return host in ('localhost', '::1') or host.startswith('127.') or host.startswith('/') or \
        host.endswith('.localhost')


def unverified_warning(server):
    """A warning for a server reached over the network without its certificate checked, or None."""
    mode = server.tls.get('ssl_mode') or 'prefer'
    if loopback(server.host) or mode.startswith('verify'):
        return None
    return ('The %s is reached over the network with ssl_mode=%s: its certificate is not checked, so whoever sits '
            'between can read the data and the password. Set wa_db_ssl_mode=verify-full and wa_db_ca_cert for that '
            'setup (ssl_mode and ca_cert of the module), or wabiz_db_require_verified_tls=true to refuse such a run.'
            % (server.describe(), mode))


def tls_of(options):
    """The TLS options of a module's parameters or a target suboption, in the one shape Server takes."""
    return dict((key, options.get(key)) for key in TLS_OPTIONS)


def check_tls(tls):
    """Refuses TLS options that cannot work together, before any connection."""
    mode = tls.get('ssl_mode') or 'prefer'
    if mode.startswith('verify') and not tls.get('ca_cert'):
        raise DbError('ssl_mode=%s verifies the server\'s certificate: give ca_cert, the CA that signed it' % mode)
    if bool(tls.get('client_cert')) != bool(tls.get('client_key')):
        raise DbError('client_cert and client_key go together: give both, or neither')


def mysql_ssl_arguments(tls):
    """PyMySQL's connection arguments for ``tls``. V(prefer) is PyMySQL's own default (TLS when the server offers
    it, since PyMySQL 1.2; requirements.txt). From V(require) on, a context that verifies the server's
    certificate (verify-ca) and its name too (verify-full); a PyMySQL that falls back to plaintext when the server
    offers no TLS is caught after the connection (Server.connection)."""
    mode = tls.get('ssl_mode') or 'prefer'
    if mode == 'disable':
        return {'ssl_disabled': True}
    if mode == 'prefer':
        return {}
    if mode.startswith('verify'):
        context = ssl.create_default_context(cafile=tls['ca_cert'])
        context.check_hostname = mode == 'verify-full'
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.get('client_cert'):
        context.load_cert_chain(tls['client_cert'], tls['client_key'])
    return {'ssl': context}


def pg_ssl_arguments(tls):
    """psycopg2's (libpq's) connection arguments for ``tls``."""
    arguments = {'sslmode': tls.get('ssl_mode') or 'prefer'}
    for key, name in (('ca_cert', 'sslrootcert'), ('client_cert', 'sslcert'), ('client_key', 'sslkey')):
        if tls.get(key):
            arguments[name] = tls[key]
    return arguments


# The copies are verified with hash_record_extended (_db.row_digest), which PostgreSQL has since 14.
PG_OLDEST = 140000


def pg_too_old(server, version_num):
    # server_version_num: 130011 is 13.11; before 10, 90624 was 9.6.24.
    if version_num >= 100000:
        major = str(version_num // 10000)
    else:
        major = '%d.%d' % (version_num // 10000, version_num // 100 % 100)
    return ('The %s runs PostgreSQL %s; the collection needs PostgreSQL 14 or later (it verifies every copy with '
            'hash_record_extended). Upgrade the server before migrating.' % (server, major))


# The client's databases: its prefix followed by exactly one of the client's names, so that an empty or short
# prefix takes neither another application's database nor another client's with a longer prefix. The names are
# the emulator's (the vendor published only waweb's: tests/emulator/README.md). A prefix is letters, digits and _
# (what the client's unquoted CREATE DATABASE takes, and what no tool reads as an option, a path or a pattern).
CLIENT_NAMES = r'(wacore|waweb|wamessages(_[0-9]+)?)'
# The names of the replication slots of the change capture start with it (_capture.slot_name).
CAPTURE_SLOT_PREFIX = 'wabiz_'
PREFIX_RULE = re.compile(r'\A[A-Za-z0-9_]*\Z')


class DbError(Exception):
    pass


def client_rule(prefix):
    """The pattern of the client's database names with this prefix; DbError for a prefix that is no plain name."""
    if prefix is None or not PREFIX_RULE.match(prefix):
        raise DbError('the name prefix %s is not one of the client\'s: a WA_DB_NAME_PREFIX is letters, digits and _ '
                      '(set wa_db_name_prefix to the client\'s own)' % json.dumps(prefix))
    return re.compile(r'\A%s%s\Z' % (re.escape(prefix), CLIENT_NAMES))


def client_databases(names, prefix):
    """The names of ``names`` that are a client's databases with this ``prefix``."""
    rule = client_rule(prefix)
    return [name for name in names if rule.match(name)]


def only_client_databases(names, prefix):
    """``names``, each checked to be one of the client's databases with ``prefix``, before any tool or statement
    takes it: DbError naming the others."""
    strangers = sorted(set(names) - set(client_databases(names, prefix)))
    if strangers:
        raise DbError('%s: not one of the client\'s databases (the prefix %s followed by wacore, waweb, wamessages or '
                      'wamessages_<shard>); nothing is done to another application\'s or another client\'s database'
                      % (', '.join(json.dumps(name) for name in strangers), json.dumps(prefix)))
    return list(names)


def target_names(databases, source_prefix, target_prefix):
    """{source database: its name on the target}. The client's databases are its prefix (WA_DB_NAME_PREFIX) and
    a fixed name: on a target whose client has another prefix, each keeps its name after the prefix.

    Without a target prefix every database keeps its name. Raises DbError for a database that is not one of the
    client's with the source prefix: every module that copies, captures, syncs or restores names its databases
    through here.
    """
    only_client_databases(databases, source_prefix)
    if target_prefix is None or target_prefix == source_prefix:
        return dict((d, d) for d in databases)
    client_rule(target_prefix)
    return dict((d, target_prefix + d[len(source_prefix):]) for d in databases)


class Server(object):
    """One database server: list databases and tables, sizes, exact row counts, checksums."""

    def __init__(self, engine, host, port, user, password, connect_timeout=10, session=(), session_ids=None,
                 snapshot=None, tls=None):
        self.engine = engine
        self.tls = tls or {}  # tls_of(): ssl_mode, ca_cert, client_cert, client_key
        # PostgreSQL: an exported snapshot every connection reads at (read-only, REPEATABLE READ), so that reads
        # on several connections see one moment of the database. MySQL/MariaDB (True): one connection, whatever
        # the database, in a transaction started WITH CONSISTENT SNAPSHOT (a snapshot cannot be shared there); or
        # a function of a cursor, run on that connection right before the snapshot starts, whose result is kept
        # as ``before_snapshot``.
        self.snapshot = snapshot
        self.before_snapshot = None
        self.session = session  # statements run on each new connection (settings of this session only)
        self.host = host
        self.port = port or DEFAULT_PORTS[engine]
        self.user = user
        self.password = password
        self.connect_timeout = connect_timeout
        # The server's ids of every session this server object and its siblings opened: the migration's own.
        self.session_ids = set() if session_ids is None else session_ids
        self._conns = {}
        self._database = None  # MySQL snapshot: the database its connection is in

    def sibling(self, session=(), snapshot=None):
        """Another connection set to the same server, whose sessions count as this one's own."""
        return Server(self.engine, self.host, self.port, self.user, self.password, self.connect_timeout, session,
                      self.session_ids, snapshot, self.tls)

    @classmethod
    def from_module(cls, module):
        params = module.params
        engine = params['engine']
        if engine == 'mysql' and pymysql is None:
            module.fail_json(msg=missing_required_lib('PyMySQL'), exception=PYMYSQL_ERROR)
        if engine == 'pgsql' and psycopg2 is None:
            module.fail_json(msg=missing_required_lib('psycopg2 (psycopg2-binary)'), exception=PSYCOPG2_ERROR)
        tls = tls_of(params)
        try:
            check_tls(tls)
        except DbError as exc:
            module.fail_json(msg=str(exc))
        return cls(engine, params['login_host'], params['login_port'], params['login_user'],
                   params['login_password'], params['connect_timeout'], tls=tls)

    def describe(self):
        return '%s server %s:%s as %s' % (self.engine, self.host, self.port, self.user)

    def connection(self, dbname=None):
        if self.engine == 'mysql' and self.snapshot:
            return self._snapshot_connection(dbname)
        if dbname not in self._conns:
            try:
                if self.engine == 'mysql':
                    conn = MysqlConnection(host=self.host, port=self.port, user=self.user, password=self.password,
                                           database=dbname, connect_timeout=self.connect_timeout,
                                           charset='utf8mb4', autocommit=True, init_command=MYSQL_SESSION,
                                           **mysql_ssl_arguments(self.tls))
                    self.session_ids.add(conn.thread_id())
                    if self.tls.get('ssl_mode') not in (None, 'disable', 'prefer') and not mysql_encrypted(conn):
                        conn.close()
                        raise DbError('The %s does not offer TLS, and ssl_mode=%s requires it: configure TLS on the '
                                      'server (ssl_cert, ssl_key), or set ssl_mode to prefer'
                                      % (self.describe(), self.tls['ssl_mode']))
                    if is_mysql8(conn.get_server_info()):
                        with conn.cursor() as cur:
                            cur.execute(MYSQL8_SESSION)
                else:
                    conn = psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                            dbname=dbname or 'postgres', connect_timeout=self.connect_timeout,
                                            options=PG_SESSION_OPTIONS, **pg_ssl_arguments(self.tls))
                    conn.autocommit = True
                    if conn.server_version < PG_OLDEST:
                        conn.close()
                        raise DbError(pg_too_old(self.describe(), conn.server_version))
                    self.session_ids.add(conn.get_backend_pid())
                    if self.snapshot:
                        conn.set_session(isolation_level='REPEATABLE READ', readonly=True, autocommit=False)
                        with conn.cursor() as cur:
                            cur.execute('SET TRANSACTION SNAPSHOT %s', (self.snapshot,))
                for statement in self.session:
                    with conn.cursor() as cur:
                        cur.execute(statement)
            except DbError:
                raise
            except Exception as exc:
                raise DbError('Cannot connect to the %s%s: %s%s' % (
                    self.describe(), ' database %s' % dbname if dbname else '', exc, connect_hint(exc, self.tls)))
            self._conns[dbname] = conn
        return self._conns[dbname]

    def _snapshot_connection(self, dbname):
        if None not in self._conns:
            conn = self.sibling().connection()  # its own: this server object keeps it
            try:
                with conn.cursor() as cur:
                    cur.execute('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ')
                    if callable(self.snapshot):
                        self.before_snapshot = self.snapshot(cur)
                    cur.execute('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY')
            except pymysql.MySQLError as exc:
                conn.close()
                raise DbError('Cannot start a consistent snapshot on the %s: %s' % (self.describe(), exc))
            self._conns[None] = conn
            self._database = None
        conn = self._conns[None]
        if dbname and dbname != self._database:
            try:
                conn.select_db(dbname)  # USE: the transaction and its snapshot go on
            except pymysql.MySQLError as exc:
                raise DbError('The %s failed (database %s): %s' % (self.describe(), dbname, exc))
            self._database = dbname
        return conn

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

    def stream(self, sql, params=None, dbname=None):
        """Yields the rows of a query as the server sends them, STREAM_BATCH at a time (a cursor on the server),
        so that a large result is never held whole. The connection serves nothing else until they are read."""
        conn = self.connection(dbname)
        own_transaction = self.engine == 'pgsql' and conn.autocommit  # else: the snapshot's, which goes on
        try:
            if self.engine == 'mysql':
                cursor = conn.cursor(pymysql.cursors.SSCursor)
                # The server gives up on a reader that does not take rows for 60 s by default: one that shares
                # the interpreter with the other server's reader and writes to a busy disk may pause that long.
                cursor.execute('SET SESSION net_write_timeout = %d' % STREAM_WAIT_SECONDS)
            else:
                if own_transaction:
                    conn.autocommit = False  # a cursor on the server lives in a transaction
                cursor = conn.cursor('wabiz_stream')
                cursor.itersize = STREAM_BATCH
            with cursor:
                cursor.execute(sql, params)
                while True:
                    rows = cursor.fetchmany(STREAM_BATCH)
                    if not rows:
                        break
                    yield from rows
        except self.driver_errors() as exc:
            raise self._failed(dbname, exc)
        finally:
            if own_transaction and dbname in self._conns:
                try:
                    conn.rollback()
                    conn.autocommit = True
                except psycopg2.Error:
                    self._conns.pop(dbname, None)

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
            raise self._failed(dbname, exc)

    def _failed(self, dbname, exc):
        """A server that dies mid-query: the error names which one, and the broken connection is forgotten."""
        self._conns.pop(dbname, None)
        return DbError('The %s failed%s: %s' % (self.describe(), ' (database %s)' % dbname if dbname else '',
                                                str(exc).strip()))

    def driver_errors(self):
        return (pymysql.MySQLError,) if self.engine == 'mysql' else (psycopg2.Error,)

    def drop_database(self, dbname):
        """Drops a database. On PostgreSQL a replication slot of this collection's change capture in it (an earlier
        run's, whose journal is gone) would keep it: such slots go first; another's slot is left, and refuses."""
        if self.engine == 'pgsql':
            for (slot,) in self.query('SELECT slot_name FROM pg_replication_slots WHERE database = %s AND '
                                      'starts_with(slot_name, %s)', (dbname, CAPTURE_SLOT_PREFIX)):
                self.query('SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = %s '
                           'AND active_pid IS NOT NULL', (slot,))
                self.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s',
                           (slot,))
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

    def grant_to_create(self):
        """The statement that grants what this server's user lacks to create the client's databases and fill and
        mend them (a migration's target), or '' when it lacks nothing. Managed services' admin users are no
        superusers: what counts is what they were granted."""
        if self.engine == 'pgsql':
            superuser, createdb = self.query('SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user')[0]
            return '' if superuser or createdb else 'ALTER ROLE %s CREATEDB' % self.quote(self.user)
        granted, account = mysql_global_rights([row[0] for row in self.query('SHOW GRANTS FOR CURRENT_USER()')])
        missing = [right for right in MYSQL_CREATE_RIGHTS if right not in granted and 'ALL PRIVILEGES' not in granted]
        return 'GRANT %s ON *.* TO %s' % (', '.join(missing), account) if missing else ''

    def databases(self):
        if self.engine == 'mysql':
            rows = self.query('SELECT schema_name FROM information_schema.schemata')
        else:
            rows = self.query('SELECT datname FROM pg_database WHERE NOT datistemplate')
        return sorted(r[0] for r in rows if r[0] not in SYSTEM_DATABASES[self.engine])

    def select(self, prefix, include=None, exclude=None):
        """The client's databases with this prefix (client_databases), restricted to ``include`` when given (each
        one of the client's, and present), minus ``exclude``."""
        present = client_databases(self.databases(), prefix)
        if include:
            only_client_databases(include, prefix)
            missing = sorted(set(include) - set(present))
            if missing:
                raise DbError('%s not found on the %s (prefix %r; present: %s)' % (
                    ', '.join(missing), self.describe(), prefix, ', '.join(present) or 'none'))
            present = [d for d in present if d in include]
        return [d for d in present if d not in set(exclude or [])]

    def strangers(self, prefix):
        """The databases whose names start with ``prefix`` but are not the client's: another client's with a
        longer prefix, another application's; left alone, and named in the plan."""
        present = self.databases()
        client = set(client_databases(present, prefix))
        return [d for d in present if d.startswith(prefix) and d not in client]

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
        """The table's row count and the sum of its rows' digests (``row_digest``): equal on two servers holding
        the same rows, whatever their order, and different for any other content (see ``row_digest``). The
        method is part of the value, so that a record of another method never compares equal.
        Returns ``(checksum, rows)``."""
        digest = row_digest(self.engine, self.digest_columns(dbname, schema, table))
        name = self.table_name(dbname, schema, table)
        count, total = self.query('SELECT COUNT(*), SUM(%s) FROM %s t' % (digest, name), dbname=dbname)[0]
        return checksum_of(count, total), int(count)

    def digest_columns(self, dbname, schema, table):
        """[(column, how its value enters the row digest)] in column order (see ``row_digest``)."""
        if self.engine == 'mysql':
            rows = self.query('SELECT column_name, data_type, character_set_name FROM information_schema.columns '
                              'WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position',
                              (dbname, table))
            return [(name, mysql_digest_kind(data_type, charset)) for name, data_type, charset in rows]
        rows = self.query(PG_DIGEST_COLUMNS, (self.table_name(dbname, schema, table),), dbname=dbname)
        return [(name, pg_digest_kind(type_name, deterministic)) for name, type_name, deterministic in rows]

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
    own = server.sibling()
    try:
        return dict((d, own.inventory(d, True, checksums)) for d in databases)
    finally:
        own.close()


# What a server that takes only TLS says to a plaintext login: MySQL's require_secure_transport, PostgreSQL with
# hostssl lines only in pg_hba.conf. MariaDB's says only "Access denied" (connect_hint).
TLS_REQUIRED = ('insecure transport are prohibited', 'no encryption')


def connect_hint(exc, tls=None):
    """What to do about a failed connection where the driver's message does not say it."""
    text = str(exc)
    if 'Access denied' in text and (tls or {}).get('ssl_mode') == 'disable':
        return (' (with ssl_mode=disable: a MariaDB server that takes TLS connections only refuses so too; if the '
                'password is right, set ssl_mode to verify-full with ca_cert, the CA of its certificate; in the '
                'inventory wa_db_ssl_mode and wa_db_ca_cert, docs/docsite/rst/databases.rst)')
    if 'cryptography' in text and 'caching_sha2_password' in text:
        # MySQL 8's default authentication: without TLS, PyMySQL needs cryptography to send the password.
        return (' (MySQL 8 authenticates with caching_sha2_password: install the Python package cryptography where'
                ' the module runs, requirements.txt, or connect with TLS)')
    if any(marker in text for marker in TLS_REQUIRED):
        return (' (the server takes TLS connections only: set ssl_mode to verify-full with ca_cert, the CA of its '
                'certificate; in the inventory wa_db_ssl_mode and wa_db_ca_cert, docs/docsite/rst/databases.rst)')
    return ''


# What loading a dump into new databases and mending rows in them takes on MySQL/MariaDB.
MYSQL_CREATE_RIGHTS = ('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'ALTER', 'INDEX', 'LOCK TABLES')
GLOBAL_GRANT = re.compile(r'^GRANT (.+?) ON \*\.\* TO (\S+)')


def mysql_global_rights(grants):
    """({right granted on every database}, the account) from SHOW GRANTS FOR CURRENT_USER() lines. Rights on
    single databases do not count: the client's databases do not exist yet."""
    rights, account = set(), 'CURRENT_USER'
    for line in grants:
        match = GLOBAL_GRANT.match(line)
        if match:
            rights.update(right.strip() for right in match.group(1).split(','))
            account = match.group(2)
    return rights, account


def mysql_encrypted(conn):
    """Whether a MySQL/MariaDB session runs over TLS (its cipher is set)."""
    with conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        row = cur.fetchone()
    return bool(row and row[1])


def is_mysql8(server_info):
    """Whether a MySQL/MariaDB version string is MySQL's own, 8.0 or later (MariaDB says so in it)."""
    if 'mariadb' in (server_info or '').lower():
        return False
    try:
        return int(server_info.split('.', 1)[0]) >= 8
    except ValueError:
        return False


# Row digests ---------------------------------------------------------------------------------------------
# A row's digest is 64 bits of a hash that is not linear in its input, over an encoding of the row that no two
# different rows share; a table's (or a group of rows') digest is the row count and the exact sum of its rows'
# digests, so that row order does not matter. A sum of CRC-32 values, or of PostgreSQL's record hash (itself a
# weighted sum of column hashes), lets equal edits on several rows, or values swapped between rows, cancel out;
# a sum of non-linear 64-bit digests does not, but for a chance of 2**-64.
#
# MySQL/MariaDB: MD5 of the columns in order, each as its byte length, ':' and its bytes, or 'N' for NULL (no
# separator that data could contain, NULL apart from ''). Values are compared as bytes, not by the column's
# collation (a case-only change or a trailing space counts); TIMESTAMP as UTC (the session is pinned); FLOAT
# through DOUBLE, whose text is exact (FLOAT's own text keeps 6 digits); strings of a character set other than
# UTF-8 as their bytes.
#
# PostgreSQL: the record hash of the row with every column whose type's hash is looser than its value (numeric
# 1.5 = 1.50, float -0 = 0, citext and nondeterministic collations ignore case, interval '1 day' = '24 hours',
# jsonb, arrays and composites of those) taken as text in the pinned session format, then hashed once more
# (hashint8extended): the record hash is linear in the column hashes, its hash is not.
MYSQL_FLOAT_TYPES = ('float',)
MYSQL_UTF8 = ('utf8mb4', 'utf8mb3', 'utf8', 'ascii')
# PostgreSQL base types whose extended hash tells every two different values apart (text-like ones only under a
# deterministic collation).
PG_EXACT_HASH = ('int2', 'int4', 'int8', 'bool', 'bytea', 'date', 'timestamp', 'timestamptz', 'time', 'uuid',
                 'oid', 'char')
PG_TEXT_TYPES = ('text', 'varchar', 'name')
PG_DIGEST_COLUMNS = ("SELECT a.attname, b.typname, COALESCE(c.collisdeterministic, true) FROM pg_attribute a "
                     "JOIN pg_type t ON t.oid = a.atttypid "
                     "JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END "
                     "LEFT JOIN pg_collation c ON c.oid = a.attcollation "
                     "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")


def mysql_digest_kind(data_type, charset):
    if (data_type or '').lower() in MYSQL_FLOAT_TYPES:
        return 'double'
    if charset and charset.lower() not in MYSQL_UTF8:
        return 'bytes'
    return 'value'


def pg_digest_kind(type_name, deterministic):
    if type_name in PG_EXACT_HASH or (type_name in PG_TEXT_TYPES and deterministic):
        return 'value'
    if type_name == 'bpchar':
        return 'bytes'  # char(n)'s hash and its cast to text both drop trailing spaces
    return 'text'


def row_digest(engine, columns, alias='t'):
    """SQL for the 64-bit digest of a row of a table read as ``alias`` (see above); columns from
    ``Server.digest_columns``."""
    if engine == 'mysql':
        pieces = []
        for name, kind in columns:
            column = '%s.`%s`' % (alias, name.replace('`', '``'))
            value = {'double': 'CAST(%s AS DOUBLE)', 'bytes': 'CAST(%s AS BINARY)'}.get(kind, '%s') % column
            pieces.append("COALESCE(CONCAT(LENGTH(%s), ':', %s), 'N')" % (value, value))
        return 'CAST(CONV(LEFT(MD5(CONCAT(%s)), 16), 16, 10) AS UNSIGNED)' % ', '.join(pieces)
    values = []
    for name, kind in columns:
        column = '%s."%s"' % (alias, name.replace('"', '""'))
        # COLLATE "C": a row's field keeps its column's collation, and a nondeterministic one hashes as it compares.
        values.append({'text': '%s::text COLLATE "C"', 'bytes': 'bpcharsend(%s)'}.get(kind, '%s') % column)
    return 'hashint8extended(hash_record_extended(ROW(%s), 0), 1)' % ', '.join(values)


def checksum_of(count, total):
    """A table's checksum from its row count and digest sum (PostgreSQL's sum may be negative)."""
    return 'd%d-%x' % (int(count), int(total or 0) % (1 << 128))
