# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A MariaDB or PostgreSQL server as a plain process with its own data directory on 127.0.0.1."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile

from .procs import LabError, alive, run, spawn, stop_pid, wait_until

PG_BIN = "/usr/lib/postgresql/15/bin"


def port_open(port):
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _check_free(port):
    if port_open(port):
        raise LabError("port 127.0.0.1:%d is already in use: pick another --port-base" % port)


def make_tls(directory):
    """A CA (``ca.pem``) and a certificate it signed for 127.0.0.1 and localhost (``server.pem``, ``server.key``):
    what the lab's servers present when they take TLS only. Returns ``directory``."""
    os.makedirs(directory, mode=0o755, exist_ok=True)

    def path(name):
        return os.path.join(directory, name)

    with open(path("san.ext"), "w", encoding="utf-8") as ext:
        ext.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("ca.key"), "-out", path("ca.pem"),
         "-days", "3", "-subj", "/CN=wabiz lab CA"])
    run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", path("server.key"), "-out", path("server.csr"),
         "-subj", "/CN=127.0.0.1"])
    run(["openssl", "x509", "-req", "-in", path("server.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
         "-CAcreateserial", "-out", path("server.pem"), "-days", "3", "-extfile", path("san.ext")])
    os.chmod(path("ca.pem"), 0o644)
    return directory


def start_mariadb(datadir, port, password, time_zone=None, tls_dir=None):
    """Initialise and start mariadbd; root@127.0.0.1 gets ``password``. Returns the PID. ``time_zone``: the
    server's system zone (a tz database name such as Europe/Berlin, with its DST changes); ``tls_dir``
    (make_tls): TCP connections must use TLS (require_secure_transport)."""
    _check_free(port)
    os.makedirs(datadir, exist_ok=True)
    run(["mariadb-install-db", "--no-defaults", "--datadir=" + datadir, "--user=root",
         "--auth-root-authentication-method=normal", "--skip-test-db", "--tmpdir=" + _mariadb_tmpdir(datadir)])
    pid = run_mariadb(datadir, port, time_zone, tls_dir)
    try:
        _set_mariadb_password(os.path.join(datadir, "mysqld.sock"), password)
    except BaseException:
        stop_pid(pid)
        raise
    return pid


def run_mariadb(datadir, port, time_zone=None, tls_dir=None):
    """Start mariadbd on an initialised data directory (after a crash: InnoDB recovers); returns the PID."""
    sock = os.path.join(datadir, "mysqld.sock")
    tls = ["--ssl-ca=%s/ca.pem" % tls_dir, "--ssl-cert=%s/server.pem" % tls_dir, "--ssl-key=%s/server.key" % tls_dir,
           "--require-secure-transport=ON"] if tls_dir else []
    pid = spawn(["mariadbd", "--no-defaults", "--datadir=" + datadir, "--port=%d" % port,
                 "--bind-address=127.0.0.1", "--socket=" + sock, "--user=root", "--skip-name-resolve",
                 "--pid-file=" + os.path.join(datadir, "mysqld.pid"), "--max-connections=500",
                 "--innodb-buffer-pool-size=512M", "--innodb-log-file-size=256M", "--max-allowed-packet=64M",
                 "--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin",
                 # A binary log of rows, as change capture and replication need; the port makes server ids
                 # differ between the lab's servers (a replica refuses its source's id). User statistics count
                 # each table's changed rows, which change capture checks the log against.
                 "--log-bin=" + os.path.join(datadir, "binlog"), "--binlog-format=ROW", "--server-id=%d" % port,
                 "--userstat=1",
                 "--tmpdir=" + _mariadb_tmpdir(datadir)] + tls,
                os.path.join(datadir, "..", "mariadbd.log"),
                env=dict(os.environ, TZ=time_zone) if time_zone else None)
    try:
        wait_until(lambda: port_open(port) and alive(pid), 60, "mariadbd on port %d" % port)
    except BaseException:
        stop_pid(pid)
        raise
    return pid


def _mariadb_tmpdir(datadir):
    """The server's own temporary directory: labs side by side never share temporary table files in /tmp."""
    path = os.path.join(os.path.dirname(os.path.abspath(datadir)), "mariadb-tmp")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _set_mariadb_password(sock, password):
    import pymysql
    conn = pymysql.connect(unix_socket=sock, user="root", password="", autocommit=True)
    try:
        with conn.cursor() as cur:
            # skip-name-resolve: TCP clients from 127.0.0.1 match '127.0.0.1', never 'localhost'.
            cur.execute("CREATE OR REPLACE USER 'root'@'127.0.0.1' IDENTIFIED BY %s", (password,))
            cur.execute("GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
            cur.execute("ALTER USER 'root'@'localhost' IDENTIFIED BY %s", (password,))
    finally:
        conn.close()


def start_postgres(datadir, port, password, time_zone=None, tls_dir=None):
    """initdb and pg_ctl start as user postgres, superuser ``root`` as in the official compose files;
    ``time_zone``: the server's default TimeZone; ``tls_dir`` (make_tls): TCP connections must use TLS (only
    hostssl lines in pg_hba.conf)."""
    _check_free(port)
    os.makedirs(datadir, mode=0o700)
    shutil.chown(datadir, "postgres", "postgres")
    with tempfile.NamedTemporaryFile("w", dir=os.path.dirname(datadir), delete=False) as pwfile:
        pwfile.write(password + "\n")
    shutil.chown(pwfile.name, "postgres", "postgres")
    try:
        run(["runuser", "-u", "postgres", "--", PG_BIN + "/initdb", "-D", datadir, "-U", "root",
             "--auth=scram-sha-256", "--pwfile=" + pwfile.name, "-E", "UTF8", "--locale=C.UTF-8"])
    finally:
        os.unlink(pwfile.name)
    if tls_dir:
        hba = os.path.join(datadir, "pg_hba.conf")
        with open(hba, encoding="utf-8") as handle:
            lines = [re.sub(r"^host(\s)", r"hostssl\1", line) for line in handle]
        with open(hba, "w", encoding="utf-8") as handle:
            handle.writelines(lines)
        # The server reads its key only if the key is its own and private.
        # PostgreSQL's default ssl_cert_file and ssl_key_file, in the data directory.
        for source, name in (("server.pem", "server.crt"), ("server.key", "server.key")):
            shutil.copy(os.path.join(tls_dir, source), os.path.join(datadir, name))
            shutil.chown(os.path.join(datadir, name), "postgres", "postgres")
            os.chmod(os.path.join(datadir, name), 0o600)
    return run_postgres(datadir, port, time_zone)


def run_postgres(datadir, port, time_zone=None):
    """pg_ctl start on an initialised data directory (after a crash: WAL recovery); returns the PID."""
    log = os.path.join(datadir, "..", "postgres.log")
    open(log, "a", encoding="utf-8").close()
    shutil.chown(log, "postgres", "postgres")
    run(["runuser", "-u", "postgres", "--", PG_BIN + "/pg_ctl", "-D", datadir, "-l", log, "-w", "-t", "60",
         "-o", "-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c max_connections=300 "
               "-c shared_buffers=256MB -c wal_level=logical -c max_replication_slots=40 -c max_wal_senders=40 "
               "-c max_prepared_transactions=10%s%s" % (
                   port, datadir, " -c timezone=" + time_zone if time_zone else "",
                   # start_postgres put a certificate there: TLS on (pg_hba.conf takes only TLS then).
                   " -c ssl=on" if os.path.exists(os.path.join(datadir, "server.key")) else ""),
         "start"])
    with open(os.path.join(datadir, "postmaster.pid"), encoding="utf-8") as pidfile:
        return int(pidfile.readline())


def kill_server(pid):
    """The server dies at once, as under the OOM killer: SIGKILL to it and to every process it started."""
    children = [int(entry) for entry in os.listdir("/proc") if entry.isdigit() and _parent(int(entry)) == pid]
    for victim in [pid] + children:
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass
    # Gone from /proc, not only dead: a server refuses to start while its old PID is an unreaped zombie.
    wait_until(lambda: not any(os.path.exists("/proc/%d" % victim) for victim in [pid] + children), 30,
               "the killed server to be reaped")


def _parent(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def check_traversable(path):
    """PostgreSQL runs as user postgres: every directory above its data must be searchable by others."""
    path = os.path.abspath(path)
    while path != "/":
        mode = os.stat(path).st_mode
        if not mode & 0o001:
            raise LabError("%s is not searchable by the postgres user (mode %o): choose a --workdir under "
                           "/var/tmp or /srv, or chmod o+x it" % (path, mode & 0o777))
        path = os.path.dirname(path)


def stop_server(engine, datadir, pid):
    if engine == "pgsql":
        if alive(pid):
            subprocess.run(["runuser", "-u", "postgres", "--", PG_BIN + "/pg_ctl", "-D", datadir, "-m", "fast",
                            "-w", "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        stop_pid(pid)
    else:
        stop_pid(pid)


# The rights of a managed service's admin user: RDS's master user on MySQL/MariaDB (no SUPER, no FILE, no
# SHUTDOWN); on PostgreSQL a role that is no superuser, with CREATEDB and CREATEROLE as RDS's, and REPLICATION in
# place of RDS's rds_replication role (with rds.logical_replication on).
MANAGED_RIGHTS = {
    "mysql": ("SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER, "
              "SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE, BINLOG MONITOR, "
              "CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER"),
    "pgsql": "LOGIN CREATEDB CREATEROLE REPLICATION",
}


def create_managed_user(engine, port, root_password, tls_dir, user, password):
    """``user`` with MANAGED_RIGHTS, logging in over TCP from 127.0.0.1."""
    conn = connect(engine, port, root_password, tls_dir=tls_dir)
    try:
        with conn.cursor() as cur:
            if engine == "mysql":
                cur.execute("CREATE USER %s@'127.0.0.1' IDENTIFIED BY %s", (user, password))
                cur.execute("GRANT %s ON *.* TO %%s@'127.0.0.1' WITH GRANT OPTION" % MANAGED_RIGHTS[engine], (user,))
            else:
                cur.execute("CREATE ROLE %s %s PASSWORD %%s" % (user, MANAGED_RIGHTS[engine]), (password,))
    finally:
        conn.close()


def connect(engine, port, password, dbname=None, tls_dir=None):
    """root's connection over TCP; with ``tls_dir`` over TLS, the certificate checked against its CA."""
    if engine == "mysql":
        import pymysql
        return pymysql.connect(host="127.0.0.1", port=port, user="root", password=password, database=dbname,
                               autocommit=True, charset="utf8mb4",
                               ssl={"ca": os.path.join(tls_dir, "ca.pem")} if tls_dir else None)
    import psycopg2
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="root", password=password,
                            dbname=dbname or "postgres",
                            **({"sslmode": "verify-full", "sslrootcert": os.path.join(tls_dir, "ca.pem")}
                               if tls_dir else {}))
    conn.autocommit = True
    return conn
