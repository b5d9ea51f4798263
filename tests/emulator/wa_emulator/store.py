# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""All client state lives in MySQL/MariaDB or PostgreSQL, never in container memory or files.

Layout (an assumption: the vendor's coreapp database names were never published, see README.md):
- ``<prefix>waweb``: the web app's users, tokens, contacts and certs, as in the reference.
- ``<prefix>wacore``: settings, registration and keys, two-step, topology, cluster nodes, shard map,
  callbacks and the coreapp's contact cache.
- ``<prefix>wamessages_<shard>``: one message store per shard (shard 0 on a single instance).
"""

import json
import threading
import time

WEB_TABLES = {
    "users": (
        [("id", "autoid"), ("username", "str:32"), ("password", "str:255"), ("roles", "str:255")],
        ["id"], [("users_username", ["username"], True)]),
    "tokens": (
        [("token", "ascii:1024"), ("username", "str:32")],
        None, [("tokens_token", ["token"], True), ("tokens_username", ["username"], False)]),
    "contacts": (
        [("wa_id", "str:32"), ("name", "str:255"), ("joined", "bool"), ("timestamp", "bigint")],
        ["wa_id"], []),
    "certs": (
        [("hostname", "str:255"), ("cert", "text"), ("ca_cert", "text"), ("cert_type", "str:32")],
        ["hostname", "cert_type"], []),
}

CORE_TABLES = {
    "app_settings": ([("name", "str:64"), ("value", "text")], ["name"], []),
    "registration": (
        [("id", "int"), ("cc", "str:8"), ("phone_number", "str:32"), ("wa_id", "str:32"),
         ("vname_cert", "text"), ("registered_at", "bigint"), ("identity_key", "blob"),
         ("signed_prekey", "blob"), ("registration_id", "bigint")],
        ["id"], []),
    "pending_registration": (
        [("id", "int"), ("cc", "str:8"), ("phone_number", "str:32"), ("vname_cert", "text"),
         ("requested_at", "bigint")],
        ["id"], []),
    "twostep": ([("id", "int"), ("pin_hash", "str:255"), ("set_at", "bigint")], ["id"], []),
    "topology": (
        [("id", "int"), ("multiconnect", "bool"), ("shards", "int"), ("masters", "int"),
         ("coreapps", "int"), ("updated_at", "bigint")],
        ["id"], []),
    "nodes": (
        [("node_id", "str:128"), ("service", "str:64"), ("role", "str:32"), ("host", "str:255"),
         ("base_port", "int"), ("started_at", "bigint"), ("heartbeat_at", "bigint")],
        ["node_id"], []),
    "lease": ([("name", "str:32"), ("holder", "str:128"), ("expires_at", "bigint")], ["name"], []),
    "shard_map": ([("shard", "int"), ("node_id", "str:128")], ["shard"], []),
    "callbacks": (
        [("id", "autoid"), ("message_id", "str:64"), ("wa_id", "str:32"), ("kind", "str:16"),
         ("payload", "text"), ("created_at", "bigint"), ("delivered_at", "bigint"), ("attempts", "int")],
        ["id"], [("callbacks_pending", ["delivered_at", "id"], False)]),
    "contacts": (
        [("wa_id", "str:32"), ("input", "str:64"), ("status", "str:16"), ("checked_at", "bigint")],
        ["wa_id"], []),
    "app_state": ([("name", "str:64"), ("value", "text")], ["name"], []),
}

MESSAGE_TABLES = {
    "messages": (
        [("id", "str:64"), ("wa_id", "str:32"), ("from_me", "bool"), ("type", "str:16"),
         ("body", "text"), ("status", "str:16"), ("timestamp", "bigint")],
        ["id"], [("messages_chat", ["wa_id", "timestamp"], False)]),
}

_TYPES = {
    "MYSQL": {"autoid": "BIGINT NOT NULL AUTO_INCREMENT", "text": "MEDIUMTEXT", "blob": "MEDIUMBLOB",
              "int": "INT", "bigint": "BIGINT", "bool": "TINYINT(1)",
              "str": "VARCHAR(%s)", "ascii": "VARCHAR(%s) CHARACTER SET ascii"},
    "PGSQL": {"autoid": "BIGSERIAL", "text": "TEXT", "blob": "BYTEA", "int": "INTEGER", "bigint": "BIGINT",
              "bool": "BOOLEAN", "str": "VARCHAR(%s)", "ascii": "VARCHAR(%s)"},
}


def now_ms():
    return int(time.time() * 1000)


class Store:
    """Connections to one database server, one cached connection per thread and database."""

    def __init__(self, engine, host, port, user, password, ssl=None):
        self.engine = engine
        self.params = (host, port, user, password)
        self.ssl = ssl or {}  # config.db_ssl: MySQL's TLS
        self._local = threading.local()

    @classmethod
    def from_config(cls, config):
        return cls(config.db_engine, config.db_host, config.db_port, config.db_user, config.db_password,
                   config.db_ssl)

    def _mysql_tls(self):
        """PDO's MySQL TLS: on with a CA, certificate or key given, the server's certificate checked only with
        WA_DB_SSL_VERIFY; else none (PDO does not try TLS on its own)."""
        if not (self.ssl.get("ca") or self.ssl.get("cert") or self.ssl.get("key")):
            return {"ssl_disabled": True}
        return {"ssl_ca": self.ssl.get("ca"), "ssl_cert": self.ssl.get("cert"), "ssl_key": self.ssl.get("key"),
                "ssl_verify_cert": self.ssl.get("verify", False), "ssl_verify_identity": self.ssl.get("verify", False)}

    # connections -------------------------------------------------------------------------------
    def _connect(self, dbname):
        host, port, user, password = self.params
        if self.engine == "MYSQL":
            import pymysql
            from pymysql.constants import CLIENT
            # FOUND_ROWS: an UPDATE reports the rows it matched, as PostgreSQL does.
            return pymysql.connect(host=host, port=port, user=user, password=password, database=dbname,
                                   autocommit=True, charset="utf8mb4", connect_timeout=5,
                                   client_flag=CLIENT.FOUND_ROWS, **self._mysql_tls())
        import psycopg2
        conn = psycopg2.connect(host=host, port=port, user=user, password=password,
                                dbname=dbname or "postgres", connect_timeout=5)
        conn.autocommit = True
        return conn

    def connection(self, dbname=None):
        cache = getattr(self._local, "conns", None)
        if cache is None:
            cache = self._local.conns = {}
        conn = cache.get(dbname)
        if conn is None:
            conn = cache[dbname] = self._connect(dbname)
        return conn

    def drop_cached(self, dbname=None):
        cache = getattr(self._local, "conns", {})
        conn = cache.pop(dbname, None)
        if conn is not None:
            try:
                conn.close()
            except Exception:  # pylint: disable=broad-except
                pass

    def execute(self, dbname, sql, params=None, fetch=False):
        """Run one statement; a dropped connection is re-opened once (database restarts, idle timeouts)."""
        for attempt in (0, 1):
            try:
                conn = self.connection(dbname)
                with conn.cursor() as cur:
                    cur.execute(sql, params)
                    if fetch:
                        return [self._normalise(row) for row in cur.fetchall()]
                    return cur.rowcount
            except Exception as exc:  # pylint: disable=broad-except
                if attempt or not self._is_disconnect(exc):
                    raise
                self.drop_cached(dbname)
        return None

    def query(self, dbname, sql, params=None):
        return self.execute(dbname, sql, params, fetch=True)

    def query_one(self, dbname, sql, params=None):
        rows = self.query(dbname, sql, params)
        return rows[0] if rows else None

    def executemany(self, dbname, sql, rows):
        conn = self.connection(dbname)
        with conn.cursor() as cur:
            cur.executemany(sql, rows)

    @staticmethod
    def _normalise(row):
        return tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)

    def _is_disconnect(self, exc):
        if self.engine == "MYSQL":
            import pymysql
            return isinstance(exc, (pymysql.err.OperationalError, pymysql.err.InterfaceError))
        import psycopg2
        return isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError))

    # schema ------------------------------------------------------------------------------------
    def quote(self, name):
        return "`%s`" % name if self.engine == "MYSQL" else '"%s"' % name

    def database_exists(self, dbname):
        if self.engine == "MYSQL":
            sql = "SELECT schema_name FROM information_schema.schemata WHERE schema_name = %s"
        else:
            sql = "SELECT datname FROM pg_database WHERE datname = %s"
        return bool(self.query(None, sql, (dbname,)))

    def ensure_database(self, dbname, tables):
        if self.engine == "MYSQL":
            self.execute(None, "CREATE DATABASE IF NOT EXISTS %s CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                         % self.quote(dbname))
        elif not self.database_exists(dbname):
            import psycopg2
            try:
                self.execute(None, "CREATE DATABASE %s ENCODING 'UTF8' TEMPLATE template0" % self.quote(dbname))
            except (psycopg2.errors.DuplicateDatabase, psycopg2.errors.UniqueViolation):
                pass  # another node of the same setup created it first
        for name, (columns, pkey, indexes) in tables.items():
            for statement in self.create_table_sql(name, columns, pkey, indexes):
                self._execute_ddl(dbname, statement)

    def _execute_ddl(self, dbname, statement):
        try:
            self.execute(dbname, statement)
        except Exception as exc:  # pylint: disable=broad-except
            # Two nodes starting together race on CREATE ... IF NOT EXISTS in PostgreSQL's catalog.
            if "already exists" not in str(exc) and "duplicate key" not in str(exc):
                raise

    def create_table_sql(self, name, columns, pkey, indexes):
        types = _TYPES[self.engine]
        cols = []
        for col, kind in columns:
            base, size = (kind.split(":") + [""])[:2]
            sql_type = types[base] % size if size else types[base]
            cols.append("%s %s" % (col, sql_type))
        if pkey:
            cols.append("PRIMARY KEY (%s)" % ", ".join(pkey))
        statements = []
        if self.engine == "MYSQL":
            for idx, idx_cols, unique in indexes:
                cols.append("%sINDEX %s (%s)" % ("UNIQUE " if unique else "", idx, ", ".join(idx_cols)))
            statements.append("CREATE TABLE IF NOT EXISTS %s (%s) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
                              "COLLATE=utf8mb4_bin" % (name, ", ".join(cols)))
        else:
            statements.append("CREATE TABLE IF NOT EXISTS %s (%s)" % (name, ", ".join(cols)))
            for idx, idx_cols, unique in indexes:
                statements.append("CREATE %sINDEX IF NOT EXISTS %s ON %s (%s)"
                                  % ("UNIQUE " if unique else "", idx, name, ", ".join(idx_cols)))
        return statements

    # rows --------------------------------------------------------------------------------------
    def upsert(self, dbname, table, keys, row):
        cols = list(row)
        placeholders = ", ".join(["%s"] * len(cols))
        updates = [c for c in cols if c not in keys]
        if self.engine == "MYSQL":
            tail = "ON DUPLICATE KEY UPDATE " + ", ".join("%s = VALUES(%s)" % (c, c) for c in updates)
        else:
            tail = "ON CONFLICT (%s) DO UPDATE SET %s" % (
                ", ".join(keys), ", ".join("%s = EXCLUDED.%s" % (c, c) for c in updates))
        sql = "INSERT INTO %s (%s) VALUES (%s) %s" % (table, ", ".join(cols), placeholders, tail)
        self.execute(dbname, sql, tuple(row[c] for c in cols))

    def get_json(self, dbname, table, name, default=None):
        row = self.query_one(dbname, "SELECT value FROM %s WHERE name = %%s" % table, (name,))
        return json.loads(row[0]) if row else default

    def put_json(self, dbname, table, name, value):
        self.upsert(dbname, table, ["name"], {"name": name, "value": json.dumps(value, sort_keys=True)})
