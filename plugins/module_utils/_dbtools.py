# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Dump and restore pipelines with the engines' own tools, and the manifest that verifies a restore.

Private to the collection. Passwords go only into 0600 option files (MySQL/MariaDB) or a 0600 PGPASSFILE
(PostgreSQL) in a private temporary directory, never onto a command line. Every pipeline runs under
``set -o pipefail`` so a failing dump fails the step even when the restore side succeeded.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time

from ansible_collections.wabiz.migration.plugins.module_utils._files import write
from ansible_collections.wabiz.migration.plugins.module_utils._lock import process_start

MANIFEST = 'manifest.json'
MYSQL_DUMP_TOOLS = ('mariadb-dump', 'mysqldump')
MYSQL_CLIENTS = ('mariadb', 'mysql')


class ToolError(Exception):
    pass


class WorkLock(object):
    """An exclusive lock on a dump directory (``<dir>.lock``) for a dump or a restore.

    A controller that dies leaves its modules running (ansible-playbook's workers live in their own sessions,
    and a remote module outlives its ssh connection). A re-run must not load into databases that such an
    orphan still writes: it waits for the orphan to finish, then starts over.
    """

    def __init__(self, path, timeout, sleep=time.sleep):
        self.path = path
        self.timeout = timeout
        self.sleep = sleep
        self.handle = None
        self.waited = 0.0

    def acquire(self):
        directory = os.path.dirname(self.path)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        self.handle = open(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), 'r+')
        started = time.time()
        while True:
            try:
                fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except (IOError, OSError):
                if time.time() - started >= self.timeout:
                    holder = self.handle.read().strip()
                    self.handle.close()
                    raise ToolError('%s is still held by an earlier run\'s dump or restore (process %s) after '
                                    'waiting %d s: let it finish or stop it, then run again'
                                    % (self.path, holder or 'unknown', self.timeout))
                self.sleep(0.5)
        self.waited = time.time() - started
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write('%d\n' % os.getpid())
        self.handle.flush()
        return self

    def release(self):
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def sweep_credentials(parent):
    """Remove credential directories left by processes that no longer run (killed mid-dump)."""
    for name in os.listdir(parent):
        pid = name[len(CREDENTIALS_PREFIX):].split('-', 1)[0]
        if name.startswith(CREDENTIALS_PREFIX) and pid.isdigit() and not process_runs(int(pid)):
            shutil.rmtree(os.path.join(parent, name), ignore_errors=True)


def process_runs(pid):
    """Whether ``pid`` is a live process (a killed one waiting to be reaped, a zombie, is not)."""
    return process_start(pid) is not None


# An option file value, double-quoted with the escapes MySQL's and MariaDB's tools read back exactly (a newline
# unescaped would end the value and start an option of its own; an unquoted # starts a comment).
OPTION_ESCAPES = (('\\', '\\\\'), ('"', '\\"'), ('\n', '\\n'), ('\r', '\\r'), ('\t', '\\t'))


def option_file_value(value, what):
    text = str(value)
    if '\0' in text:
        raise ToolError('%s holds a NUL character, which no option file can carry: change it' % what)
    for raw, escaped in OPTION_ESCAPES:
        text = text.replace(raw, escaped)
    return '"%s"' % text


def pgpass_value(value, what):
    """A pgpass field: \\ and : escaped; a line break cannot be carried (it would end the line)."""
    text = str(value)
    if any(c in text for c in '\0\n\r'):
        raise ToolError('%s holds a line break or NUL, which a pgpass file cannot carry: change it' % what)
    return text.replace('\\', '\\\\').replace(':', '\\:')


CREDENTIALS_PREFIX = 'wabiz-cred-'


