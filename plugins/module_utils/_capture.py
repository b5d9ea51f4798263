# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Change capture: which rows changed after the moment the copy ahead was verified.

Private to the collection. Without it, ``db_sync`` reads every row of every table on both servers in the
downtime, which grows with the data. With it, the work in the downtime follows what was written since.

Ahead of the downtime, per database (``capture_database``):
1. a logical replication slot on the target (the new server, where nobody but the migration writes), so that
   every write to the copy from now on is known, the migration's own and anybody else's; on MariaDB the
   target's binary log position (``_binlog``);
2. a logical replication slot on the source, created with an exported snapshot: the snapshot is one moment X of
   the source, and the slot decodes exactly the transactions committed after X (PostgreSQL's guarantee, on which
   its own logical replication and pgcopydb build); on MariaDB a transaction WITH CONSISTENT SNAPSHOT and the
   binary log position MariaDB reports for it;
3. every table compared at X with the target by the strong row digest of ``_dbsync`` (4096 groups), the rows
   that differ mended from the source as read at X, the mended groups compared again. The target then holds the
   source as of X. The source's row counts and digest sums at X are recorded, with the keys the migration wrote
   on the target, their digests at X and how many changes the mend logged for each.

In the downtime, per database (``sync_captured``), after the write fence: the keys the source's slot decoded
since X and the keys the target's slot decoded since (1) are read, with the schema of both sides. A row whose key
is in neither set is unchanged on both sides since a moment at which both held it equal, and so is a row the
target logged exactly the capture's own mend of (anyone else's write adds a change); every other row whose key is
in either set is compared by its digest on both sides, copied where it differs and compared again. The tables'
checksums (for the manifest and the backup check) follow from the recorded sums and the changed rows' digests
before and after. Tables the decoding cannot follow (no primary key, unlogged, truncated, a key missing from what
was decoded) are compared in full, as without capture.

A slot missing, lost (``wal_status`` lost) or moved since the capture (someone consumed its changes) makes the
database fall back to the full comparison; nothing is trusted that cannot be proven. The slots are the only thing
the capture writes to the source server; ``db_sync`` drops them once the copy is verified, and
``db_capture state=absent`` (run by the rollback) drops them otherwise: a slot keeps the source's WAL until then.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import re
import time

try:
    import psycopg2
    import psycopg2.extras
except ImportError:
    psycopg2 = None

from ansible_collections.wabiz.migration.plugins.module_utils._binlog import (
    binlog_problems, counted_snapshot, position, position_problem, snapshot_position)
from ansible_collections.wabiz.migration.plugins.module_utils._db import (
    CAPTURE_SLOT_PREFIX, DbError, checksum_of, pg_ssl_arguments)
from ansible_collections.wabiz.migration.plugins.module_utils._dbsync import (
    BUCKETS, MAX_DIFFERING_BUCKETS, PG_EXCLUDED_SCHEMAS, PG_SESSION, Changes, bucket_sums, copy_rows, counters, database_shape, differing_keys,
    differing_rows, key_condition, sync_counters, sync_keys, sync_rows, table_checksum, table_sums)
from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import ToolError, parallel, read_manifest

PLUGIN = 'test_decoding'
SLOT_PREFIX = CAPTURE_SLOT_PREFIX
FETCH = 5000
FLUSH_SECONDS = 10.0
# A MariaDB capture then catches up (``caught_up``) at most this many times, stopping once a pass compared no more
# rows than CATCH_UP_ENOUGH: each pass's work follows what was written during the one before.
CATCH_UP_PASSES = 3
CATCH_UP_ENOUGH = 200


# slots ----------------------------------------------------------------------------------------------------
def slot_name(side, peer_identity, dbname):
    """The slot of one database, on the source (side 'src') or the target ('tgt'); ``peer_identity``: the other
    server's, so that two migrations from one server to two targets do not share a slot."""
    digest = hashlib.sha256(('%s\0%s' % (peer_identity, dbname)).encode('utf-8')).hexdigest()[:24]
    return '%s%s_%s' % (SLOT_PREFIX, side, digest)


def slot_state(server, slot):
    """{database, plugin, lsn (confirmed flush), wal_status} of a slot, or None."""
    rows = server.query('SELECT database, plugin, confirmed_flush_lsn::text, wal_status FROM pg_replication_slots '
                        'WHERE slot_name = %s', (slot,))
    if not rows:
        return None
    return dict(zip(('database', 'plugin', 'lsn', 'wal_status'), rows[0]))


def drop_slot(server, slot):
    """Drops the slot if it is there; returns whether it was. A session still using it can only be an earlier
    run of the migration left running (the name is the migration's own): it is ended first."""
    deadline = time.time() + FLUSH_SECONDS
    while slot_state(server, slot) is not None:
        server.query('SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = %s '
                     'AND active_pid IS NOT NULL', (slot,))
        try:
            server.query('SELECT pg_drop_replication_slot(%s)', (slot,))
            return True
        except DbError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)  # its session was still ending
    return False


