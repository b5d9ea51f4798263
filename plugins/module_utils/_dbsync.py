# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bring a copy of databases up to date with their source: find the rows that differ, copy only those.

Private to the collection. A migration copies the databases while the old client still serves (the copy
ahead), then, with the old client stopped, brings the copy up to date here.

The invariant, which ``db_sync`` keeps for every table of every database it is given, before the new client
may start: the table's rows on the target have been compared with the source's by the strong row digest of
``_db.row_digest`` (row counts and digest sums of ``BUCKETS`` groups of rows), and every group in which the
sync deleted or copied rows has been compared again after its last write. A database copied whole with the
dump tools is compared table by table afterwards with the same digest (``Server.checksum``). The source does
not change meanwhile: ``_fence.WriteFence`` proves it from before the first read to after the last comparison.

A table takes the row path when it has a primary key and nothing that would make inserting rows differ from
restoring them: no triggers, no foreign keys (either way), no generated columns. Its rows are grouped into
``BUCKETS`` buckets by primary key; only the buckets whose count or digest sum differ are read row by row.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io
import os
import pickle
import shutil
import tempfile

from ansible_collections.wabiz.migration.plugins.module_utils._db import DbError, checksum_of, row_digest
from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import ToolError, parallel

BUCKETS = 4096
# More differing buckets than this and the table changed too much for rows to be cheaper than a copy.
MAX_DIFFERING_BUCKETS = BUCKETS // 4
# Up to this many rows of the differing buckets (both servers together) are compared in memory at a time (a few
# tens of MB); more are split into ranges of buckets through files (Spill).
IN_MEMORY_ROWS = 200000
SPILL_RANGES = 128
SPILL_BATCH = 256
BATCH = 500

PG_EXCLUDED_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')"
# Settings of the sync's own PostgreSQL sessions. The planner takes every row for a group of its own (it cannot
# know that the buckets are 4096) and would sort whole rows before grouping; a hash aggregate reads the table
# once, in the time of a plain sum. JIT compilation costs more than it saves on a few scans. The sync reads
# both servers and two databases at once already: parallel workers on top only contend for the same cores.
PG_SESSION = ('SET enable_sort = off', 'SET jit = off', 'SET max_parallel_workers_per_gather = 0')

