# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Change capture on MariaDB: the binary log as the record of what changed after a moment.

Private to the collection. MariaDB reports, in a transaction started WITH CONSISTENT SNAPSHOT, the binary log
position of that snapshot (``binlog_snapshot_file``/``_position``): every transaction committed after the
snapshot's moment is in the log after it. The log is read back with MariaDB's own ``mariadb-binlog`` (over the
replication protocol, rows decoded, ``-v``) into a private file, and only the primary keys of the changed rows of
one database are kept. What the reader cannot follow row by row is said, and compared in full: a statement logged
for the database (DDL, TRUNCATE, a session in statement format), a row logged without its key, a key of a type it
does not read back, an event it does not know.

Nothing is written to the source server: a binary log position is a note kept by the migration. The log must
still hold it at the sync: a purged file or a reset log is found (``position_problem``) and that database is
compared in full.

``mariadb-binlog -v`` writes a string as its bytes between quotes, a byte below 0x20 as ``\\x`` and two hex digits,
and nothing else escaped: a value holding those four characters itself reads the same. Each such sequence is
taken both ways (a few at most): a key too many only costs one more row compared.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import itertools
import os
import re
import tempfile
import threading
import time

from ansible_collections.wabiz.migration.plugins.module_utils._db import DbError
from ansible_collections.wabiz.migration.plugins.module_utils._dbsync import Changes
from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import Credentials

TOOLS = ('mariadb-binlog', 'mysqlbinlog')
# Key values holding more ambiguous \\x sequences than this make their table compared in full.
MAX_AMBIGUOUS = 5
# Python's names of the MariaDB character sets a text key is read back in.
CODECS = {'utf8mb4': 'utf-8', 'utf8mb3': 'utf-8', 'utf8': 'utf-8', 'ascii': 'ascii', 'latin1': 'cp1252'}

HEADER = re.compile(rb'^#\d{6}\s+\d{1,2}:\d\d:\d\d server id \d+\s+end_log_pos \d+[^\t]*\t(\w+)')
# Events that carry nothing to follow, or whose rows come as ### lines; 'Query' is read for its statement.
QUIET_EVENTS = frozenset([b'Start', b'Rotate', b'GTID', b'Gtid', b'Binlog', b'Xid', b'Annotate_rows',
                          b'Table_map', b'Write_rows', b'Update_rows', b'Delete_rows', b'Write_rows_compressed',
                          b'Update_rows_compressed', b'Delete_rows_compressed', b'Stop', b'Heartbeat',
                          b'Format_desc', b'Gtid_list', b'Binlog_checkpoint', b'Intvar', b'Rand', b'User_var'])
ROW = re.compile(rb'^### (INSERT INTO|UPDATE|DELETE FROM) (.*)$')
VALUE = re.compile(rb'^###   @(\d+)=(.*)$')
INTEGER = re.compile(rb'^(-?\d+)(?: \((\d+)\))?$')
ESCAPE = re.compile(rb'\\x([01][0-9a-f])')
USE = re.compile(rb'^use `(.*)`/\*!\*/;$')
# What a Query event prints around its statement, and the statements that only bound a transaction.
PREAMBLE = re.compile(rb'^(SET TIMESTAMP=|SET @@session\.|/\*!\\C |/\*!\*/;$|/\*M?!\d+ SET )')
CONTROL = frozenset([b'BEGIN', b'COMMIT', b'ROLLBACK', b'START TRANSACTION'])
# What the migration logs on the target for the client's other databases: schema, never rows.
OTHER_DATABASE_DDL = re.compile(rb'^(CREATE|ALTER|DROP|RENAME) (DATABASE|SCHEMA|TABLE|VIEW|INDEX|UNIQUE|'
                                rb'OR REPLACE|DEFINER|SQL SECURITY|ALGORITHM|PROCEDURE|FUNCTION|TRIGGER|EVENT|SEQUENCE)\b',
                                re.IGNORECASE)
# Everything else mariadb-binlog prints between events: text that is none of these is not understood, and the
# database is compared in full (a statement's own text may look like an event's).
OTHER = re.compile(rb'^(#Q> |# Number of rows: \d+$|START TRANSACTION$|COMMIT/\*!\*/;$|/\*!\*/;$|/\*M?!\d+ SET |'
                   rb'DELIMITER |ROLLBACK /\* added by mysqlbinlog \*/;$|# End of log file$|XA |$)')