def create_slot(server, dbname, slot):
    """A slot of ``dbname`` made with SQL (no snapshot); returns its start LSN."""
    return server.query("SELECT lsn::text FROM pg_create_logical_replication_slot(%s, %s)", (slot, PLUGIN),
                        dbname=dbname)[0][0]


class ExportedSlot(object):
    """A slot made over a replication connection with an exported snapshot, used as a context manager: the
    snapshot can be imported (``Server.sibling(snapshot=...)``) until the connection closes on exit."""

    def __init__(self, server, dbname, slot):
        self.server, self.dbname, self.slot = server, dbname, slot
        self.conn = self.lsn = self.snapshot = None

    def __enter__(self):
        server = self.server
        try:
            self.conn = psycopg2.connect(
                host=server.host, port=server.port, user=server.user, password=server.password, dbname=self.dbname,
                connect_timeout=server.connect_timeout, connection_factory=psycopg2.extras.LogicalReplicationConnection,
                **pg_ssl_arguments(server.tls))
            cur = self.conn.cursor()
            cur.execute('CREATE_REPLICATION_SLOT %s LOGICAL %s EXPORT_SNAPSHOT' % (self.slot, PLUGIN))
            _name, self.lsn, self.snapshot, _plugin = cur.fetchone()
        except psycopg2.Error as exc:
            self.__exit__(None, None, None)
            raise DbError('Cannot create the replication slot %s for database %s on the %s: %s'
                          % (self.slot, self.dbname, server.describe(), str(exc).strip()))
        return self

    def __exit__(self, kind, exc, trace):
        if self.conn is not None:
            self.conn.close()
        return False


def list_slots(server, side, databases):
    """The slots of this collection's ``side`` ('src', 'tgt') for ``databases``: found by their names' prefix and
    their databases, with no record of the capture needed (a journal lost, a re-run from another controller)."""
    if server.engine != 'pgsql':
        return []
    rows = server.query('SELECT slot_name FROM pg_replication_slots WHERE starts_with(slot_name, %s) '
                        'AND database = ANY(%s) ORDER BY 1', ('%s%s_' % (SLOT_PREFIX, side), list(databases)))
    return [slot for (slot,) in rows]


def drop_slots(server, side, databases):
    """Drops every slot of ``list_slots``; returns their names."""
    return [slot for slot in list_slots(server, side, databases) if drop_slot(server, slot)]


def drop_all_slots(source, target, databases, names, check_mode):
    """({'source': [slots dropped], 'target': [...]}, {side: what could not be dropped and how to drop it later}).
    Each server on its own: a server that cannot be reached (the new one that failed) keeps its slots, and the
    others are dropped all the same. In check mode: the slots there are, dropped nowhere."""
    dropped, left = {'source': [], 'target': []}, {}
    for side, server, key, dbnames in (('source', source, 'src', list(databases)),
                                       ('target', target, 'tgt', [names[d] for d in databases])):
        try:
            dropped[side] = (list_slots if check_mode else drop_slots)(server, key, dbnames)
        except DbError as exc:
            left[side] = ('%s. Once it is back: SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots '
                          "WHERE starts_with(slot_name, '%s%s_') AND database IN (%s)" % (
                              exc, SLOT_PREFIX, key, ', '.join("'%s'" % d.replace("'", "''") for d in dbnames)))
    return dropped, left


def problems(server, slots_needed, binlog=None, source=True):
    """Why ``server`` cannot capture changes (with what to do), or []. ``binlog``: a BinlogReader (MySQL);
    ``source``: whether it is the source (the target's log needs no snapshot position)."""
    if server.engine == 'mysql':
        return binlog_problems(server, binlog, source)
    found = []
    level = server.query('SHOW wal_level')[0][0]
    if level != 'logical':
        found.append('wal_level is %s on the %s: set wal_level = logical (postgresql.conf; a restart)'
                     % (level, server.describe()))
    allowed = server.query('SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user')[0][0]
    if not allowed:
        found.append('%s may not create replication slots: ALTER ROLE %s REPLICATION (on RDS: GRANT rds_replication '
                     'TO %s)' % (server.user, server.user, server.user))
    limit = int(server.query('SHOW max_replication_slots')[0][0])
    # This collection's own slots (an earlier run's) are dropped before new ones are made.
    used = int(server.query('SELECT count(*) FROM pg_replication_slots WHERE NOT starts_with(slot_name, %s)',
                            (SLOT_PREFIX,))[0][0])
    free = max(limit - used, 0)
    if free < slots_needed:
        found.append('the %s has %d replication slots free (max_replication_slots %d) and the capture needs %d: raise '
                     'max_replication_slots (a restart)' % (server.describe(), free, limit, slots_needed))
    return found


