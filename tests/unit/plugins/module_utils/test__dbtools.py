# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Credentials files, tool choice and the manifest comparison."""

import os
import shutil
import stat
import subprocess

import pytest

from ansible_collections.wabiz.migration.plugins.module_utils import _dbtools
from ansible_collections.wabiz.migration.plugins.module_utils._db import Server
from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import (
    Credentials, ToolError, compare, sweep_credentials)

# Values an inventory or a vault can hold, each of which breaks a naive option file or pgpass line.
HOSTILE = ['p#a"ss\\w', "a b", "x\nloose-init-command=DROP DATABASE wacore", "$HOME ${PATH} `id`", "it's",
           "tab\there", "cr\rhere", "end\\", '"', "#", "ü€😀", " lead and trail "]


def test_credentials_are_private_quoted_and_removed():
    with Credentials() as credentials:
        args, env = credentials.for_endpoint(Server("mysql", "db", 3306, "root", 'p#a"ss\\w'))
        assert env == {}
        with open(args["extra_file"], encoding="utf-8") as handle:
            text = handle.read()
        assert 'password="p#a\\"ss\\\\w"' in text and "[mydumper]" in text and "[client]" in text
        assert stat.S_IMODE(os.stat(args["extra_file"]).st_mode) == 0o600
        args, env = credentials.for_endpoint(Server("pgsql", "db", 5432, "root", "a:b\\c"))
        with open(env["PGPASSFILE"], encoding="utf-8") as handle:
            assert handle.read() == "db:5432:*:root:a\\:b\\\\c\n"
        directory = credentials.dir
    assert not os.path.exists(directory)


class NoToolsModule:
    """A module on a machine without any database client tools."""

    @staticmethod
    def get_bin_path(name, opt_dirs=None):  # pylint: disable=unused-argument
        return None


@pytest.mark.skipif(not shutil.which("my_print_defaults"), reason="MariaDB's client tools are not installed")
@pytest.mark.parametrize("value", HOSTILE)
def test_the_option_file_reads_back_exactly_the_value_given(value):
    """MariaDB's own option file reader (what mariadb, mariadb-dump and --print-defaults use) returns the host, user
    and password exactly, and no extra option."""
    with Credentials() as credentials:
        args = credentials.for_endpoint(Server("mysql", value, 3306, value, value))[0]
        read = subprocess.run(["my_print_defaults", "--defaults-file=" + args["extra_file"], "client"],
                              capture_output=True, check=True).stdout.decode("utf-8")
    assert read == "--host=%s\n--port=3306\n--user=%s\n--password=%s\n" % (value, value, value), read


def test_what_no_credentials_file_can_carry_is_refused_before_one_is_written():
    with Credentials() as credentials:
        with pytest.raises(ToolError, match="the database password holds a NUL"):
            credentials.for_endpoint(Server("mysql", "db", 3306, "root", "a\0b"))
        for bad in ("a\nb", "a\rb", "a\0b"):
            with pytest.raises(ToolError, match="the database password holds a line break or NUL"):
                credentials.for_endpoint(Server("pgsql", "db", 5432, "root", bad))
        with pytest.raises(ToolError, match="the database host"):
            credentials.for_endpoint(Server("pgsql", "db\n*:*:*:*:x", 5432, "root", "pw"))
        assert os.listdir(credentials.dir) == []


def test_choose_tools_explains_what_is_missing():
    module = NoToolsModule()
    with pytest.raises(_dbtools.ToolError, match="install the database client tools"):
        _dbtools.choose_tools(module, "pgsql", "auto")
    with pytest.raises(_dbtools.ToolError, match="mydumper and myloader are not installed"):
        _dbtools.choose_tools(module, "mysql", "mydumper")
    with pytest.raises(_dbtools.ToolError, match="not for PostgreSQL"):
        _dbtools.choose_tools(module, "pgsql", "mydumper")