def position(server):
    """{'file', 'position', 'gtid'} of the server's binary log now."""
    rows = server.query('SHOW MASTER STATUS')
    if not rows:
        raise DbError('The %s writes no binary log' % server.describe())
    gtid = server.query('SELECT @@gtid_binlog_pos')[0][0]
    return {'file': rows[0][0], 'position': int(rows[0][1]), 'gtid': gtid or ''}


def snapshot_position(at):
    """The binary log position of the consistent snapshot the server object ``at`` reads at (MariaDB)."""
    found = dict(at.query("SHOW STATUS LIKE 'binlog_snapshot_%%'"))
    if not found.get('Binlog_snapshot_file'):
        raise DbError('The %s does not report the binary log position of a consistent snapshot (MariaDB does)'
                      % at.describe())
    return {'file': found['Binlog_snapshot_file'], 'position': int(found['Binlog_snapshot_position']),
            'gtid': at.query('SELECT @@gtid_binlog_pos')[0][0] or ''}


# The independent reading: how many rows each table had changed, by any session, whatever it logged. MariaDB's
# user statistics (userstat, a dynamic setting) add the rows each statement changed (successful writes only) to
# information_schema.table_statistics as the statement ends. (Its Handler_write, _update and _delete count for
# the whole server and count attempts: an upsert that finds its row counts two writes and logs one.)
TABLE_ROWS_CHANGED = "SELECT table_name, rows_changed FROM information_schema.table_statistics WHERE table_schema = %s"
# Transactions holding uncommitted row writes (a transaction's rows are counted as its statements end, and
# logged when it commits).
OPEN_WRITERS = "SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_rows_modified > 0"
QUIET_TRIES = 100
QUIET_PAUSE = 0.01
USERSTAT_FIX = "SET GLOBAL userstat = 1, and userstat = 1 in the server's configuration"


def rows_written(query, dbname):
    """{table: rows changed} of ``dbname`` as the server counts them now, or None with user statistics off;
    ``query(sql, params)`` returns rows."""
    if not int(query('SELECT @@userstat')[0][0]):
        return None
    return dict((table, int(rows)) for table, rows in query(TABLE_ROWS_CHANGED, (dbname,)))


def _quiet_count(query, dbname):
    """``rows_written``, read at a moment after which no transaction that had written rows was still open (tried
    QUIET_TRIES times), or None (or user statistics off). Run right before a consistent snapshot starts: every
    row counted then belongs to a transaction that ended before the snapshot (one that wrote before the count and
    was still open after it is seen), so from the snapshot on the rows counted and the rows the log holds are the
    same writes, unless one was not logged (or was rolled back)."""
    for dummy in range(QUIET_TRIES):
        written = rows_written(query, dbname)
        if written is None or not int(query(OPEN_WRITERS)[0][0]):
            return written
        time.sleep(QUIET_PAUSE)
    return None


def counted_snapshot(server, dbname, before):
    """(a consistent snapshot of ``server``, {'binlog': its position, 'rows_written': ``rows_written`` of
    ``dbname`` just before it or None (``BinlogReader.accounted_changes``), 'before': what ``before(query)`` read right
    before it}); ``query(sql, params)`` runs on the snapshot's connection."""
    def prelude(cur):
        def query(sql, params=None):
            cur.execute(sql, params)
            return cur.fetchall()
        return before(query), _quiet_count(query, dbname)
    at = server.sibling(snapshot=prelude)
    try:
        found = snapshot_position(at)
    except DbError:
        at.close()
        raise
    return at, {'binlog': found, 'rows_written': at.before_snapshot[1], 'before': at.before_snapshot[0]}


def _gtids(text):
    """{domain: sequence number} of a GTID position such as '0-1-42,1-7-3'."""
    out = {}
    for part in filter(None, (text or '').split(',')):
        domain, _server, seq = part.strip().split('-')
        out[int(domain)] = int(seq)
    return out


def _file_number(name):
    return int(name.rsplit('.', 1)[-1])