# The end of the last WAL record written: the insert position, less the header of a page that no record has
# reached yet (24 bytes, 40 on a segment's first page). A record that ends where a page ends leaves the insert
# position past the next page's header, which is flushed only once something else is written.
LAST_RECORD_END = ("SELECT (i - CASE WHEN p % s = 40 THEN 40 WHEN p % b = 24 THEN 24 ELSE 0 END)::text FROM "
                   "(SELECT i, i - '0/0'::pg_lsn AS p, current_setting('wal_block_size')::numeric AS b, "
                   "pg_size_bytes(current_setting('wal_segment_size')) AS s "
                   "FROM (SELECT pg_current_wal_insert_lsn() AS i) now) positions")


def flushed_lsn(server, dbname):
    """The end of the server's WAL now, once it is flushed: every transaction committed before this call is
    decodable up to it (an asynchronous commit is visible before its WAL is on disk)."""
    lsn = server.query(LAST_RECORD_END, dbname=dbname)[0][0]
    deadline = time.time() + FLUSH_SECONDS
    while not server.query('SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn', (lsn,), dbname=dbname)[0][0]:
        if time.time() > deadline:
            raise DbError('The %s did not flush its WAL to %s within %d s' % (server.describe(), lsn, FLUSH_SECONDS))
        time.sleep(0.05)
    return lsn


# what the decoding says -------------------------------------------------------------------------------------
def _quoted(text, pos, quote):
    """(value, position after it) of a token at ``pos`` in ``quote`` marks, the mark doubled inside."""
    out, pos = [], pos + 1
    while True:
        end = text.index(quote, pos)
        out.append(text[pos:end])
        if not text.startswith(quote, end + 1):
            return ''.join(out), end + 1
        out.append(quote)
        pos = end + 2


def _identifier(text, pos):
    """(name, position after it) of an identifier as quote_identifier writes it."""
    if text.startswith('"', pos):
        return _quoted(text, pos, '"')
    end = pos
    while end < len(text) and text[end] not in '.[:, ':
        end += 1
    return text[pos:end], end


def _table(text, pos):
    schema, pos = _identifier(text, pos)
    if not text.startswith('.', pos):
        raise ValueError('no schema-qualified table at %d' % pos)
    name, pos = _identifier(text, pos + 1)
    return (schema, name), pos


def parse_tuple(text, pos=0, stop=None):
    """({column: value as text, or None for NULL}, end) of test_decoding's ``name[type]:value ...`` from ``pos``
    to the end, or to the word ``stop`` where a column would begin (never inside a quoted value). A value
    test_decoding leaves out (an unchanged TOASTed one) is missing."""
    values = {}
    while pos < len(text):
        if stop and text.startswith(stop, pos):
            return values, pos + len(stop)
        name, pos = _identifier(text, pos)
        if not text.startswith('[', pos):
            raise ValueError('no type after column %s' % name)
        pos = text.index(']:', pos) + 2  # a type's name may hold [] (arrays), never ']:'
        if text.startswith("'", pos):
            values[name], pos = _quoted(text, pos, "'")
        else:
            end = text.find(' ', pos)
            end = len(text) if end < 0 else end
            raw = text[pos:end]
            pos = end
            if raw == 'null':
                values[name] = None
            elif raw != 'unchanged-toast-datum':
                values[name] = raw
        while text.startswith(' ', pos):
            pos += 1
    if stop:
        raise ValueError('no %r in the decoded change' % stop)
    return values, pos


def parse_change(data):
    """One line of test_decoding: None (BEGIN, COMMIT, a message), ('TRUNCATE', [tables]) or
    (operation, table, [tuples]) where each tuple is a {column: value} or None for '(no-tuple-data)'."""
    if not data.startswith('table '):
        return None
    pos, tables = 6, []
    while True:
        table, pos = _table(data, pos)
        tables.append(table)
        if data.startswith(', ', pos):
            pos += 2
            continue
        break
    if not data.startswith(': ', pos):
        raise ValueError('no operation after the table')
    end = data.index(':', pos + 2)
    operation, pos = data[pos + 2:end], end + 2
    if operation == 'TRUNCATE':
        return 'TRUNCATE', tables
    if data.startswith('(no-tuple-data)', pos):
        return operation, tables[0], [None]
    if data.startswith('old-key: ', pos):
        old, pos = parse_tuple(data, pos + len('old-key: '), stop='new-tuple: ')
        return operation, tables[0], [old, parse_tuple(data, pos)[0]]
    return operation, tables[0], [parse_tuple(data, pos)[0]]