class Credentials(object):
    """A private directory with one credentials file per endpoint; removed on exit.

    A process killed mid-dump cannot remove its directory: the next one removes the directories whose
    process is gone (their names carry the PID), so no password file outlives a crash by more than a run.
    """

    def __init__(self):
        sweep_credentials(tempfile.gettempdir())
        self.dir = tempfile.mkdtemp(prefix='%s%d-' % (CREDENTIALS_PREFIX, os.getpid()))
        os.chmod(self.dir, 0o700)
        self._count = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)

    def _write(self, name, text):
        return write(os.path.join(self.dir, name), text)

    def for_endpoint(self, endpoint):
        """(extra command-line arguments, environment) that let the tools log in to ``endpoint`` (a _db.Server)."""
        self._count += 1
        password = endpoint.password or ''
        if endpoint.engine == 'mysql':
            body = 'host=%s\nport=%d\nuser=%s\npassword=%s\n%s' % (
                option_file_value(endpoint.host, 'the database host'), endpoint.port,
                option_file_value(endpoint.user, 'the database user'),
                option_file_value(password, 'the database password'),
                ''.join('%s\n' % line for line in mysql_tls_lines(endpoint.tls)))
            # [client] for mariadb/mysql and *-dump, [mydumper]/[myloader] for those.
            path = self._write('my-%d.cnf' % self._count,
                               ''.join('[%s]\n%s' % (group, body) for group in ('client', 'mydumper', 'myloader')))
            return {'extra_file': path}, {}
        path = self._write('pgpass-%d' % self._count, '%s:%d:*:%s:%s\n' % (
            pgpass_value(endpoint.host, 'the database host'), endpoint.port,
            pgpass_value(endpoint.user, 'the database user'), pgpass_value(password, 'the database password')))
        return {}, dict({'PGPASSFILE': path, 'PGHOST': endpoint.host, 'PGPORT': str(endpoint.port),
                         'PGUSER': endpoint.user, 'PGCONNECT_TIMEOUT': '10'}, **pg_tls_env(endpoint.tls))


# ssl_mode in the option file of MySQL's tools (ssl-mode) and of MariaDB's (ssl, ssl-verify-server-cert, which
# checks the certificate and the name together), each under loose- so that the other's tools pass over it.
MYSQL_TLS_LINES = {
    'disable': ['loose-skip-ssl', 'loose-ssl-mode=DISABLED'],
    'prefer': [],
    'require': ['loose-ssl', 'loose-ssl-mode=REQUIRED'],
    'verify-ca': ['loose-ssl', 'loose-ssl-mode=VERIFY_CA'],
    'verify-full': ['loose-ssl', 'loose-ssl-mode=VERIFY_IDENTITY', 'loose-ssl-verify-server-cert'],
}
PG_TLS_ENV = (('ca_cert', 'PGSSLROOTCERT'), ('client_cert', 'PGSSLCERT'), ('client_key', 'PGSSLKEY'))


def mysql_tls_lines(tls):
    """The option file lines of a server's TLS options (_db.tls_of), for every MySQL and MariaDB tool."""
    lines = list(MYSQL_TLS_LINES[tls.get('ssl_mode') or 'prefer'])
    for key, name in (('ca_cert', 'ssl-ca'), ('client_cert', 'ssl-cert'), ('client_key', 'ssl-key')):
        if tls.get(key):
            lines.append('%s=%s' % (name, option_file_value(tls[key], key)))
    return lines


def pg_tls_env(tls):
    """libpq's environment for a server's TLS options (_db.tls_of); every variable set, as the scripts pass each
    on (libpq takes an empty one as not given)."""
    env = {'PGSSLMODE': tls.get('ssl_mode') or 'prefer'}
    env.update((name, tls.get(key) or '') for key, name in PG_TLS_ENV)
    return env


def _find(module, name):
    # Database tools often live in sbin-less PATHs of non-login shells; look in the usual places too.
    return module.get_bin_path(name, opt_dirs=['/usr/sbin', '/usr/bin'])


def version_of(module, executable):
    rc, out, err = module.run_command([executable, '--version'])
    text = (out or err or '').strip()
    if rc != 0 or not text:
        return 'unknown (exit %d)' % rc
    return text.splitlines()[0]