def position_problem(server, recorded):
    """Why the binary log of ``server`` no longer holds everything after ``recorded`` (a ``position``), or None."""
    files = [row[0] for row in server.query('SHOW BINARY LOGS')]
    if recorded['file'] not in files:
        return 'the binary log file %s it was captured at is gone from the %s (purged: keep binary logs longer ' \
               'than the migration, binlog_expire_logs_seconds)' % (recorded['file'], server.describe())
    now = position(server)
    earlier = (_file_number(now['file']), now['position']) < (_file_number(recorded['file']), recorded['position'])
    gtids = _gtids(now['gtid'])
    if earlier or any(gtids.get(domain, 0) < seq for domain, seq in _gtids(recorded['gtid']).items()):
        return 'the binary log of the %s was reset since the capture (at %s:%d, %s; now %s:%d, %s)' % (
            server.describe(), recorded['file'], recorded['position'], recorded['gtid'], now['file'],
            now['position'], now['gtid'])
    return None


def binlog_problems(server, reader, source=True):
    """Why the binary log of ``server`` cannot be followed (with what to do), or []. ``source``: the source also
    needs the position of a consistent snapshot."""
    log_bin, binlog_format = server.query('SELECT @@log_bin, @@binlog_format')[0]
    if not int(log_bin):
        return ['the %s writes no binary log: start it with log_bin and binlog_format=ROW (a restart)'
                % server.describe()]
    if source and not server.query("SHOW STATUS LIKE 'binlog_snapshot_file'"):
        return ['the %s does not report the binary log position of a consistent snapshot (MariaDB does, MySQL '
                'does not): its copy is compared in full in the downtime' % server.describe()]
    found = []
    if binlog_format != 'ROW':
        found.append('binlog_format is %s on the %s: set binlog_format=ROW (SET GLOBAL and the server\'s '
                     'configuration; sessions open before keep theirs)' % (binlog_format, server.describe()))
    try:
        status = server.query('SHOW MASTER STATUS')
        position(server)
    except DbError as exc:
        return found + ['%s may not read the binary log position (%s): GRANT BINLOG MONITOR ON *.* TO %s '
                        '(REPLICATION CLIENT before MariaDB 10.5)' % (server.user, exc, server.user)]
    if status and any(status[0][2:4]):
        found.append('the %s filters its binary log (binlog_do_db %r, binlog_ignore_db %r): a database left out '
                     'is never logged; remove the filters (the server\'s configuration, a restart)'
                     % (server.describe(), status[0][2], status[0][3]))
    # What counts the writes a session may keep out of the log (sql_log_bin=0), independently of it.
    if source and not int(server.query('SELECT @@userstat')[0][0]):
        found.append('user statistics are off on the %s: the capture counts the rows each table had changed '
                     '(information_schema.table_statistics) to prove that its binary log holds every write: %s'
                     % (server.describe(), USERSTAT_FIX))
    try:
        # InnoDB's open transactions (the source's count) and table ids (both servers' tables' identities).
        server.query(OPEN_WRITERS)
        server.query('SELECT COUNT(*) FROM information_schema.innodb_sys_tables')
    except DbError as exc:
        found.append('%s may not read InnoDB\'s transactions and tables on the %s (%s), which the capture needs '
                     'to see the writes outside the binary log: GRANT PROCESS ON *.* TO %s'
                     % (server.user, server.describe(), exc, server.user))
    problem = reader.problem() or reader.rights_problem(server)
    return found + ([problem] if problem else [])


# the rows of one database, from mariadb-binlog's text -------------------------------------------------------
def _quoted_candidates(value):
    """The byte strings a quoted value of mariadb-binlog can stand for, or None when too many."""
    if len(value) < 2 or value[:1] != b"'" or value[-1:] != b"'":
        return None
    body = value[1:-1]
    pieces, last = [], 0
    for match in ESCAPE.finditer(body):
        pieces.append((body[last:match.start()],))
        pieces.append((match.group(0), bytes([int(match.group(1), 16)])))
        last = match.end()
    pieces.append((body[last:],))
    if len(pieces) // 2 > MAX_AMBIGUOUS:
        return None
    return [b''.join(choice) for choice in itertools.product(*pieces)]