def collect(lines, server, primary_keys):
    """Changes from test_decoding lines; ``primary_keys``: {label: [key columns]} of the database's tables."""
    changes = Changes()
    for data in lines:
        change = parse_change(data)
        if change is None:
            continue
        if change[0] == 'TRUNCATE':
            for schema, name in change[1]:
                changes.table_whole(server.label(schema, name), 'it was truncated')
            continue
        operation, (schema, name), tuples = change
        label = server.label(schema, name)
        columns = primary_keys.get(label)
        if not columns:
            changes.table_whole(label, 'it has no primary key' if label in primary_keys else
                                'it is not a table of the database as captured')
            continue
        if any(values is None or any(column not in values for column in columns) for values in tuples):
            changes.table_whole(label, 'a %s was decoded without its primary key (REPLICA IDENTITY)' % operation)
            continue
        changes.row(label, [tuple(values[column] for column in columns) for values in tuples])
    return changes


def decoded(server, dbname, slot, upto, primary_keys):
    """The changes ``slot`` holds up to ``upto``, read without consuming them (a re-run reads them again), in
    batches: only the keys stay in memory."""
    conn = server.connection(dbname)
    conn.autocommit = False  # a cursor on the server, fetched in batches, needs a transaction
    try:
        with conn.cursor('wabiz_decoded') as cur:
            cur.itersize = FETCH
            cur.execute("SELECT data FROM pg_logical_slot_peek_changes(%s, %s::pg_lsn, NULL, 'skip-empty-xacts', "
                        "'1', 'include-xids', '0')", (slot, upto))
            return collect((row[0] for row in cur), server, primary_keys)
    except psycopg2.Error as exc:
        raise DbError('Cannot read the changes of slot %s (database %s) on the %s: %s'
                      % (slot, dbname, server.describe(), str(exc).strip()))
    finally:
        try:
            conn.rollback()
            conn.autocommit = True
        except psycopg2.Error:
            server.close()


def table_identities(server, dbname):
    """{label: identity} of the database's tables: what moves when a table's rows change without a row change
    being logged. Decoding and the binary log follow rows, not storage: a table rewritten (ALTER ... TYPE ...
    USING, SET UNLOGGED and back, VACUUM FULL), truncated, dropped and created again, or altered in a way that logs
    nothing (REPLICA IDENTITY set and set back) gets another identity, so the capture does not take the log's word
    for it. PostgreSQL: [oid, relfilenode, xmin of its catalog row] (an in-place update of that row by ANALYZE or
    VACUUM leaves xmin as it was); MariaDB: InnoDB's table ids (a TRUNCATE, a rebuild or a new table get new ones,
    logged or not)."""
    if server.engine == 'mysql':
        return innodb_table_ids(server.query, dbname)
    rows = server.query("SELECT n.nspname, c.relname, c.oid::bigint, c.relfilenode::bigint, c.xmin::text "
                        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
                        "AND n.nspname NOT IN " + PG_EXCLUDED_SCHEMAS, dbname=dbname)
    return dict((server.label(schema, name), [oid, filenode, xmin]) for schema, name, oid, filenode, xmin in rows)


def innodb_name(name):
    """A database or table name as InnoDB's dictionary spells it (MariaDB's file name encoding, exact for ASCII:
    another spelling only makes a table's identity read as moved, and the table compared in full)."""
    return ''.join(c if c.isascii() and (c.isalnum() or c == '_') else '@%04x' % ord(c) for c in name)


def innodb_table_ids(query, dbname):
    """MariaDB: {table: [InnoDB table ids, one per partition]} of a database; ``query(sql, params)`` returns rows."""
    prefix = innodb_name(dbname).replace('\\', '\\\\').replace('_', '\\_').replace('%', '\\%') + '/%'
    ids = {}
    for name, table_id in query('SELECT name, table_id FROM information_schema.innodb_sys_tables WHERE name LIKE %s',
                                (prefix,)):
        table = re.sub(r'@([0-9a-f]{4})', lambda found: chr(int(found.group(1), 16)),
                       name.split('/', 1)[1].split('#P#')[0])
        ids.setdefault(table, []).append(int(table_id))
    return dict((table, sorted(found)) for table, found in ids.items())


def fingerprint_digest(fingerprint):
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode('utf-8')).hexdigest()


# ahead of the downtime, and in it ------------------------------------------------------------------------
def _shape(server, dbname):
    fingerprint, tables = database_shape(server, dbname)
    for table in tables.values():
        table.digest_columns = server.digest_columns(dbname, table.schema, table.name)
    return fingerprint, tables


def capture_database(source, target, dbname, target_db, identities, spill):
    """Start following one database: the copy compared (and mended) at one moment of the source, from which on
    the changes on both servers are known. Returns ('captured', record) or ('not captured', reason); a database
    not captured has no slot left. ``identities``: {'source': ..., 'target': ...} of the two servers; ``spill``:
    how the rows of differing buckets are held (``_dbsync.Spill``)."""
    if target_db not in target.databases():
        return 'not captured', 'missing on the target'
    if source.engine == 'mysql':
        return _capture_in_binlog(source, target, dbname, target_db, spill)
    return _capture_in_slots(source, target, dbname, target_db, identities, spill)