def choose_tools(module, engine, method):
    """The executables of a dump method: mysql ``mydumper``/``mysqldump``, pgsql ``pg_dump``; ``auto`` picks."""
    if engine == 'pgsql':
        if method not in ('auto', 'pg_dump'):
            raise ToolError('method %s is not for PostgreSQL (use pg_dump)' % method)
        tools = {'method': 'pg_dump', 'dump': _find(module, 'pg_dump'), 'load': _find(module, 'psql')}
    else:
        if method not in ('auto', 'mydumper', 'mysqldump'):
            raise ToolError('method %s is not for MySQL/MariaDB (use mydumper or mysqldump)' % method)
        mydumper, myloader = _find(module, 'mydumper'), _find(module, 'myloader')
        if method in ('auto', 'mydumper') and mydumper and myloader:
            tools = {'method': 'mydumper', 'dump': mydumper, 'load': myloader}
        elif method == 'mydumper':
            raise ToolError('mydumper and myloader are not installed (Debian package mydumper)')
        else:
            tools = {'method': 'mysqldump',
                     'dump': next(filter(None, (_find(module, n) for n in MYSQL_DUMP_TOOLS)), None),
                     'load': next(filter(None, (_find(module, n) for n in MYSQL_CLIENTS)), None)}
    missing = [role for role in ('dump', 'load') if not tools[role]]
    if missing:
        raise ToolError('the %s tools are missing (%s): install the database client tools (bindep.txt)'
                        % (tools['method'], ', '.join(missing)))
    tools['versions'] = {'dump': version_of(module, tools['dump']), 'load': version_of(module, tools['load'])}
    return tools


def mariadb_client(version_text):
    """Whether a MySQL-family tool runs on MariaDB's client library ("MariaDB" in its version, or mydumper's
    "built against MySQL 10.x/11.x", which are MariaDB's version numbers)."""
    text = version_text.lower()
    built = re.search(r'built against mysql (\d+)\.', text)
    return 'mariadb' in text or bool(built and int(built.group(1)) >= 10)


def refuse_unverifiable_tls(tools, servers):
    """ssl_mode=verify-ca means the certificate is checked against the CA: MariaDB's client tools check it only
    together with the host name (ssl-verify-server-cert) and skip MySQL's ssl-mode, so with them verify-ca would
    quietly verify nothing. Refused, naming the settings that work."""
    if tools['method'] == 'pg_dump' or not any(mariadb_client(v) for v in tools['versions'].values()):
        return
    for server in servers:
        if server is not None and (server.tls.get('ssl_mode') or 'prefer') == 'verify-ca':
            raise ToolError(
                'ssl_mode=verify-ca for the %s cannot be honoured by MariaDB\'s client tools (%s), which check a '
                'certificate only together with its host name. Use ssl_mode=verify-full (wa_db_ssl_mode) with a '
                'certificate that names the host the tools connect to, or install MySQL\'s own client tools'
                % (server.describe(), tools['versions']['dump']))


def mysqldump_options(version_text):
    """Options MySQL's own mysqldump needs that MariaDB's does not know, from its ``--version`` line. MySQL 8's
    asks the server for column statistics MariaDB and MySQL 5.7 do not have (the dump fails: Unknown table
    'COLUMN_STATISTICS'), and from 5.6 on it writes the source's GTID set into the dump, which a target with GTIDs
    of its own refuses (and the copy must not take the source's GTIDs anyway)."""
    if 'mariadb' in version_text.lower():
        return []
    distrib = re.search(r'Distrib (\d+)\.(\d+)', version_text)
    own = re.search(r'Ver (\d+)\.(\d+)', version_text)
    version = tuple(int(n) for n in (distrib or own).groups()) if (distrib or own) else None
    if version is None:
        return []
    return (['--column-statistics=0'] if version >= (8, 0) else []) + (
        ['--set-gtid-purged=OFF'] if version >= (5, 6) else [])