def key_texts(kind, value):
    """The key texts (as ``_dbsync.key_text`` reads them) a value printed by mariadb-binlog can stand for, or a
    str saying why it cannot be read back."""
    if kind in ('int', 'uint'):
        match = INTEGER.match(value)
        if not match:
            return 'a key value it cannot read (%r)' % value[:40]
        return [(match.group(2) if kind == 'uint' and match.group(2) else match.group(1)).decode('ascii')]
    if kind == 'binary' or kind.startswith('text '):
        candidates = _quoted_candidates(value)
        if candidates is None:
            return 'a key value it cannot read back unambiguously'
        if kind == 'binary':
            return [c.hex().upper() for c in candidates]
        codec = CODECS.get(kind.split()[1])
        try:
            return [c.decode(codec) for c in candidates] if codec else 'its key is in character set %s, which ' \
                'the capture does not read back' % kind.split()[1]
        except UnicodeDecodeError:
            return 'a key value that is not %s' % kind.split()[1]
    return 'its primary key is of a type the capture does not read back from the binary log'


class RowReader(object):
    """Reads the ### lines of one row event into keys of ``changes``."""

    def __init__(self, changes, tables):
        self.changes = changes
        self.tables = tables
        self.label = None
        self.images = []

    def start(self, label, operation):
        self.finish()
        self.label, self.operation, self.images = label, operation, []

    def image(self):
        if self.label:
            self.images.append({})

    def value(self, number, value):
        if self.label and self.images:
            self.images[-1][number] = value

    def finish(self):
        if not self.label:
            return
        table, label = self.tables[self.label], self.label
        self.label = None
        before, keys = {}, set()
        for index, image in enumerate(self.images):
            # An update's new image may leave out unchanged key columns (binlog_row_image=MINIMAL).
            values = image
            if self.operation == b'UPDATE' and index == 1:
                values = dict(before)
                values.update(image)
            before = image
            if any(p not in values for p in table.key_positions):
                self.changes.table_whole(label, 'a row was logged without its primary key (binlog_row_image)')
                return
            columns = [key_texts(kind, values[p]) for kind, p in zip(table.key_types, table.key_positions)]
            problem = next((c for c in columns if isinstance(c, str)), None)
            if problem:
                self.changes.table_whole(label, problem)
                return
            keys.update(itertools.product(*columns))
        self.changes.row(label, keys)