def test_compare_names_every_difference():
    want = {"a": {"tables": {"t": {"rows": 2, "checksum": "x"}, "u": {"rows": 1}}}, "b": {"tables": {}}}
    have = {"a": {"tables": {"t": {"rows": 2, "checksum": "y"}, "v": {"rows": 0}}}}
    assert compare(want, have) == [
        "a: tables missing: u", "a: unexpected tables: v",
        "a.t: checksum x on the source, y after the restore", "database b is missing"]
    assert compare(want, {"a": {"tables": {"t": {"rows": 2, "checksum": "x"}, "u": {"rows": 1}}},
                          "b": {"tables": {}}}) == []


def test_credentials_of_a_killed_run_are_swept(tmp_path):
    dead = tmp_path / ("wabiz-cred-%d-abc" % (2 ** 22 + 7))  # above pid_max: no such process
    live = tmp_path / ("wabiz-cred-%d-def" % os.getpid())
    for directory in (dead, live):
        directory.mkdir()
        (directory / "my-1.cnf").write_text("password=x\n")
    sweep_credentials(str(tmp_path))
    assert not dead.exists() and live.exists()


def test_a_second_dump_of_a_directory_waits_for_the_first(tmp_path):
    path = str(tmp_path / "backups" / "dump.lock")
    first = _dbtools.WorkLock(path, 0).acquire()
    try:
        with pytest.raises(_dbtools.ToolError, match="still held by an earlier run.*process %d" % os.getpid()):
            _dbtools.WorkLock(path, 0).acquire()
    finally:
        first.release()
    second = _dbtools.WorkLock(path, 0).acquire()
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    second.release()


def test_target_names_swap_the_client_prefix_and_refuse_what_the_filters_cannot_rename():
    from ansible_collections.wabiz.migration.plugins.module_utils._db import DbError, target_names
    assert target_names(["wacore", "waweb"], "", None) == {"wacore": "wacore", "waweb": "waweb"}
    assert target_names(["a_wacore"], "a_", "a_") == {"a_wacore": "a_wacore"}
    renamed = {"wacore": "biz2_wacore", "wamessages_0": "biz2_wamessages_0"}
    assert target_names(["wacore", "wamessages_0"], "", "biz2_") == renamed
    assert target_names(["old_wacore"], "old_", "") == {"old_wacore": "wacore"}
    for databases, source, target in ((["wacore"], None, "b_"), (["x_wacore"], "a_", "b_"),
                                      (["a-wacore"], "a-", "b_"), (["a_wacore"], "a_", "b`"),
                                      (["a_eu_wacore"], "a_", None), (["a_reports"], "a_", "a_"),
                                      (["--format=c"], "", None), (["../wacore"], "", None)):
        with pytest.raises(DbError):
            target_names(databases, source, target)


# The header lines of the dump tools that name a database, a row that looks like one, and data after it.
MYSQLDUMP = """CREATE DATABASE /*!32312 IF NOT EXISTS*/ `wacore` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;

USE `wacore`;
INSERT INTO `wacore` VALUES (1,'USE `wacore`;\\nCREATE DATABASE `wacore`');
/*!50001 VIEW `v` AS select 1 */;
USE `wacore`;
"""
PG_DUMP = """-- Name: wacore; Type: DATABASE; Schema: -; Owner: -
CREATE DATABASE wacore WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE = 'C.UTF-8';
ALTER DATABASE wacore SET search_path TO public;
COMMENT ON DATABASE wacore IS 'client';
\\connect wacore
CREATE TABLE public.wacore (id integer);
COPY public.wacore (id) FROM stdin;
\\connect wacore
CREATE DATABASE wacore;
\\.
"""