def _capture_in_binlog(source, target, dbname, target_db, spill):
    """MariaDB: the target's binary log position first (every later write to the copy is in its log after it),
    then a consistent snapshot of the source and its binary log position, the copy compared at the snapshot."""
    target_at = position(target)
    # The identities are read before the snapshot: one that moves between the two only costs a comparison in full.
    at, accounting = counted_snapshot(source, dbname, lambda query: innodb_table_ids(query, dbname))
    source_at = accounting['binlog']
    source_ids = accounting.pop('before')
    fingerprint, record, problem, _identities = _compare_at(at, target, dbname, target_db, spill)
    if problem:
        return 'not captured', problem
    return 'captured', dict(source_binlog=source_at, target_binlog=target_at, target=target_db,
                            moment='%s:%d' % (source_at['file'], source_at['position']),
                            schema=fingerprint_digest(fingerprint), tables=record, accounting=accounting,
                            identities={'source': source_ids, 'target': table_identities(target, target_db)})


def _capture_in_slots(source, target, dbname, target_db, identities, spill):
    """PostgreSQL: a slot on the target first, then one on the source with an exported snapshot, the copy
    compared at the snapshot."""
    slots = {'source_slot': slot_name('src', identities['target'], dbname),
             'target_slot': slot_name('tgt', identities['source'], target_db)}
    # An earlier run's (it died, or its journal was lost): this one starts over from a new moment, and says so.
    orphans = [slot for server, slot in ((source, slots['source_slot']), (target, slots['target_slot']))
               if drop_slot(server, slot)]

    def release(reason):
        drop_slot(source, slots['source_slot'])
        drop_slot(target, slots['target_slot'])
        return 'not captured', reason

    try:
        # First the target's slot: every write to the copy from before it is read on is decoded.
        target_lsn = create_slot(target, target_db, slots['target_slot'])
        with ExportedSlot(source, dbname, slots['source_slot']) as exported:
            fingerprint, record, problem, identities = _compare_at(
                source.sibling(session=PG_SESSION, snapshot=exported.snapshot), target, dbname, target_db, spill)
            source_lsn = exported.lsn
    except Exception:
        try:
            release(None)
        except DbError:
            pass  # the server that failed cannot drop it now: the next run, or the rollback, does
        raise
    if problem:
        return release(problem)
    return 'captured', dict(slots, source_lsn=source_lsn, target_lsn=target_lsn, target=target_db, moment=source_lsn,
                            schema=fingerprint_digest(fingerprint), tables=record, identities=identities,
                            orphans_dropped=orphans)


def _compare_at(at, target, dbname, target_db, spill):
    """(fingerprint, {label: table record}, problem, identities) of the database compared (and mended) at the
    snapshot ``at`` reads; identities: on PostgreSQL the tables' ``table_identities`` on both sides, {'source':
    at the snapshot, 'target': once mended}, else None."""
    try:
        fingerprint, tables = _shape(at, dbname)
        identities = None
        if at.engine == 'pgsql':
            identities = {'source': table_identities(at, dbname)}
        if fingerprint != database_shape(target, target_db)[0]:
            return fingerprint, None, 'its schema differs on the two servers', None
        record = {}
        for label, table in sorted(tables.items()):
            record[label], problem = _capture_table(at, target, dbname, table, target_db, spill)
            if problem:
                return fingerprint, None, 'table %s %s' % (label, problem), None
        if identities is not None:
            identities['target'] = table_identities(target, target_db)
        return fingerprint, record, None, identities
    finally:
        at.close()


def _capture_table(at, target, dbname, table, target_db, spill):
    """({rows, sum, mended}, problem) of one table: the source's sums at the snapshot ``at`` reads, and the rows
    mended on the target to equal them, with their digests at that moment (None: no such row then).

    However much changed since the copy ahead, it is mended by rows here, ahead of the downtime (a busy table's
    rows churn during a long copy ahead)."""
    want, have = table_sums(at, target, dbname, table, target_db)
    entry = {'rows': sum(count for count, total in want.values()),
             'sum': str(sum(total for count, total in want.values())), 'mended': []}
    if want == have:
        return entry, None
    if not table.rows_copyable:
        return entry, 'differs and cannot be mended row by row (%s)' % table.not_copyable
    differing = set(b for b in set(want) | set(have) if want.get(b) != have.get(b))
    stale, wanted = differing_rows(at, target, dbname, table, differing, (want, have), spill, target_db, as_text=True)
    copy_rows(at, target, dbname, table, stale, list(wanted), target_db,
              condition=lambda server, keys: key_condition(server, table, keys))
    # With each key the row changes the mend itself logs on the target (a delete, an insert, or both): the sync
    # leaves a key alone whose logged changes on the target are exactly these.
    deleted = set(stale)
    mended = [[list(key), wanted.get(key), (key in deleted) + (key in wanted)] for key in deleted | set(wanted)]
    if bucket_sums(target, target_db, table, differing) != dict((b, want[b]) for b in differing if b in want):
        return entry, 'did not verify after its rows were mended'
    entry['mended'] = sorted(mended)
    return entry, None