def read_changes(lines, dbname, tables, source=True):
    """Changes of database ``dbname`` in ``lines`` (bytes) of ``mariadb-binlog -v --base64-output=decode-rows``.

    ``tables``: {label: _dbsync.Table} of the database. Changes.everything says why the whole database is to be
    compared in full. On the source (``source``) every statement logged counts against the database, whichever
    database it names or ran in: a statement's effects cannot be told from its text (a view, a routine or a
    trigger of another database may write this one's tables). On the target, where the migration itself creates
    and fills the client's other databases, a statement of another database that writes no rows itself (DDL)
    is that database's own."""
    changes = Changes()
    rows = RowReader(changes, tables)
    names = dict((b'`%s`.`%s`' % (dbname.encode('utf-8'), t.name.encode('utf-8')), label)
                 for label, t in tables.items() if t.primary_key)
    ours = b'`%s`.' % dbname.encode('utf-8')
    mention = dbname.encode('utf-8')
    # The database's name as a word of a statement (quoted or not; another name containing it is another's).
    named = re.compile(rb'(?<![A-Za-z0-9_$])' + re.escape(mention) + rb'(?![A-Za-z0-9_$])')
    query, default_db, ended = None, None, False

    def statement(body, default_db):
        # The session settings printed before a statement are not part of it (they name no database).
        text = [line for line in body if not PREAMBLE.match(line)]
        words = b' '.join(text).rstrip(b';').strip()
        if words.upper() in CONTROL or words.upper().startswith(b'XA '):
            return
        if default_db == mention or any(named.search(line) for line in text):
            changes.everything = changes.everything or 'a statement was logged for it (%s)' % (
                words[:60].decode('utf-8', 'replace'))
        elif source or not OTHER_DATABASE_DDL.match(words):
            changes.everything = changes.everything or (
                'a statement was logged in another database (%s: %s), which may write this one through a view, '
                'a routine or a trigger' % ((default_db or b'none').decode('utf-8', 'replace'),
                                            words[:60].decode('utf-8', 'replace')))

    for line in lines:
        line = line.rstrip(b'\n')
        if line.startswith(b'### '):
            found = ROW.match(line)
            if found:
                label = names.get(found.group(2))
                if label is None and found.group(2).startswith(ours):
                    table = found.group(2)[len(ours):].strip(b'`').decode('utf-8', 'replace')
                    if table in tables:
                        changes.table_whole(table, 'it has no primary key')
                    else:
                        changes.everything = changes.everything or 'rows of table %s, which it did not have at ' \
                            'the capture' % table
                rows.start(label, found.group(1).split()[0])
            elif line in (b'### SET', b'### WHERE'):
                rows.image()
            else:
                found = VALUE.match(line)
                if found:
                    rows.value(int(found.group(1)), found.group(2))
            continue
        rows.finish()
        header = HEADER.match(line)
        if header or line.startswith(b'# at ') or line == b'DELIMITER ;':
            if query is not None:
                statement(query, default_db)
                query = None
            if header:
                kind = header.group(1)
                if kind == b'Query':
                    query = []
                elif kind not in QUIET_EVENTS:
                    changes.everything = changes.everything or 'the binary log holds a %s event, which the ' \
                        'capture does not read' % kind.decode('ascii', 'replace')
            continue
        if query is not None:
            use = USE.match(line)
            if use:
                default_db = use.group(1)
            else:
                query.append(line)
        elif not OTHER.match(line):
            changes.everything = changes.everything or 'the binary log has text the capture does not read (%s)' % (
                line[:60].decode('utf-8', 'replace'))
        ended = ended or line == b'# End of log file'
    rows.finish()
    if query is not None:
        statement(query, default_db)
    if not ended:
        raise DbError('the binary log ended early (no "End of log file")')
    return changes


ROTATE = re.compile(rb'^#\d{6}\s+\d{1,2}:\d\d:\d\d server id \d+\s+end_log_pos \d+[^\t]*\tRotate to (\S+)\s+pos: \d+')
AT = re.compile(rb'^# at (\d+)$')


def events_from(lines, start, first_file):
    """The lines of ``mariadb-binlog`` output read from a position in ``first_file``, from the first event at or
    after ``start`` ({'file', 'position'}) on, and the output's end. A Rotate event names the file the events after
    it are in."""
    wanted = (_file_number(start['file']), start['position'])
    current, taking = _file_number(first_file), False
    for line in lines:
        if not taking:
            bare = line.rstrip(b'\n')
            at = AT.match(bare)
            if at and (current, int(at.group(1))) >= wanted:
                taking = True
            elif bare in (b'DELIMITER ;', b'# End of log file'):
                taking = True
            else:
                rotate = ROTATE.match(bare)
                if rotate:
                    current = _file_number(rotate.group(1).decode('ascii', 'replace'))
                continue
        yield line


def logged_rows(lines):
    """{`database`.`table` as mariadb-binlog names it: rows} of every row event in ``lines`` of
    ``mariadb-binlog -v`` (an UPDATE's row is one row, written once)."""
    counts = {}
    for line in lines:
        found = ROW.match(line)
        if found:
            counts[found.group(2)] = counts.get(found.group(2), 0) + 1
    return counts