@pytest.mark.parametrize("method, dump, expected", [
    ("mysqldump", MYSQLDUMP, MYSQLDUMP.replace("CREATE DATABASE /*!32312 IF NOT EXISTS*/ `wacore`",
                                               "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `biz2_wacore`", 1)
     .replace("\nUSE `wacore`;\nINSERT", "\nUSE `biz2_wacore`;\nINSERT").replace(
         "*/;\nUSE `wacore`;\n", "*/;\nUSE `biz2_wacore`;\n")),
    ("pg_dump", PG_DUMP, PG_DUMP.replace("CREATE DATABASE wacore WITH", "CREATE DATABASE biz2_wacore WITH")
     .replace("ALTER DATABASE wacore", "ALTER DATABASE biz2_wacore").replace(
         "COMMENT ON DATABASE wacore", "COMMENT ON DATABASE biz2_wacore").replace(
         "\\connect wacore\nCREATE TABLE", "\\connect biz2_wacore\nCREATE TABLE")),
], ids=["mysqldump", "pg_dump"])
def test_rename_filter_changes_the_database_statements_and_no_row(tmp_path, method, dump, expected):
    """The filter run by bash and awk as a load runs it: the header renamed, rows and data untouched."""
    import subprocess
    path = tmp_path / "dump.sql"
    path.write_text(dump)
    out = subprocess.run(["bash", "-c", "set -euo pipefail\n" + _dbtools.RENAME[method] + ' < "$2"', "wabiz",
                          "wacore", str(path), "1", "", "biz2_wacore"], capture_output=True, text=True, check=True)
    assert out.stdout == expected


# `mysqldump --version` as each tool prints it (recorded from the vendors' packages).
MYSQLDUMP_VERSIONS = {
    # MySQL 8.0 and 8.4 (Community Server): column statistics and the GTID set are both to be left out.
    'mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)':
        ['--column-statistics=0', '--set-gtid-purged=OFF'],
    'mysqldump  Ver 8.4.3 for Linux on x86_64 (MySQL Community Server - GPL)':
        ['--column-statistics=0', '--set-gtid-purged=OFF'],
    # MySQL 5.7 knows --set-gtid-purged, not --column-statistics.
    'mysqldump  Ver 10.13 Distrib 5.7.44, for Linux (x86_64)': ['--set-gtid-purged=OFF'],
    # MariaDB's know neither (an unknown option ends the dump).
    'mysqldump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)': [],
    'mariadb-dump from 11.4.2-MariaDB, client 10.19 for debian-linux-gnu (x86_64)': [],
    'unknown (exit 127)': [],
}


@pytest.mark.parametrize('version_text', sorted(MYSQLDUMP_VERSIONS))
def test_mysqls_own_mysqldump_gets_the_options_mariadbs_does_not_know(version_text):
    assert _dbtools.mysqldump_options(version_text) == MYSQLDUMP_VERSIONS[version_text]


def test_the_options_reach_mysqldump_as_words_beside_the_option_file():
    assert '"$DUMP" --defaults-extra-file="$SRC_CNF" $DUMP_OPTIONS --single-transaction' in \
        _dbtools.script('mysqldump', 'copy', renamed=False)


def test_a_mysql8_login_without_cryptography_says_what_to_install():
    from ansible_collections.wabiz.migration.plugins.module_utils._db import connect_hint
    # PyMySQL's own message (pymysql/_auth.py) when MySQL 8 asks for caching_sha2_password over plain TCP.
    refused = RuntimeError("'cryptography' package is required for sha256_password or caching_sha2_password "
                           "auth methods")
    assert 'install the Python package cryptography' in connect_hint(refused)
    assert connect_hint(RuntimeError('Access denied for user')) == ''


def test_tls_reaches_the_tools_through_the_option_file_and_libpq_environment():
    tls = {"ssl_mode": "verify-full", "ca_cert": "/etc/ca dir/ca.pem", "client_cert": "/c.pem", "client_key": "/c.key"}
    with Credentials() as credentials:
        args, env = credentials.for_endpoint(Server("mysql", "db", 3306, "root", "pw", tls=tls))
        with open(args["extra_file"], encoding="utf-8") as handle:
            groups = handle.read().split("[")[1:]
        # Every group (client, mydumper, myloader) gets MySQL's and MariaDB's spelling, each under loose-.
        for group in groups:
            for line in ('ssl-ca="/etc/ca dir/ca.pem"', 'ssl-cert="/c.pem"', 'ssl-key="/c.key"',
                         "loose-ssl-mode=VERIFY_IDENTITY", "loose-ssl-verify-server-cert"):
                assert line in group.splitlines(), (line, group)
        args, env = credentials.for_endpoint(Server("pgsql", "db", 5432, "root", "pw", tls=tls))
        assert args == {}
        assert {k: env[k] for k in env if k.startswith("PGSSL")} == {
            "PGSSLMODE": "verify-full", "PGSSLROOTCERT": "/etc/ca dir/ca.pem", "PGSSLCERT": "/c.pem",
            "PGSSLKEY": "/c.key"}
    # Without TLS options: libpq's own default, and nothing in the option file (the tools' own default).
    assert _dbtools.pg_tls_env({}) == {"PGSSLMODE": "prefer", "PGSSLROOTCERT": "", "PGSSLCERT": "", "PGSSLKEY": ""}
    assert _dbtools.mysql_tls_lines({}) == []
    assert "loose-skip-ssl" in _dbtools.mysql_tls_lines({"ssl_mode": "disable"})
    # Every variable the scripts pass on is one for_endpoint sets.
    assert set(_dbtools.PG_ENV) <= set(env)