def client_major(version_text):
    match = re.search(r'(\d+)\.(\d+)', version_text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def run_script(module, script, args, env, what):
    """Run a bash script with ``set -o pipefail``; raise ToolError with its stderr tail on failure.

    Credentials reach the tools through ``env`` (option file and PGPASSFILE paths), never through ``args``.
    Every file the tools write is private (umask 077): mydumper, for one, would write its files 0644.
    """
    started = time.time()
    rc, out, err = module.run_command(['bash', '-c', 'set -euo pipefail\numask 077\n' + script, 'wabiz']
                                      + list(args), environ_update=env)
    if rc != 0:
        raise ToolError('%s failed (exit %d): %s' % (what, rc, (err or out)[-2000:].strip()))
    return time.time() - started


def parallel(jobs, tasks):
    """Run callables on ``jobs`` threads; the first error is raised after all have finished."""
    results, errors, lock = {}, [], threading.Lock()
    queue = list(tasks.items())

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                name, task = queue.pop(0)
            try:
                value = task()
                with lock:
                    results[name] = value
            except Exception as exc:  # the error is reported after the others finish
                with lock:
                    errors.append(exc)

    threads = [threading.Thread(target=worker) for dummy in range(max(1, min(jobs, len(queue))))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b''):
            digest.update(chunk)
    return digest.hexdigest()


def files_of(path):
    """Every file of a dump (a file, or mydumper's directory), relative paths with sizes and checksums."""
    if os.path.isfile(path):
        return {os.path.basename(path): {'bytes': os.path.getsize(path), 'sha256': sha256_of(path)}}
    out = {}
    for root, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            full = os.path.join(root, name)
            out[os.path.relpath(full, os.path.dirname(path))] = {'bytes': os.path.getsize(full),
                                                                 'sha256': sha256_of(full)}
    return out


DEST_MARKER = '.wabiz-dump'
NOFOLLOW = getattr(os, 'O_NOFOLLOW', 0)
PLAIN_NAME = re.compile(r'\A[A-Za-z0-9_]+\Z')


def prepare_dest(dest):
    """An empty private directory for a dump; an earlier dump of this collection there is replaced (a re-run)."""
    if os.path.isdir(dest) and os.listdir(dest):
        if not os.path.exists(os.path.join(dest, DEST_MARKER)):
            raise ToolError('%s is not empty and holds no dump of this collection: choose an empty directory' % dest)
        shutil.rmtree(dest)
    if not os.path.isdir(dest):
        os.makedirs(dest, 0o700)
    os.chmod(dest, 0o700)
    os.close(os.open(os.path.join(dest, DEST_MARKER), os.O_WRONLY | os.O_CREAT, 0o600))


def room_for(dest):
    """Whether a dump can go to ``dest`` (to be made under its nearest existing directory) and the free bytes there."""
    existing = os.path.abspath(dest)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    writable = os.path.isdir(existing) and os.access(existing, os.W_OK | os.X_OK)
    stat = os.statvfs(existing if os.path.isdir(existing) else os.path.dirname(existing))
    return dict(path=dest, existing=existing, writable=writable, free_bytes=stat.f_bavail * stat.f_frsize)


def write_manifest(directory, manifest):
    return write(os.path.join(directory, MANIFEST), json.dumps(manifest, indent=2, sort_keys=True))


def read_manifest(directory, name=MANIFEST):
    path = os.path.join(directory, name)
    try:
        with open(path) as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError) as exc:
        raise ToolError('%s is not a readable dump manifest: %s' % (path, exc))


def compare(expected, found, sides=('on the source', 'after the restore'), names=None):
    """Differences between the manifest's databases and a fresh inventory of the target, as sentences that
    name the two ``sides``. ``names``: {expected database: its name in ``found``} where they differ."""
    problems = []
    for dbname, want in sorted(expected.items()):
        have = found.get((names or {}).get(dbname, dbname))
        if have is None:
            problems.append('database %s is missing' % dbname)
            continue
        missing = sorted(set(want['tables']) - set(have['tables']))
        extra = sorted(set(have['tables']) - set(want['tables']))
        if missing:
            problems.append('%s: tables missing: %s' % (dbname, ', '.join(missing)))
        if extra:
            problems.append('%s: unexpected tables: %s' % (dbname, ', '.join(extra)))
        for table in sorted(set(want['tables']) & set(have['tables'])):
            for key in ('rows', 'checksum'):
                if key in want['tables'][table] and want['tables'][table][key] != have['tables'][table].get(key):
                    problems.append('%s.%s: %s %s %s, %s %s' % (
                        dbname, table, key, want['tables'][table][key], sides[0], have['tables'][table].get(key),
                        sides[1]))
    return problems