# The schema as comparable data: definitions, not only names (a routine's body, a trigger's statement, a
# constraint's clause, a key's actions), so that a definition changed under the same name is a change.
MYSQL_SHAPE = {
    'columns': ("SELECT c.table_name, c.column_name, c.ordinal_position, c.column_type, c.is_nullable, "
                "c.column_default, c.extra, c.collation_name, c.generation_expression FROM information_schema.columns c "
                "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
                "WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE' ORDER BY c.table_name, c.ordinal_position"),
    'indexes': ("SELECT table_name, index_name, seq_in_index, column_name, non_unique FROM "
                "information_schema.statistics WHERE table_schema = %s ORDER BY table_name, index_name, seq_in_index"),
    'triggers': ("SELECT event_object_table, trigger_name, action_timing, event_manipulation, action_statement "
                 "FROM information_schema.triggers WHERE trigger_schema = %s ORDER BY 1, 2"),
    'foreign_keys': ("SELECT table_name, referenced_table_name, constraint_name, update_rule, delete_rule FROM "
                     "information_schema.referential_constraints WHERE constraint_schema = %s ORDER BY 1, 3"),
    'checks': ("SELECT constraint_name, check_clause FROM information_schema.check_constraints "
               "WHERE constraint_schema = %s ORDER BY 1, 2"),
    'views': "SELECT table_name, view_definition FROM information_schema.views WHERE table_schema = %s ORDER BY 1",
    'routines': ("SELECT routine_type, routine_name, routine_definition, security_type, sql_mode FROM "
                 "information_schema.routines WHERE routine_schema = %s ORDER BY 1, 2"),
    'sequences': ("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                  "AND table_type = 'SEQUENCE' ORDER BY 1"),
}

PG_SHAPE = {
    'columns': ("SELECT c.table_schema, c.table_name, c.column_name, c.ordinal_position, c.data_type, c.udt_name, "
                "c.is_nullable, c.column_default, c.is_generated, c.collation_name, c.character_maximum_length, "
                "c.numeric_precision, c.numeric_scale, c.generation_expression FROM information_schema.columns c "
                "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
                "WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN " + PG_EXCLUDED_SCHEMAS +
                " ORDER BY 1, 2, 4"),
    'indexes': ("SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes WHERE schemaname NOT IN "
                + PG_EXCLUDED_SCHEMAS + " ORDER BY 1, 2, 3"),
    'primary_keys': ("SELECT n.nspname, c.relname, a.attname, array_position(k.conkey, a.attnum), "
                     "format_type(a.atttypid, a.atttypmod) FROM pg_constraint k "
                     "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(k.conkey) "
                     "WHERE k.contype = 'p' ORDER BY 1, 2, 4"),
    'triggers': ("SELECT n.nspname, c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled "
                 "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                 "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal ORDER BY 1, 2, 3"),
    'foreign_keys': ("SELECT n.nspname, c.relname, rn.nspname, r.relname, k.conname FROM pg_constraint k "
                     "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace "
                     "WHERE k.contype = 'f' ORDER BY 1, 2, 5"),
    # Every constraint's definition (CHECK, keys with their actions, exclusions), by the table it is on.
    'constraints': ("SELECT n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid), k.convalidated "
                    "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN " + PG_EXCLUDED_SCHEMAS +
                    " ORDER BY 1, 2, 3, 4"),
    'views': ("SELECT schemaname, viewname, definition FROM pg_views WHERE schemaname NOT IN "
              + PG_EXCLUDED_SCHEMAS + " ORDER BY 1, 2"),
    # A routine's whole definition (an aggregate has none to print: its parts are enough).
    'routines': ("SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), "
                 "CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid) "
                 "ELSE p.prokind::text || ' ' || p.prosrc END FROM pg_proc p "
                 "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN " + PG_EXCLUDED_SCHEMAS +
                 " ORDER BY 1, 2, 3"),
    # Parameters only: a sequence's state moves with every insert and is compared (and set) by the sync.
    'sequences': ("SELECT schemaname, sequencename, data_type::text, start_value, min_value, max_value, "
                  "increment_by, cycle, cache_size FROM pg_sequences WHERE schemaname NOT IN "
                  + PG_EXCLUDED_SCHEMAS + " ORDER BY 1, 2"),
    # Persistence (an unlogged table is not in the WAL, so not decoded: change capture compares it in full) and
    # replica identity (what an update or delete logs of the old row).
    'persistence': ("SELECT n.nspname, c.relname, c.relpersistence, c.relreplident FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN " + PG_EXCLUDED_SCHEMAS + " ORDER BY 1, 2"),
    # Large objects live in a catalog, outside every table's rows: their number and a digest of their contents.
    'large_objects': ("SELECT count(*), md5(string_agg(m.oid::text || ':' || md5(lo_get(m.oid)), ',' "
                      "ORDER BY m.oid)) FROM pg_largeobject_metadata m"),
}


class Table(object):
    """A base table as the sync sees it: its columns in order, its primary key, whether rows may be copied."""

    def __init__(self, schema, name, label):
        self.schema = schema
        self.name = name
        self.label = label
        self.columns = []
        self.primary_key = []
        # The primary key columns' types, to read keys given as text: PostgreSQL's format_type, or MySQL's
        # mysql_key_kind. MySQL: key_positions, their ordinal positions (as a binary log row names them).
        self.key_types = []
        self.key_positions = []
        self.unlogged = False
        # PostgreSQL's relreplident: 'd' (the primary key) or 'f' (the whole row) log an update's old key.
        self.replica_identity = 'd'
        self.generated = False
        self.triggers = False
        self.foreign_keys = False
        self.digest_columns = []  # [(column, kind)] as _db.row_digest takes them

    @property
    def not_copyable(self):
        """Why inserting its rows would differ from restoring them, or '' (see the module's docstring)."""
        return ', '.join(why for why, found in (
            ('no primary key', not self.primary_key), ('generated columns', self.generated),
            ('triggers', self.triggers), ('foreign keys', self.foreign_keys)) if found)

    @property
    def rows_copyable(self):
        return not self.not_copyable


def mysql_generated(extra):
    """Whether information_schema.columns.EXTRA marks a generated column. MySQL 8 writes DEFAULT_GENERATED for
    a column with an expression as its default, which is an ordinary column."""
    words = (extra or '').upper().split()
    return bool(set(words) & {'VIRTUAL', 'STORED', 'PERSISTENT'})


MYSQL_INTEGERS = ('tinyint', 'smallint', 'mediumint', 'int', 'bigint')
MYSQL_BINARY = ('binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob')
MYSQL_TEXT = ('char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext')


def mysql_key_kind(column_type, collation):
    """How a MySQL key column's value is written as text: 'int', 'uint' (decimal), 'binary' (hex), 'text <charset>'
    (the value), or 'other' (the server's cast to text)."""
    words = column_type.lower().replace('(', ' ').split()
    if words[0] in MYSQL_INTEGERS:
        return 'uint' if 'unsigned' in words else 'int'
    if words[0] in MYSQL_BINARY:
        return 'binary'
    if words[0] in MYSQL_TEXT and collation:
        return 'text ' + collation.split('_')[0]
    return 'other'


def rows_as_lists(rows):
    return [[None if v is None else str(v) for v in row] for row in rows]


def database_shape(server, dbname):
    """(fingerprint, {label: Table}): the schema of a database as comparable data, and its tables."""
    mysql = server.engine == 'mysql'
    queries = MYSQL_SHAPE if mysql else PG_SHAPE
    found = {}
    for what, sql in queries.items():
        found[what] = server.query(sql, (dbname,)) if mysql else server.query(sql, dbname=dbname)
    tables = {}

    def table(schema, name):
        label = server.label(schema, name)
        if label not in tables:
            tables[label] = Table(schema, name, label)
        return tables[label]

    if mysql:
        kinds = {}
        for name, column, position, column_type, _nullable, _default, extra, collation, _expr in found['columns']:
            entry = table(None, name)
            entry.columns.append(column)
            entry.generated = entry.generated or mysql_generated(extra)
            kinds[name, column] = (int(position), mysql_key_kind(column_type, collation))
        for name, index, _seq, column, _non_unique in found['indexes']:
            if index == 'PRIMARY' and name in tables:
                tables[name].primary_key.append(column)
                tables[name].key_positions.append(kinds[name, column][0])
                tables[name].key_types.append(kinds[name, column][1])
        for name, _trigger, _timing, _event, _statement in found['triggers']:
            if name in tables:
                tables[name].triggers = True
        for name, referenced, _constraint, _on_update, _on_delete in found['foreign_keys']:
            for label in (name, referenced):
                if label in tables:
                    tables[label].foreign_keys = True
    else:
        for row in found['columns']:
            entry = table(row[0], row[1])
            entry.columns.append(row[2])
            entry.generated = entry.generated or row[8] == 'ALWAYS'
        for schema, name, column, _position, key_type in found['primary_keys']:
            label = server.label(schema, name)
            if label in tables:
                tables[label].primary_key.append(column)
                tables[label].key_types.append(key_type)
        for schema, name, persistence, identity in found['persistence']:
            label = server.label(schema, name)
            if label in tables:
                tables[label].unlogged = persistence == 'u'
                tables[label].replica_identity = identity
        for schema, name, _trigger, _definition, _enabled in found['triggers']:
            label = server.label(schema, name)
            if label in tables:
                tables[label].triggers = True
        for schema, name, ref_schema, ref_name, _constraint in found['foreign_keys']:
            for label in (server.label(schema, name), server.label(ref_schema, ref_name)):
                if label in tables:
                    tables[label].foreign_keys = True
    fingerprint = dict((what, rows_as_lists(rows)) for what, rows in found.items())
    return fingerprint, tables


# row digests and buckets ------------------------------------------------------------------------------
def expressions(server, table):
    """SQL for (bucket of a row, the row's digest, FROM clause). Rows go into buckets by primary key, so that a
    changed row stays in its bucket; a table without one by the row's digest. The digest is ``_db.row_digest``:
    the buckets only direct the work, the digest decides."""
    keys = ['t.' + server.quote(c) for c in table.primary_key]
    digest = row_digest(server.engine, table.digest_columns)
    name = server.table_name(None, table.schema, table.name) if server.engine == 'pgsql' else \
        server.quote(table.name)
    if server.engine == 'mysql':
        by_key = 'CRC32(%s)' % keys[0] if len(keys) == 1 else 'CRC32(CONCAT_WS(0x1f, %s))' % ', '.join(keys)
        return 'MOD(%s, %d)' % (by_key if keys else digest, BUCKETS), digest, '%s t' % name
    by_key = 'hashtext(%s::text)' % keys[0] if len(keys) == 1 else 'hashtext(ROW(%s)::text)' % ', '.join(keys)
    return '(%s & %d)' % (by_key if keys else digest, BUCKETS - 1), digest, '%s t' % name


def _only(bucket, buckets):
    """The WHERE clause that keeps ``buckets`` (None: every bucket)."""
    if buckets is None:
        return ''
    return ' WHERE %s IN (%s)' % (bucket, ', '.join(str(int(b)) for b in sorted(buckets)))


def bucket_sums(server, dbname, table, buckets=None):
    """{bucket: (rows, sum of the row digests)}, of every bucket or only of ``buckets``."""
    bucket, digest, source = expressions(server, table)
    sql = 'SELECT %s AS b, COUNT(*), SUM(%s) FROM %s%s GROUP BY 1' % (bucket, digest, source, _only(bucket, buckets))
    return dict((int(b), (int(count), int(total))) for b, count, total in server.query(sql, dbname=dbname))


def table_checksum(sums):
    """The table's checksum (as ``Server.checksum`` gives it) from its bucket sums, and its row count."""
    rows = sum(count for count, total in sums.values())
    return checksum_of(rows, sum(total for count, total in sums.values())), rows


def _key_columns(server, table):
    return ', '.join('t.' + server.quote(k) for k in table.primary_key)


def row_digests(server, dbname, table, buckets, as_text=False):
    """Yields (bucket, primary key tuple, row digest) for each row of ``buckets``, in the order the server reads
    them (a sort would cost the server more than the whole reading: MariaDB sorted 2 x 1.4 GB for 17 minutes).
    ``as_text``: keys as their output text."""
    bucket, digest, source = expressions(server, table)
    keys = key_text(server, table) if as_text else _key_columns(server, table)
    sql = 'SELECT %s, %s, %s FROM %s%s' % (bucket, keys, digest, source, _only(bucket, buckets))
    width = len(table.primary_key)
    # Parameters given (none) so that the driver reads key_text's %% as the % of format().
    params = () if as_text and server.engine == 'pgsql' else None
    for row in server.stream(sql, params, dbname=dbname):
        yield row[0], tuple(row[1:width + 1]), row[width + 1]


class Spill(object):
    """How ``differing_rows`` holds rows: at most ``rows`` rows of the differing buckets (both servers' together)
    in memory at a time; more are split by ranges of buckets into files of a private directory made under
    ``directory`` (a module's work directory: it has room for a dump of the database, and a row takes there
    its key and digest only), removed when the comparison ends."""

    def __init__(self, directory, rows=IN_MEMORY_ROWS):
        if rows < 1:
            raise ToolError('rows_in_memory must be at least 1, not %d' % rows)
        self.directory = directory
        self.rows = rows


def bucket_ranges(buckets, sums, rows):
    """{bucket: its range}: ``buckets`` in order, split into ranges of at most ``rows`` rows on both servers
    together by ``sums`` (the bucket sums of the source and of the target). A bucket with more rows is a range of
    its own. The limit grows where it would make more than SPILL_RANGES ranges, so that there are at most twice
    that many (each range and the next hold more than the limit), and as many files of each server."""
    counts = [(b, sum(side[b][0] for side in sums if b in side)) for b in sorted(buckets)]
    limit = max(rows, -(-sum(count for b, count in counts) // SPILL_RANGES))
    ranges, number, held = {}, 0, 0
    for bucket, count in counts:
        if held and held + count > limit:
            number, held = number + 1, 0
        ranges[bucket] = number
        held += count
    return ranges


def _spill(rows, ranges, directory, side):
    """Writes ``rows`` (bucket, key, digest) into one file per range, SPILL_BATCH (key, digest) pairs at a time
    (each file is opened for its batch only: the ranges of all databases worked on at once could pass the limit
    of open files); returns the files' paths by range. Pickles: the files are this process's own, in its private
    directory."""
    paths = [os.path.join(directory, '%s-%d' % (side, n)) for n in range(max(ranges.values()) + 1)]
    for path in paths:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    pending = [[] for dummy in paths]

    def write(number):
        with open(paths[number], 'ab') as handle:
            pickle.dump(pending[number], handle, pickle.HIGHEST_PROTOCOL)
        pending[number] = []

    for bucket, key, digest in rows:
        number = ranges[bucket]
        pending[number].append((key, digest))
        if len(pending[number]) >= SPILL_BATCH:
            write(number)
    for number, batch in enumerate(pending):
        if batch:
            write(number)
    return paths


def _unspill(path):
    """{key: digest} of one range's file."""
    held = {}
    with open(path, 'rb') as handle:
        while True:
            try:
                held.update(pickle.load(handle))
            except EOFError:
                return held


def differing_rows(source, target, dbname, table, buckets, sums, spill, target_db=None, as_text=False):
    """The rows of ``buckets`` that differ: (keys to delete on the target, {key to copy: its digest on the
    source}). Both servers are read at once, each once, unsorted. By ``sums`` (the bucket sums of the source and
    of the target) and ``spill`` (a Spill): the rows are compared whole in memory, or range by range through
    files, so that what stays in memory is the keys that differ and one range's rows, not the table."""
    ranges = bucket_ranges(buckets, sums, spill.rows)
    stale, wanted = [], {}

    def compare(source_rows, target_rows):
        delete, copy = differing_keys(source_rows, target_rows)
        stale.extend(delete)
        wanted.update((key, source_rows[key]) for key in copy)

    def rows_of(side):
        server, db = (source, dbname) if side == 'source' else (target, target_db or dbname)
        return row_digests(server, db, table, buckets, as_text)

    if len(set(ranges.values())) <= 1:
        held = parallel(2, dict((side, lambda side=side: dict((key, digest) for dummy, key, digest in rows_of(side)))
                                for side in ('source', 'target')))
        compare(held['source'], held['target'])
        return stale, wanted
    directory = tempfile.mkdtemp(prefix='rows-', dir=spill.directory)
    try:
        paths = parallel(2, dict((side, lambda side=side: _spill(rows_of(side), ranges, directory, side))
                                 for side in ('source', 'target')))
        for source_path, target_path in zip(paths['source'], paths['target']):
            compare(_unspill(source_path), _unspill(target_path))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return stale, wanted


def differing_keys(source, target):
    """(keys to delete on the target, keys to copy from the source) for two {key: row digest} maps."""
    stale = [k for k, h in target.items() if source.get(k) != h]
    wanted = [k for k, h in source.items() if target.get(k) != h]
    return stale, wanted


def _key_condition(server, table, count):
    keys = [server.quote(c) for c in table.primary_key]
    if len(keys) == 1:
        return '%s IN (%s)' % (keys[0], ', '.join(['%s'] * count))
    one = '(%s)' % ', '.join(['%s'] * len(keys))
    return '(%s) IN (%s)' % (', '.join(keys), ', '.join([one] * count))


def _flat(keys):
    return [v for key in keys for v in key]


def _batches(items):
    for start in range(0, len(items), BATCH):
        yield items[start:start + BATCH]


class RowsRefused(Exception):
    """The target refused a copied row (a duplicate key, a value out of range): the database is copied whole."""


def copy_rows(source, target, dbname, table, stale, wanted, target_db=None, condition=None):
    """Delete ``stale`` keys on the target, then copy the ``wanted`` rows from the source.

    ``target_db``: the database's name on the target where it differs (a client with another prefix).
    ``condition(server, keys)``: (SQL, parameters) that selects rows by ``keys``; by default keys are values as
    the driver returned them (``key_condition`` takes them as text)."""
    condition = condition or (lambda server, keys: (_key_condition(server, table, len(keys)), _flat(keys)))
    target_db = target_db or dbname
    name = source.table_name(dbname, table.schema, table.name)
    target_name = target.table_name(target_db, table.schema, table.name)
    columns = ', '.join(source.quote(c) for c in table.columns)
    # MySQL/MariaDB send FLOAT values as text of 6 digits (and so do their dump tools): read through DOUBLE,
    # they arrive exact.
    selected = ', '.join('CAST(%s AS DOUBLE)' % source.quote(c) if kind == 'double' else source.quote(c)
                         for c, kind in table.digest_columns) if source.engine == 'mysql' else columns
    for batch in _batches(stale):
        where, params = condition(target, batch)
        target.execute('DELETE FROM %s WHERE %s' % (target_name, where), params, dbname=target_db)
    for batch in _batches(wanted):
        where, params = condition(source, batch)
        select = 'SELECT %s FROM %s WHERE %s' % (selected, name, where)
        try:
            if source.engine == 'mysql':
                rows = source.query(select, params, dbname=dbname)
                if rows:
                    target.executemany('INSERT INTO %s (%s) VALUES (%s)' % (target_name, columns, ', '.join(
                        ['%s'] * len(table.columns))), rows, dbname=target_db)
            else:
                # COPY's text format carries every PostgreSQL type exactly; a batch is at most BATCH rows.
                buffer = io.BytesIO()
                source.copy_out('COPY (%s) TO STDOUT' % source.mogrify(select, params, dbname), buffer, dbname)
                buffer.seek(0)
                target.copy_in('COPY %s (%s) FROM STDIN' % (target_name, columns), buffer, target_db)
        except DbError as exc:
            if not (source.ping(dbname) and target.ping(target_db)):
                raise  # a server went away: the step fails, a re-run resumes
            raise RowsRefused(str(exc))


class Changes(object):
    """The rows a change capture read (a slot's decoding, a binary log): per label, each key and how many changes
    named it (a key: the primary key columns' values as ``key_text`` writes them), and {label: why the table must
    be compared in full}."""

    def __init__(self):
        self.events = {}  # {label: {key: how many changes named it}}
        self.whole = {}
        self.count = 0
        self.everything = None  # why every table of the database is to be compared in full

    @property
    def keys(self):
        return dict((label, set(counts)) for label, counts in self.events.items())

    def row(self, label, keys):
        """One row changed, known by ``keys`` (its old and new key, or the spellings a key may have been)."""
        counts = self.events.setdefault(label, {})
        for key in set(keys):
            counts[key] = counts.get(key, 0) + 1
        self.count += 1

    def table_whole(self, label, reason):
        self.whole.setdefault(label, reason)


# rows by key given as text (change capture) -------------------------------------------------------------
MYSQL_KEY_TEXT = {'int': 'CAST(%s AS CHAR)', 'uint': 'CAST(%s AS CHAR)', 'binary': 'HEX(%s)',
                  'other': 'CAST(%s AS CHAR)'}


def key_text(server, table):
    """SQL for the primary key columns as text: on PostgreSQL their types' output text, as logical decoding writes
    them; on MySQL as ``mysql_key_kind`` says (what the binary log reader makes of its rows)."""
    if server.engine == 'mysql':
        return ', '.join(MYSQL_KEY_TEXT.get(kind, '%s') % ('t.' + server.quote(c))
                         for c, kind in zip(table.primary_key, table.key_types))
    return ', '.join("format('%%%%s', t.%s)" % server.quote(c) for c in table.primary_key)


def _mysql_key_value(kind, text):
    """(SQL placeholder, parameter) of one key column given as ``key_text`` writes it."""
    if kind in ('int', 'uint'):
        return '%s', int(text)
    if kind == 'binary':
        return 'UNHEX(%s)', text
    return '%s', text


def key_condition(server, table, keys):
    """(SQL, parameters) selecting the rows whose primary key is one of ``keys`` (tuples of ``key_text``), through
    the key's index."""
    columns = [server.quote(c) for c in table.primary_key]
    if server.engine == 'mysql':
        rows, params = [], []
        for key in keys:
            pairs = [_mysql_key_value(kind, text) for kind, text in zip(table.key_types, key)]
            rows.append(', '.join(p[0] for p in pairs) if len(columns) == 1 else
                        '(%s)' % ', '.join(p[0] for p in pairs))
            params.extend(p[1] for p in pairs)
        target = columns[0] if len(columns) == 1 else '(%s)' % ', '.join(columns)
        return '%s IN (%s)' % (target, ', '.join(rows)), params
    if len(columns) == 1:
        return '%s = ANY(%%s::%s[])' % (columns[0], table.key_types[0]), [[k[0] for k in keys]]
    names = ['c%d' % i for i in range(len(columns))]
    sql = '(%s) IN (SELECT %s FROM unnest(%s) AS u(%s))' % (
        ', '.join(columns), ', '.join('u.%s::%s' % (n, kind) for n, kind in zip(names, table.key_types)),
        ', '.join(['%s::text[]'] * len(columns)), ', '.join(names))
    return sql, [[k[i] for k in keys] for i in range(len(columns))]


def keyed_digests(server, dbname, table, keys):
    """{key: row digest} of the rows whose key is one of ``keys`` (tuples of output text); a key without a row is
    left out."""
    keys = sorted(keys)
    digest = row_digest(server.engine, table.digest_columns)
    name = server.table_name(dbname, table.schema, table.name)
    width, out = len(table.primary_key), {}
    for start in range(0, len(keys), BATCH * 10):
        where, params = key_condition(server, table, keys[start:start + BATCH * 10])
        rows = server.query('SELECT %s, %s FROM %s t WHERE %s' % (key_text(server, table), digest, name, where),
                            params, dbname=dbname)
        out.update((tuple(row[:width]), int(row[width])) for row in rows)
    return out


def sync_keys(source, target, dbname, table, keys, target_db=None):
    """Compare the rows of ``keys`` by digest, copy those that differ, compare them again.

    Returns (digests of the source, digests of the target before, {'deleted', 'copied', 'verified'})."""
    target_db = target_db or dbname
    digests = parallel(2, {'source': lambda: keyed_digests(source, dbname, table, keys),
                           'target': lambda: keyed_digests(target, target_db, table, keys)})
    stale, wanted = differing_keys(digests['source'], digests['target'])
    copy_rows(source, target, dbname, table, stale, wanted, target_db,
              condition=lambda server, batch: key_condition(server, table, batch))
    verified = not (stale or wanted) or keyed_digests(target, target_db, table, keys) == digests['source']
    return digests['source'], digests['target'], {'deleted': len(stale), 'copied': len(wanted), 'verified': verified}


def table_sums(source, target, dbname, table, target_db=None):
    """({bucket: (rows, digest sum)} of the source, of the target), read on both servers at once."""
    sums = parallel(2, {'source': lambda: bucket_sums(source, dbname, table),
                        'target': lambda: bucket_sums(target, target_db or dbname, table)})
    return sums['source'], sums['target']


def sync_rows(source, target, dbname, table, want, have, spill, target_db=None):
    """Copy the rows of the buckets that differ, then compare those buckets again.

    Rows go into buckets by primary key, so the other buckets were not touched. After the copy the target's
    differing buckets are read again and must hold the source's row counts and digest sums (the source is
    still: the write fence proves it). Returns {'deleted': n, 'copied': n, 'verified': bool}, or None when too
    much differs for row copies to pay (the caller copies the database whole)."""
    differing = set(b for b in set(want) | set(have) if want.get(b) != have.get(b))
    if len(differing) > MAX_DIFFERING_BUCKETS:
        return None
    target_db = target_db or dbname
    stale, wanted = differing_rows(source, target, dbname, table, differing, (want, have), spill, target_db)
    copy_rows(source, target, dbname, table, stale, list(wanted), target_db)
    again = bucket_sums(target, target_db, table, differing)
    verified = again == dict((b, want[b]) for b in differing if b in want)
    return {'deleted': len(stale), 'copied': len(wanted), 'verified': verified}


# counters -------------------------------------------------------------------------------------------
def counters(server, dbname):
    """AUTO_INCREMENT values (MySQL/MariaDB) or sequence states (PostgreSQL): what inserts continue from."""
    if server.engine == 'mysql':
        rows = server.query('SELECT table_name, auto_increment FROM information_schema.tables WHERE table_schema = %s '
                            'AND auto_increment IS NOT NULL', (dbname,))
        return dict((r[0], int(r[1])) for r in rows)
    out = {}
    for schema, name in server.query('SELECT schemaname, sequencename FROM pg_sequences WHERE schemaname NOT IN '
                                     + PG_EXCLUDED_SCHEMAS, dbname=dbname):
        qualified = '%s.%s' % (server.quote(schema), server.quote(name))
        out[qualified] = list(server.query('SELECT last_value, is_called FROM %s' % qualified, dbname=dbname)[0])
    return out


def sync_counters(source, target, dbname, target_db=None):
    """Set the target's counters to the source's where they differ; returns the names set."""
    target_db = target_db or dbname
    wanted, have = counters(source, dbname), counters(target, target_db)
    changed = []
    for name, value in sorted(wanted.items()):
        if have.get(name) == value:
            continue
        if source.engine == 'mysql':
            # InnoDB takes the larger of this and the highest id + 1, so it never goes below the rows.
            target.execute('ALTER TABLE %s AUTO_INCREMENT = %d' % (target.table_name(target_db, None, name), value),
                           dbname=target_db)
        else:
            target.query('SELECT setval(%s::regclass, %s, %s)', (name, value[0], value[1]), dbname=target_db)
        changed.append(name)
    return changed