def catch_up(source, target, dbname, target_db, record, binlog):
    """MariaDB, ahead of the downtime: one pass that moves a captured database's moment to now. Capturing a large
    database takes a while, and what the old client wrote meanwhile would otherwise be the downtime's work.

    The target's binary log position is read first, then a new consistent snapshot of the source and its position.
    The keys the source logged since the recorded moment, and those the target logged since its recorded position
    (where only the capture's own mends may be), are compared at the new snapshot and mended, and the recorded
    sums are moved by those rows' digests then and now: the target held the source as of the recorded moment, so
    its digests before the mend are the source's then.

    Returns (record of the new moment, number of keys compared), or (the record as it was, why it stays). The
    record as it was stays true whatever this pass wrote: the sync reads any mend of it as a write on the target."""
    target_at = position(target)
    at = source.sibling(snapshot=True)
    try:
        source_at = snapshot_position(at)
        fingerprint, tables = _shape(at, dbname)
        if fingerprint_digest(fingerprint) != record['schema'] or database_shape(target, target_db)[0] != fingerprint:
            return record, 'its schema changed since the capture'
        found = _changes(source, target, dbname, target_db, record, tables, binlog)
        reason = _untraceable(found, record, tables)
        if reason:
            return record, reason
        moved, compared = {}, 0
        for label, table in sorted(tables.items()):
            base = record['tables'][label]
            # The target logged only the capture's own mends (``_untraceable``): those rows held the source's
            # then, so only what the source changed is compared.
            changed = found['source'].keys.get(label, set())
            if len(changed) > max(base['rows'], BUCKETS) // 4:
                return record, '%d of the %d rows of table %s changed' % (len(changed), base['rows'], label)
            moved[label] = {'rows': base['rows'], 'sum': base['sum'], 'mended': []}
            if not changed:
                continue
            if not table.rows_copyable:
                return record, 'table %s changed and cannot be mended row by row (%s)' % (label, table.not_copyable)
            now, before, synced = sync_keys(at, target, dbname, table, changed, target_db)
            if not synced['verified']:
                return record, 'table %s did not verify after its rows were mended' % label
            stale, wanted = differing_keys(now, before)
            rows, total = _sums_moved(base, now, before, {})
            moved[label] = {'rows': rows, 'sum': str(total), 'mended': sorted(
                [list(key), now.get(key), (key in stale) + (key in wanted)] for key in set(stale) | set(wanted))}
            compared += len(changed)
        # The target's digests before the mend stood for the source's then only if nobody else wrote it meanwhile:
        # its log since the recorded position must hold exactly the capture's mends and this pass's.
        if compared and _not_only_mends(binlog.changes(target, target_db, record['target_binlog'], tables, source=False),
                                        tables, record['tables'], moved):
            return record, 'the target was written during the catch-up'
    finally:
        at.close()
    return dict(record, source_binlog=source_at, target_binlog=target_at, tables=moved,
                moment='%s:%d' % (source_at['file'], source_at['position'])), compared


def caught_up(source, target, dbname, target_db, record, binlog):
    """The record moved as close to now as a few ``catch_up`` passes bring it, with what each pass compared (or why
    the last one left it as it was) under 'caught_up'."""
    passes = []
    for dummy in range(CATCH_UP_PASSES):
        record, outcome = catch_up(source, target, dbname, target_db, record, binlog)
        passes.append(outcome)
        if not isinstance(outcome, int) or outcome <= CATCH_UP_ENOUGH:
            break
    return dict(record, caught_up=passes)


def _untraceable(found, record, tables):
    """Why the changes ``found`` since a capture cannot be followed row by row ahead of the downtime, or None: what
    the sync would compare in full, or a write on the target by anyone but the capture."""
    return (_unfollowed('source', found['source'])
            or _not_only_mends(found['target'], tables, record['tables']))


def _unfollowed(side, changes):
    """Why ``changes`` of one side cannot be followed row by row, or None."""
    if changes.everything:
        return 'on the %s, %s' % (side, changes.everything)
    whole = sorted(changes.whole.items())
    return 'on the %s, table %s %s' % ((side,) + whole[0]) if whole else None


def _not_only_mends(target_changes, tables, *mends):
    """Why the target's logged changes are not exactly the mends recorded in ``mends`` ({label: {mended}} each),
    or None. A key the mends wrote is logged exactly as often as they changed it, unless someone else wrote it."""
    unfollowed = _unfollowed('target', target_changes)
    if unfollowed:
        return unfollowed
    for label in sorted(tables):
        expected = _mend_counts(*(recorded[label]['mended'] for recorded in mends))
        if any(expected.get(key) != count for key, count in target_changes.events.get(label, {}).items()):
            return 'table %s was written on the target' % label
    return None