def test_verify_ca_is_refused_where_the_tools_cannot_check_the_ca_alone():
    from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import mariadb_client, refuse_unverifiable_tls
    assert mariadb_client("mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)")
    assert mariadb_client("mydumper 0.10.0, built against MySQL 10.11.14")
    assert not mariadb_client("mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)")
    assert not mariadb_client("mydumper 0.16.1-1, built against MySQL 8.0.36")
    mariadb = {"method": "mysqldump", "versions": {"dump": "Distrib 10.11.19-MariaDB", "load": "Distrib 10.11.19-MariaDB"}}
    mysql = {"method": "mysqldump", "versions": {"dump": "Ver 8.0.36 for Linux", "load": "Ver 8.0.36 for Linux"}}
    verify_ca = Server("mysql", "db.example.com", 3306, "root", "pw", tls={"ssl_mode": "verify-ca", "ca_cert": "/ca"})
    verify_full = Server("mysql", "db.example.com", 3306, "root", "pw", tls={"ssl_mode": "verify-full", "ca_cert": "/ca"})
    with pytest.raises(ToolError, match="verify-ca .* cannot be honoured by MariaDB's client tools"):
        refuse_unverifiable_tls(mariadb, (None, verify_ca))
    refuse_unverifiable_tls(mariadb, (verify_full, None))
    refuse_unverifiable_tls(mysql, (verify_ca, verify_ca))


def test_a_server_over_the_network_without_its_certificate_checked_is_named():
    from ansible_collections.wabiz.migration.plugins.module_utils._db import loopback, unverified_warning
    assert all(loopback(h) for h in ("127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "/run/mysqld"))
    assert not any(loopback(h) for h in ("db.example.com", "10.0.0.5", "128.0.0.1", "localhost.example.com"))
    assert unverified_warning(Server("pgsql", "127.0.0.1", 5432, "root", "pw")) is None
    assert unverified_warning(Server("pgsql", "db", 5432, "root", "pw", tls={"ssl_mode": "verify-full"})) is None
    warning = unverified_warning(Server("pgsql", "db.example.com", 5432, "root", "pw", tls={"ssl_mode": "require"}))
    assert "ssl_mode=require" in warning and "wa_db_ssl_mode=verify-full" in warning


def test_a_failed_copy_names_both_servers():
    from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import Transfer

    class FailingModule:
        @staticmethod
        def run_command(args, environ_update=None):  # pylint: disable=unused-argument
            return 2, "", "pg_dump: error: server closed the connection unexpectedly"

    tools = {"method": "pg_dump", "dump": "/usr/bin/pg_dump", "load": "/usr/bin/psql",
             "versions": {"dump": "pg_dump (PostgreSQL) 15", "load": "psql (PostgreSQL) 15"}}
    with Credentials() as credentials:
        transfer = Transfer(FailingModule(), tools, credentials, source=Server("pgsql", "old-db", 5432, "root", "pw"),
                            target=Server("pgsql", "new-db", 5433, "root", "pw"))
        with pytest.raises(ToolError) as failed:
            transfer._run("copy", "wamessages_1", "/nonexistent/wamessages_1.sql")  # pylint: disable=protected-access
    message = str(failed.value)
    assert "from the pgsql server old-db:5432 as root into the pgsql server new-db:5433 as root" in message, message
    assert "server closed the connection unexpectedly" in message
