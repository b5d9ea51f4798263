# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The dump tools log in with exactly the credentials given, whatever characters they hold: a user and a password
made of the option file's and pgpass's own syntax (quotes, #, :, backslashes, $, spaces at the ends, non-ASCII)
are created on a real server, and the tools (mariadb-dump and mariadb; pg_dump and psql) log in through the files
the collection writes (_dbtools.Credentials) and dump a database. A value a file cannot carry is refused."""

import subprocess

import pytest

from serverpair import PASSWORD, client_db, pair_fixture

pair = pytest.fixture(scope="module", params=["mysql", "pgsql"], name="pair")(pair_fixture)

USERS = [
    ("wabiz#user", 'p#a"ss\\w $HOME ${PATH} it\'s'),
    ("wabiz:us\\er", " lead:colon\\:backslash\\\\trail "),
    ("wabiz'quote", "ü€😀 #no-comment = [client]"),
]


def create_user(pair, user, password):
    if pair.engine == "mysql":
        conn = pair.connect("old")
        try:
            with conn.cursor() as cur:
                cur.execute("CREATE OR REPLACE USER %s@'127.0.0.1' IDENTIFIED BY %s", (user, password))
                cur.execute("GRANT ALL ON *.* TO %s@'127.0.0.1'", (user,))
        finally:
            conn.close()
        return
    conn = pair.connect("old")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT format('DROP ROLE IF EXISTS %%I', %s)", (user,))
            cur.execute(cur.fetchone()[0])
            cur.execute("SELECT format('CREATE ROLE %%I LOGIN SUPERUSER PASSWORD %%L', %s, %s)", (user, password))
            cur.execute(cur.fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("user, password", USERS, ids=["hash-quote-dollar", "colon-backslash-spaces", "unicode"])
def test_the_tools_log_in_with_exactly_the_credentials_given(pair, user, password):
    from ansible_collections.wabiz.migration.plugins.module_utils._db import Server
    from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import Credentials
    dbname = client_db("credentials")
    pair.create_database("old", dbname, ["CREATE TABLE marker (id INT PRIMARY KEY)", "INSERT INTO marker VALUES (42)"])
    create_user(pair, user, password)
    server = Server(pair.engine, "127.0.0.1", pair.ports["old"], user, password)
    with Credentials() as credentials:
        args, env = credentials.for_endpoint(server)
        if pair.engine == "mysql":
            whoami = ["mariadb", "--defaults-extra-file=" + args["extra_file"], "-N", "-r", "-e", "SELECT CURRENT_USER()"]
            dump = ["mariadb-dump", "--defaults-extra-file=" + args["extra_file"], "--databases", "--", dbname]
        else:
            whoami = ["psql", "-X", "-At", "--no-password", "-d", "postgres", "-c", "SELECT current_user"]
            dump = ["pg_dump", "--no-password", "--", dbname]
        environment = dict(env, PATH="/usr/bin:/bin")
        answer = subprocess.run(whoami, capture_output=True, text=True, env=environment, check=False)
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout.strip().split("@")[0] == user, answer.stdout
        dumped = subprocess.run(dump, capture_output=True, text=True, env=environment, check=False)
        assert dumped.returncode == 0, dumped.stderr
        assert "42" in dumped.stdout and "marker" in dumped.stdout
    # The wrong password is refused: the tools did not log in some other way (a socket, a default file).
    with Credentials() as credentials:
        args, env = credentials.for_endpoint(Server(pair.engine, "127.0.0.1", pair.ports["old"], user, password + "x"))
        command = (["mariadb", "--defaults-extra-file=" + args["extra_file"], "-e", "SELECT 1"]
                   if pair.engine == "mysql" else ["psql", "-X", "--no-password", "-d", "postgres", "-c", "SELECT 1"])
        refused = subprocess.run(command, capture_output=True, text=True, env=dict(env, PATH="/usr/bin:/bin"),
                                 check=False)
        assert refused.returncode != 0, refused.stdout
    assert PASSWORD not in password


def test_a_line_break_in_a_password_is_carried_or_refused_never_read_as_an_option(pair):
    """MariaDB takes a password with a line break, and its option file carries it escaped (before, the second line
    was read as an option of its own); a pgpass line cannot carry one: refused, naming the value, before any tool."""
    from ansible_collections.wabiz.migration.plugins.module_utils._db import Server
    from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import Credentials, ToolError
    user, password = "wabiz_newline", "first\nloose-init-command=DROP DATABASE mysql"
    if pair.engine == "pgsql":
        with Credentials() as credentials, pytest.raises(ToolError, match="line break or NUL"):
            credentials.for_endpoint(Server("pgsql", "127.0.0.1", pair.ports["old"], user, password))
        return
    create_user(pair, user, password)
    with Credentials() as credentials:
        args = credentials.for_endpoint(Server("mysql", "127.0.0.1", pair.ports["old"], user, password))[0]
        answer = subprocess.run(["mariadb", "--defaults-extra-file=" + args["extra_file"], "-N", "-r", "-e",
                                 "SELECT CURRENT_USER(), @@init_connect"], capture_output=True, text=True, check=False)
    assert answer.returncode == 0 and answer.stdout.startswith("wabiz_newline@"), answer.stderr