def read_capture(path, source, target):
    """The manifest of a ``db_capture`` made between these two servers."""
    capture = read_manifest(os.path.dirname(path), os.path.basename(path))
    if capture.get('kind') != 'capture' or (capture.get('source'), capture.get('target')) != (
            source.identity(), target.identity()):
        raise ToolError('%s is not a capture of changes from the %s into the %s' % (
            path, source.describe(), target.describe()))
    return capture


def capture_problem(source, target, record):
    """Why what followed a captured database cannot be trusted, or None: its slots gone, lost or read by someone
    (PostgreSQL), its binary log positions purged or reset (MariaDB)."""
    if source.engine == 'mysql':
        return position_problem(source, record['source_binlog']) or position_problem(target, record['target_binlog'])
    for server, slot, lsn in ((source, record['source_slot'], record['source_lsn']),
                              (target, record['target_slot'], record['target_lsn'])):
        state = slot_state(server, slot)
        if state is None:
            return 'its replication slot %s is gone from the %s' % (slot, server.describe())
        if state['wal_status'] == 'lost':
            return 'its replication slot %s on the %s lost WAL it needed (max_slot_wal_keep_size)' % (
                slot, server.describe())
        if state['lsn'] != lsn:
            return 'its replication slot %s on the %s was read by another consumer (at %s, captured at %s)' % (
                slot, server.describe(), state['lsn'], lsn)
    return None


def _changes(source, target, dbname, target_db, record, tables, binlog, accounted=False):
    """{'source': Changes, 'target': Changes} since the capture, read on both servers at once; ``accounted`` (in
    the downtime, MariaDB): also 'unaccounted' and 'unaccounted tables' (``BinlogReader.accounted_changes``)."""
    if source.engine == 'mysql':
        def read_source():
            if accounted:
                return binlog.accounted_changes(source, dbname, record.get('accounting'), record['source_binlog'],
                                                tables)
            return None, {}, binlog.changes(source, dbname, record['source_binlog'], tables)
        found = parallel(2, {
            'source': read_source,
            'target': lambda: binlog.changes(target, target_db, record['target_binlog'], tables, source=False)})
        why, tables_why, changes = found['source']
        return {'source': changes, 'target': found['target'], 'unaccounted': why, 'unaccounted tables': tables_why}
    primary_keys = dict((label, table.primary_key) for label, table in tables.items())
    return parallel(2, {
        'source': lambda: decoded(source, dbname, record['source_slot'], flushed_lsn(source, dbname), primary_keys),
        'target': lambda: decoded(target, target_db, record['target_slot'], flushed_lsn(target, target_db),
                                  primary_keys)})


