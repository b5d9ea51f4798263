# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A PostgreSQL server older than 14 is refused at its first connection, so the preflight (whose db_info calls
are the first to connect) names it before any downtime; the copies' verification needs hash_record_extended."""

import pytest

from ansible_collections.wabiz.migration.plugins.module_utils import _db


class FakeConnection:
    def __init__(self, server_version):
        self.server_version = server_version
        self.autocommit = False
        self.closed = False

    def get_backend_pid(self):
        return 4242

    def close(self):
        self.closed = True


@pytest.mark.parametrize("version, shown, refused", [
    (130011, "13", True), (90624, "9.6", True), (140000, "14", False), (150018, "15", False)])
def test_postgresql_older_than_14_is_refused(monkeypatch, version, shown, refused):
    connection = FakeConnection(version)
    monkeypatch.setattr(_db.psycopg2, "connect", lambda **kwargs: connection)
    server = _db.Server("pgsql", "db-old.example.com", 5432, "postgres", "secret")
    if refused:
        with pytest.raises(_db.DbError) as caught:
            server.connection()
        assert "runs PostgreSQL %s;" % shown in str(caught.value) and "14 or later" in str(caught.value)
        assert "db-old.example.com" in str(caught.value) and connection.closed
    else:
        assert server.connection() is connection


def test_tls_options_become_the_drivers_arguments():
    import ssl
    from ansible_collections.wabiz.migration.plugins.module_utils._db import (
        DbError, check_tls, mysql_ssl_arguments, pg_ssl_arguments)
    assert mysql_ssl_arguments({"ssl_mode": "disable"}) == {"ssl_disabled": True}
    assert mysql_ssl_arguments({}) == {}  # prefer: PyMySQL's own
    context = mysql_ssl_arguments({"ssl_mode": "require"})["ssl"]
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname
    assert pg_ssl_arguments({}) == {"sslmode": "prefer"}
    assert pg_ssl_arguments({"ssl_mode": "verify-full", "ca_cert": "/ca.pem", "client_cert": "/c.pem",
                             "client_key": "/c.key"}) == {
        "sslmode": "verify-full", "sslrootcert": "/ca.pem", "sslcert": "/c.pem", "sslkey": "/c.key"}
    with pytest.raises(DbError, match="give ca_cert"):
        check_tls({"ssl_mode": "verify-ca"})
    with pytest.raises(DbError, match="go together"):
        check_tls({"ssl_mode": "require", "client_cert": "/c.pem"})
    check_tls({"ssl_mode": "verify-full", "ca_cert": "/ca.pem"})


def test_prefer_builds_one_tls_context_per_process():
    """PyMySQL builds a context for each connection in its prefer mode (the system's CA store loaded, 20 ms of
    CPU); the collection's connections share one. A context given (require and up) is used as given."""
    import ssl
    first = _db.MysqlConnection(defer_connect=True, host="127.0.0.1")
    second = _db.MysqlConnection(defer_connect=True, host="127.0.0.1")
    assert first.ctx is second.ctx and first.ctx.verify_mode == ssl.CERT_NONE and not first.ctx.check_hostname
    assert not first._ssl_required  # pylint: disable=protected-access
    given = _db.mysql_ssl_arguments({"ssl_mode": "require"})["ssl"]
    assert _db.MysqlConnection(defer_connect=True, host="127.0.0.1", ssl=given).ctx is given


def test_a_plaintext_login_refused_names_the_tls_settings():
    from ansible_collections.wabiz.migration.plugins.module_utils._db import connect_hint
    pg = RuntimeError('FATAL:  no pg_hba.conf entry for host "127.0.0.1", user "root", database "x", no encryption')
    assert "wa_db_ssl_mode" in connect_hint(pg)
    maria = RuntimeError("(1045, \"Access denied for user 'root'@'127.0.0.1' (using password: YES)\")")
    assert "wa_db_ssl_mode" in connect_hint(maria, {"ssl_mode": "disable"})
    assert connect_hint(maria, {"ssl_mode": "verify-full"}) == ""


def test_the_rights_to_create_the_copy_are_read_from_the_global_grants():
    from ansible_collections.wabiz.migration.plugins.module_utils._db import MYSQL_CREATE_RIGHTS, mysql_global_rights
    # Recorded SHOW GRANTS lines: RDS's master user (MySQL 8), a reader, MariaDB's root.
    rds = ["GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, SHOW "
           "DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, REPLICATION CLIENT, CREATE "
           "VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER ON *.* TO `admin`@`%` WITH "
           "GRANT OPTION", "GRANT APPLICATION_PASSWORD_ADMIN,ROLE_ADMIN ON *.* TO `admin`@`%` WITH GRANT OPTION"]
    rights, account = mysql_global_rights(rds)
    assert set(MYSQL_CREATE_RIGHTS) <= rights and account == "`admin`@`%`" and "SUPER" not in rights
    rights, account = mysql_global_rights([
        "GRANT SELECT, SHOW DATABASES ON *.* TO `reader`@`127.0.0.1` IDENTIFIED BY PASSWORD '*ABC'",
        "GRANT ALL PRIVILEGES ON `wa%`.* TO `reader`@`127.0.0.1`"])
    assert rights == {"SELECT", "SHOW DATABASES"} and account == "`reader`@`127.0.0.1`"
    rights, dummy = mysql_global_rights(["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"])
    assert rights == {"ALL PRIVILEGES"}