# pipelines ------------------------------------------------------------------------------------------
# Positional parameters carry paths and names; credentials reach the tools only through option files or
# PGPASSFILE. A database name reaches a tool after "--" (never read as an option), and only a plain name
# (PLAIN_NAME: never a pg_dump connection string, a path or a pattern) reaches one at all. SRC_* and DST_* hold
# the connection settings of the two ends (PG_ENV: what for_endpoint gives).
MYSQLDUMP_ARGS = '--single-transaction --quick --hex-blob --routines --triggers --events --databases'
PG_DUMP_ARGS = '--no-password --create --no-owner --no-privileges'
PSQL_ARGS = '-X -q --no-password -v ON_ERROR_STOP=1 -d postgres'
PG_ENV = ('PGPASSFILE', 'PGHOST', 'PGPORT', 'PGUSER', 'PGSSLMODE', 'PGSSLROOTCERT', 'PGSSLCERT', 'PGSSLKEY')
PG_SRC, PG_DST = (' '.join('%s="$%s_%s"' % (name, end, name) for name in PG_ENV) for end in ('SRC', 'DST'))

SCRIPTS = {
    # (method, what): bash script; $1 database, $2 dump file or directory, $3 threads, $4 regex
    # $DUMP_OPTIONS: mysqldump_options, fixed words (unquoted, so none is none).
    ('mysqldump', 'dump'): '"$DUMP" --defaults-extra-file="$SRC_CNF" $DUMP_OPTIONS ' + MYSQLDUMP_ARGS + ' -- "$1" > "$2"',
    ('mysqldump', 'load'): '"$LOAD" --defaults-extra-file="$DST_CNF" < "$2"',
    ('mysqldump', 'copy'): ('"$DUMP" --defaults-extra-file="$SRC_CNF" $DUMP_OPTIONS ' + MYSQLDUMP_ARGS +
                            ' -- "$1" | tee "$2" | "$LOAD" --defaults-extra-file="$DST_CNF"'),
    ('pg_dump', 'dump'): PG_SRC + ' "$DUMP" ' + PG_DUMP_ARGS + ' -- "$1" > "$2"',
    ('pg_dump', 'load'): PG_DST + ' "$LOAD" ' + PSQL_ARGS + ' -f "$2"',
    ('pg_dump', 'copy'): (PG_SRC + ' "$DUMP" ' + PG_DUMP_ARGS + ' -- "$1" | tee "$2" | ' + PG_DST + ' "$LOAD" ' +
                          PSQL_ARGS),
    # mydumper works on all databases at once, into one directory, with its own threads.
    ('mydumper', 'dump'): ('"$DUMP" --defaults-file="$SRC_CNF" --regex "$4" --outputdir "$2" --threads "$3" '
                           '--rows 100000 --trx-consistency-only --triggers --events --routines'),
    ('mydumper', 'load'): '"$LOAD" --defaults-file="$DST_CNF" --directory "$2" --threads "$3"',
}


# Loading a dump under another database name ($1 the dump's, $5 the target's; both plain names, _db.target_names):
# only the statements that name the database are rewritten, never a row. mysqldump names it in CREATE DATABASE
# and USE lines (a row is one INSERT line, its newlines escaped); pg_dump in its header's CREATE/ALTER/COMMENT/
# GRANT ... DATABASE and \connect lines, all before the first COPY of data.
RENAME = {
    'mysqldump': ("awk -v from=\"$1\" -v to=\"$5\" '/^CREATE DATABASE / || /^USE / "
                  "{ gsub(\"`\" from \"`\", \"`\" to \"`\") } { print }'"),
    'pg_dump': ("awk -v from=\"$1\" -v to=\"$5\" -v sq=\"'\" '/^COPY / { data = 1 } "
                "!data && (/^(CREATE|ALTER) DATABASE / || /^COMMENT ON DATABASE / || /^(GRANT|REVOKE) .* ON DATABASE / "
                "|| /^\\\\connect /) { for (i = 1; i <= NF; i++) { "
                "if ($i == from) $i = to; else if ($i == from \";\") $i = to \";\"; "
                "else if ($i == \"\\\"\" from \"\\\"\") $i = \"\\\"\" to \"\\\"\"; "
                "else if ($i == \"\\\"dbname=\" sq from sq \"\\\"\") $i = \"\\\"dbname=\" sq to sq \"\\\"\" } } "
                "{ print }'"),
}
LOADERS = {
    'mysqldump': '"$LOAD" --defaults-extra-file="$DST_CNF"',
    'pg_dump': PG_DST + ' "$LOAD" ' + PSQL_ARGS,
}