def sync_captured(source, target, dbname, target_db, record, spill, binlog=None):
    """Bring one captured database up to date from the rows changed since the capture, and verify it.
    ``spill``: how the rows of differing buckets are held (``_dbsync.Spill``); ``binlog``: the BinlogReader (MySQL).

    Returns ('rows', {'tables': {label: {rows, checksum}}, 'synced', 'counters', 'decoded', 'compared_in_full'}),
    ('whole', reason) as ``db_sync``'s per-database sync does, or ('full', reason): the capture cannot be trusted
    and the database is to be compared in full."""
    problem = capture_problem(source, target, record)
    if problem:
        return 'full', problem
    fingerprint, tables = _shape(source, dbname)
    if fingerprint_digest(fingerprint) != record['schema']:
        return 'whole', 'its schema changed on the source since the capture'
    if database_shape(target, target_db)[0] != fingerprint:
        return 'whole', 'its schema differs from the source'
    found = _changes(source, target, dbname, target_db, record, tables, binlog, accounted=True)
    if found.get('unaccounted'):
        return 'full', found['unaccounted']
    unaccounted = found.get('unaccounted tables', {})
    for side in ('source', 'target'):
        if found[side].everything:
            return 'full', 'on the %s, %s' % (side, found[side].everything)
    result = {'tables': {}, 'synced': {}, 'compared_in_full': {},
              'decoded': {'source': found['source'].count, 'target': found['target'].count}}
    moved = _identities_moved(source, target, dbname, target_db, record)
    for label, table in sorted(tables.items()):
        base = record['tables'][label]
        written = found['target'].keys.get(label, set())
        changed = found['source'].keys.get(label, set()) | (written - _own_mends(base, found['target'], label))
        full = (found['source'].whole.get(label) or found['target'].whole.get(label)
                or ('it is unlogged' if table.unlogged else None)
                or moved.get(label) or unaccounted.get(label)
                or ('its updates do not log the old key (REPLICA IDENTITY %s)' % REPLICA_IDENTITIES.get(
                    table.replica_identity, table.replica_identity) if changed and table.replica_identity not in 'df'
                    else None)
                or ('%d of its %d rows changed' % (len(changed), base['rows'])
                    if len(changed) > max(base['rows'], BUCKETS) // 4 else None))
        if changed and not full and not table.rows_copyable:
            # Repeating its changes by rows on the target would fire what the source's own writes fired already
            # (cascades, triggers) or write what the server computes: copied whole, as without capture.
            return 'whole', 'table %s changed and cannot be mended row by row (%s)' % (label, table.not_copyable)
        if full:
            outcome = _sync_table_in_full(source, target, dbname, table, target_db, spill)
            if isinstance(outcome, str):
                return 'whole', 'table %s %s' % (label, outcome)
            result['tables'][label], synced = outcome
            result['compared_in_full'][label] = full
        elif changed:
            now, before, synced = sync_keys(source, target, dbname, table, changed, target_db)
            if not synced.pop('verified'):
                return 'whole', 'table %s did not verify after its rows were copied' % label
            result['tables'][label] = _checksum_since(source, dbname, table, base, now, before, written)
        else:
            result['tables'][label] = {'rows': base['rows'], 'checksum': checksum_of(base['rows'], int(base['sum']))}
            synced = None
        if synced and (synced['copied'] or synced['deleted']):
            result['synced'][label] = synced
    result['counters'] = sync_counters(source, target, dbname, target_db)
    if counters(source, dbname) != counters(target, target_db):
        return 'whole', 'its sequences could not be set'
    return 'rows', result


REPLICA_IDENTITIES = {'n': 'NOTHING', 'i': 'USING INDEX'}


def _identities_moved(source, target, dbname, target_db, record):
    """{label: why} of the tables whose identity (``table_identities``) changed on either server since the
    capture; every table when the capture recorded none."""
    recorded = record.get('identities') or {}
    moved = {}
    for side, server, db in (('source', source, dbname), ('target', target, target_db)):
        then = recorded.get(side) or {}
        for label, now in table_identities(server, db).items():
            if then.get(label) != now and label not in moved:
                moved[label] = 'it was rewritten, recreated or altered on the %s since the capture' % side
    return moved


def _sync_table_in_full(source, target, dbname, table, target_db, spill):
    """({rows, checksum}, synced) of a table compared in full as without capture, or why it cannot be mended."""
    want, have = table_sums(source, target, dbname, table, target_db)
    checksum, rows = table_checksum(want)
    synced = None
    if want != have:
        if not table.rows_copyable:
            return 'differs and cannot be mended row by row'
        synced = sync_rows(source, target, dbname, table, want, have, spill, target_db)
        if synced is None:
            return 'changed in more than %d of its %d row groups' % (MAX_DIFFERING_BUCKETS, BUCKETS)
        if not synced.pop('verified'):
            return 'did not verify after its rows were copied'
    return {'rows': rows, 'checksum': checksum}, synced


def _mend_counts(*mended_lists):
    """{key: the row changes its mends logged on the target}, over the 'mended' entries of one or more records."""
    counts = {}
    for mended in mended_lists:
        for entry in mended:
            if len(entry) > 2:
                counts[tuple(entry[0])] = counts.get(tuple(entry[0]), 0) + entry[2]
    return counts


def _own_mends(base, target_changes, label):
    """The keys the target logged only the capture's own mend of: each was left equal to the source at the
    capture's moment, and a write by anyone else would have logged one change more."""
    expected = _mend_counts(base['mended'])
    logged = target_changes.events.get(label, {})
    return set(key for key, count in expected.items() if logged.get(key) == count)


def _checksum_since(source, dbname, table, base, now, before, written_on_target):
    """The source table's {rows, checksum} now: its sums at the capture, less the digests then of the rows read
    by their changed keys, plus their digests now. A row's digest at the capture is the one recorded when the
    capture mended it, else the target's before this sync (the copy equalled the source then, and nothing but the
    capture wrote it since). A row written on the target by anyone else leaves it unknown: the source table is
    then read in full."""
    mended = dict((tuple(entry[0]), entry[1]) for entry in base['mended'])
    if written_on_target - set(mended):
        checksum, rows = source.checksum(dbname, table.schema, table.name)
        return {'rows': rows, 'checksum': checksum}
    rows, total = _sums_moved(base, now, before, mended)
    return {'rows': rows, 'checksum': checksum_of(rows, total)}


def _sums_moved(base, now, before, then_digests):
    """(rows, digest sum) of a table from its recorded ones, the changed rows' digests then taken out and their
    digests now put in. A row's digest then is in ``then_digests`` or else ``before`` (the target's). The rows
    counted are those the keys found (``now``: the source's, ``before``: the target's), so a key read back in
    another spelling of the same row counts once."""
    rows, total = base['rows'], int(base['sum'])
    for key in set(now) | set(before):
        then = then_digests[key] if key in then_digests else before.get(key)
        rows += (now.get(key) is not None) - (then is not None)
        total += (now.get(key) or 0) - (then or 0)
    return rows, total