class BinlogReader(object):
    """Reads a server's binary log from a position with mariadb-binlog, into a private directory made on first
    use and removed on exit."""

    def __init__(self, module):
        self.module = module
        self.credentials = None
        self.option_files = {}
        self.lock = threading.Lock()  # the sync reads two servers at once

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.credentials:
            self.credentials.__exit__(*exc)

    @property
    def tool(self):
        return next(filter(None, (self.module.get_bin_path(n, opt_dirs=['/usr/bin']) for n in TOOLS)), None)

    def problem(self):
        """Why the reader cannot run here, or None."""
        tool = self.tool
        if not tool:
            return 'mariadb-binlog is not installed where the migration runs (MariaDB client tools, bindep.txt)'
        rc, out, err = self.module.run_command([tool, '--version'])
        if 'mariadb' not in (out + err).lower():
            return '%s is not MariaDB\'s (its text of rows is what the capture reads): install mariadb-binlog' % tool
        return None

    def _output(self):
        with self.lock:
            if self.credentials is None:
                self.credentials = Credentials()
        handle, path = tempfile.mkstemp(prefix='binlog-', suffix='.txt', dir=self.credentials.dir)
        os.close(handle)
        return path

    def _run(self, server, start, path):
        endpoint = (server.host, server.port, server.user)
        tool = self.tool
        if not tool:
            raise DbError(self.problem())
        with self.lock:
            if endpoint not in self.option_files:
                self.option_files[endpoint] = self.credentials.for_endpoint(server)[0]['extra_file']
        argv = [tool, '--defaults-extra-file=' + self.option_files[endpoint], '--read-from-remote-server',
                '--verbose', '--base64-output=decode-rows', '--to-last-log', '--start-position=%d' % start['position'],
                '--result-file=' + path, start['file']]
        rc, out, err = self.module.run_command(argv)
        if rc != 0:
            raise DbError('Cannot read the binary log of the %s from %s:%d: %s' % (
                server.describe(), start['file'], start['position'], (err or out).strip()[-500:]))

    def rights_problem(self, server):
        """Why the capture may not read the binary log of ``server`` (with the grant to add), or None."""
        path = self._output()
        try:
            self._run(server, position(server), path)
        except DbError as exc:
            return '%s: GRANT REPLICATION SLAVE ON *.* TO %s' % (exc, server.user)
        finally:
            if os.path.exists(path):
                os.unlink(path)
        return None

    def accounted_changes(self, server, dbname, accounting, start, tables):
        """(why, {table: why}, Changes): the changes of ``dbname`` on the source ``server`` from ``start`` (as
        ``changes`` reads them), and why its writes since a capture's ``accounting`` (``counted_snapshot``) may not
        all be in its binary log, for the whole database or per table (None, {} when the rows the server counted
        are those the log holds). One reading of the log from the accounting's position serves both: ``start``
        (the moment the catch-up moved the capture to) is at or after it."""
        if accounting is None or accounting.get('rows_written') is None:
            return ('the capture could not count the rows changed on the %s (user statistics off, or a '
                    'transaction held uncommitted writes for %.1f s): writes outside its binary log cannot be ruled '
                    'out' % (server.describe(), QUIET_TRIES * QUIET_PAUSE)), {}, None
        problem = position_problem(server, accounting['binlog'])
        if problem:
            return problem, {}, None
        then, now = accounting['rows_written'], rows_written(server.query, dbname)
        if now is None:
            return 'user statistics (userstat) were turned off on the %s since the capture: its writes since ' \
                   'cannot be counted (%s)' % (server.describe(), USERSTAT_FIX), {}, None
        path = self._output()
        try:
            self._run(server, accounting['binlog'], path)
            with open(path, 'rb') as handle:
                logged = logged_rows(line.rstrip(b'\n') for line in handle)
                handle.seek(0)
                changes = read_changes(events_from(handle, start, accounting['binlog']['file']), dbname, tables)
        finally:
            if os.path.exists(path):
                os.unlink(path)
        moved = {}
        # Every table the counts or the log name: a table the log holds rows of and nothing counted is a gap in
        # the counting (user statistics off for a while), not a table that was not written.
        for table in set(then) | set(now) | set(tables):
            written = now.get(table, 0) - then.get(table, 0)
            held = logged.get(b'`%s`.`%s`' % (dbname.encode('utf-8'), table.encode('utf-8')), 0)
            if written != held:
                moved[table] = ('the server counted %d rows changed since the capture (user statistics) and its '
                                'binary log holds %d: a write outside the log (a session with sql_log_bin=0, a '
                                'rolled-back transaction) cannot be ruled out' % (written, held))
        return None, moved, changes

    def changes(self, server, dbname, start, tables, source=True):
        """Changes of ``dbname`` in the binary log of ``server`` (the ``source``, or the target) from ``start`` to
        its end."""
        path = self._output()
        try:
            self._run(server, start, path)
            with open(path, 'rb') as handle:
                return read_changes(handle, dbname, tables, source)
        finally:
            if os.path.exists(path):
                os.unlink(path)