def script(method, what, renamed):
    """The bash script of one dump, load or copy; ``renamed``: the target database has another name."""
    if not renamed or what == 'dump':
        return SCRIPTS[(method, what)]
    if method == 'mydumper':
        return SCRIPTS[(method, what)] + ' --source-db "$1" --database "$5"'
    if what == 'load':
        return RENAME[method] + ' < "$2" | ' + LOADERS[method]
    return SCRIPTS[(method, 'dump')].replace(' > "$2"', ' | tee "$2" | ') + RENAME[method] + ' | ' + LOADERS[method]


class Transfer(object):
    """One dump, load or copy of a set of databases with one method.

    ``names``: {source database: target database} where a target database has another name (a client with
    another prefix); the dump keeps the source's names, the load gives the target's.
    """

    def __init__(self, module, tools, credentials, source=None, target=None, jobs=2, names=None):
        self.module = module
        self.tools = tools
        self.method = tools['method']
        self.jobs = max(1, jobs)
        self.names = dict((k, v) for k, v in (names or {}).items() if k != v)
        refuse_unverifiable_tls(tools, (source, target))
        # Named in a failure: the tools' message ("server closed the connection") does not say which server.
        self.ends = ' '.join(filter(None, ('from the %s' % source.describe() if source else '',
                                           'into the %s' % target.describe() if target else '')))
        self.env = {'DUMP': tools['dump'], 'LOAD': tools['load'], 'DUMP_OPTIONS': ' '.join(
            mysqldump_options(tools['versions']['dump']) if self.method == 'mysqldump' else [])}
        for prefix, endpoint in (('SRC', source), ('DST', target)):
            if endpoint is None:
                continue
            args, env = credentials.for_endpoint(endpoint)
            if 'extra_file' in args:
                self.env[prefix + '_CNF'] = args['extra_file']
            for key, value in env.items():
                self.env['%s_%s' % (prefix, key)] = value

    def _run(self, what, dbname, path, regex=''):
        renamed = self.names.get(dbname)
        for name in filter(None, (dbname, renamed)):
            if not PLAIN_NAME.match(name):
                raise ToolError('%r is no plain database name (letters, digits and _): no tool is run with it' % name)
        return run_script(self.module, script(self.method, what, renamed),
                          [dbname, path, str(self.jobs), regex, renamed or dbname], self.env,
                          '%s of %s with %s %s' % (what, dbname or 'the databases', self.method, self.ends))

    def dump_path(self, directory, dbname=None):
        if self.method == 'mydumper':
            return os.path.join(directory, 'mydumper')
        if not PLAIN_NAME.match(dbname):
            raise ToolError('%r is no plain database name (letters, digits and _): no file is named after it' % dbname)
        return os.path.join(directory, '%s.sql' % dbname)

    def dump(self, directory, databases):
        """Dump ``databases`` into ``directory``; returns seconds per database (or for all, with mydumper)."""
        if self.method == 'mydumper':
            out = self.dump_path(directory)
            os.mkdir(out, 0o700)
            regex = '^(%s)\\.' % '|'.join(re.escape(d) for d in databases)
            return {'*': self._run('dump', '', out, regex)}
        return parallel(self.jobs, dict((d, self._task('dump', d, self.dump_path(directory, d))) for d in databases))

    def load(self, directory, databases):
        if self.method == 'mydumper' and self.names:
            # myloader gives one database another name per run.
            return {'*': sum(self._run('load', d, self.dump_path(directory)) for d in databases)}
        if self.method == 'mydumper':
            return {'*': self._run('load', '', self.dump_path(directory))}
        return parallel(self.jobs, dict((d, self._task('load', d, self.dump_path(directory, d))) for d in databases))

    def copy(self, directory, databases):
        """Dump and load at once, writing the dump file on the way (mydumper: dump, then load)."""
        if self.method == 'mydumper':
            seconds = self.dump(directory, databases)['*']
            return {'*': seconds + self.load(directory, databases)['*']}
        return parallel(self.jobs, dict((d, self._task('copy', d, self.dump_path(directory, d))) for d in databases))

    def _task(self, what, dbname, path):
        def task():
            if what != 'load':
                # Created 0600 before the tool writes into it; a name already there (a link planted in the
                # directory) is refused, not followed.
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o600))
            return self._run(what, dbname, path)
        return task
