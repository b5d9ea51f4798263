# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Bring a copy of databases up to date with their source: find the rows that differ, copy only those.

Private to the collection. A migration copies the databases while the old client still serves (the copy
ahead), then, with the old client stopped, brings the copy up to date here. What decides is the verification
afterwards: every table's row count and checksum (``Server.checksum``) on the target equal the source's. The
finer hashes used to find the differing rows only direct the work; a difference they miss fails that
verification, and the database is then copied whole with the dump tools.

A table takes the row path when it has a primary key and nothing that would make inserting rows differ from
restoring them: no triggers, no foreign keys (either way), no generated columns. Its rows are hashed into
``BUCKETS`` buckets by primary key; only the buckets whose count or hash sum differ are read row by row.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io

from ansible_collections.wabiz.migration.plugins.module_utils._db import DbError
from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import parallel

BUCKETS = 4096
# More differing buckets than this and the table changed too much for rows to be cheaper than a copy.
MAX_DIFFERING_BUCKETS = BUCKETS // 4
BATCH = 500

PG_EXCLUDED_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')"
# Settings of the sync's own PostgreSQL sessions. The planner takes every row for a group of its own (it cannot
# know that the buckets are 4096) and would sort whole rows before grouping; a hash aggregate reads the table
# once, in the time of a plain sum. JIT compilation costs more than it saves on a few scans. The sync reads
# both servers and two databases at once already: parallel workers on top only contend for the same cores.
PG_SESSION = ('SET enable_sort = off', 'SET jit = off', 'SET max_parallel_workers_per_gather = 0')

MYSQL_SHAPE = {
    'columns': ("SELECT c.table_name, c.column_name, c.ordinal_position, c.column_type, c.is_nullable, "
                "c.column_default, c.extra, c.collation_name FROM information_schema.columns c "
                "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
                "WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE' ORDER BY c.table_name, c.ordinal_position"),
    'indexes': ("SELECT table_name, index_name, seq_in_index, column_name, non_unique FROM "
                "information_schema.statistics WHERE table_schema = %s ORDER BY table_name, index_name, seq_in_index"),
    'triggers': ("SELECT event_object_table, trigger_name FROM information_schema.triggers WHERE trigger_schema = %s "
                 "ORDER BY 1, 2"),
    'foreign_keys': ("SELECT table_name, referenced_table_name, constraint_name FROM "
                     "information_schema.referential_constraints WHERE constraint_schema = %s ORDER BY 1, 3"),
    'views': "SELECT table_name, view_definition FROM information_schema.views WHERE table_schema = %s ORDER BY 1",
    'routines': ("SELECT routine_type, routine_name FROM information_schema.routines WHERE routine_schema = %s "
                 "ORDER BY 1, 2"),
}

PG_SHAPE = {
    'columns': ("SELECT c.table_schema, c.table_name, c.column_name, c.ordinal_position, c.data_type, c.udt_name, "
                "c.is_nullable, c.column_default, c.is_generated, c.collation_name FROM information_schema.columns c "
                "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
                "WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN " + PG_EXCLUDED_SCHEMAS +
                " ORDER BY 1, 2, 4"),
    'indexes': ("SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes WHERE schemaname NOT IN "
                + PG_EXCLUDED_SCHEMAS + " ORDER BY 1, 2, 3"),
    'primary_keys': ("SELECT n.nspname, c.relname, a.attname, array_position(k.conkey, a.attnum) FROM pg_constraint k "
                     "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(k.conkey) "
                     "WHERE k.contype = 'p' ORDER BY 1, 2, 4"),
    'triggers': ("SELECT n.nspname, c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                 "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal ORDER BY 1, 2, 3"),
    'foreign_keys': ("SELECT n.nspname, c.relname, rn.nspname, r.relname, k.conname FROM pg_constraint k "
                     "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace "
                     "WHERE k.contype = 'f' ORDER BY 1, 2, 5"),
    'views': ("SELECT schemaname, viewname, definition FROM pg_views WHERE schemaname NOT IN "
              + PG_EXCLUDED_SCHEMAS + " ORDER BY 1, 2"),
    'routines': ("SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p "
                 "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN " + PG_EXCLUDED_SCHEMAS +
                 " ORDER BY 1, 2, 3"),
    'sequences': ("SELECT schemaname, sequencename FROM pg_sequences WHERE schemaname NOT IN "
                  + PG_EXCLUDED_SCHEMAS + " ORDER BY 1, 2"),
}


class Table(object):
    """A base table as the sync sees it: its columns in order, its primary key, whether rows may be copied."""

    def __init__(self, schema, name, label):
        self.schema = schema
        self.name = name
        self.label = label
        self.columns = []
        self.primary_key = []
        self.generated = False
        self.triggers = False
        self.foreign_keys = False

    @property
    def rows_copyable(self):
        return bool(self.primary_key) and not (self.generated or self.triggers or self.foreign_keys)


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
        for name, column, _position, _type, _nullable, _default, extra, _collation in found['columns']:
            entry = table(None, name)
            entry.columns.append(column)
            entry.generated = entry.generated or 'GENERATED' in (extra or '').upper() or \
                (extra or '').upper() in ('VIRTUAL', 'PERSISTENT', 'STORED')
        for name, index, _seq, column, _non_unique in found['indexes']:
            if index == 'PRIMARY' and name in tables:
                tables[name].primary_key.append(column)
        for name, _trigger in found['triggers']:
            if name in tables:
                tables[name].triggers = True
        for name, referenced, _constraint in found['foreign_keys']:
            for label in (name, referenced):
                if label in tables:
                    tables[label].foreign_keys = True
    else:
        for row in found['columns']:
            entry = table(row[0], row[1])
            entry.columns.append(row[2])
            entry.generated = entry.generated or row[8] == 'ALWAYS'
        for schema, name, column, _position in found['primary_keys']:
            label = server.label(schema, name)
            if label in tables:
                tables[label].primary_key.append(column)
        for schema, name, _trigger in found['triggers']:
            label = server.label(schema, name)
            if label in tables:
                tables[label].triggers = True
        for schema, name, ref_schema, ref_name, _constraint in found['foreign_keys']:
            for label in (server.label(schema, name), server.label(ref_schema, ref_name)):
                if label in tables:
                    tables[label].foreign_keys = True
    fingerprint = dict((what, rows_as_lists(rows)) for what, rows in found.items())
    return fingerprint, tables


# row hashes and buckets -------------------------------------------------------------------------------
def _mysql_row_hash(server, columns):
    quoted = [server.quote(c) for c in columns]
    # CONCAT_WS skips NULLs: the NULL pattern goes in as well, so (NULL, 'a') and ('a', NULL) differ.
    return 'CRC32(CONCAT_WS(0x1f, %s, CONCAT(%s)))' % (', '.join(quoted),
                                                       ', '.join('ISNULL(%s)' % q for q in quoted))


def expressions(server, table, pg_text=False):
    """SQL for (bucket of a row, 32/64-bit hash of the whole row, FROM clause). Rows go into buckets by primary
    key, so that a changed row stays in its bucket; a table without one by the row's hash."""
    name = server.table_name(None, table.schema, table.name) if server.engine == 'pgsql' else \
        server.quote(table.name)
    keys = [server.quote(c) for c in table.primary_key]
    if server.engine == 'mysql':
        row_hash = _mysql_row_hash(server, table.columns)
        by_key = 'CRC32(%s)' % keys[0] if len(keys) == 1 else 'CRC32(CONCAT_WS(0x1f, %s))' % ', '.join(keys)
        bucket = 'MOD(%s, %d)' % (by_key if keys else row_hash, BUCKETS)
        return bucket, row_hash, name
    row_hash = 'hashtextextended(t::text, 2)' if pg_text else 'hash_record_extended(t, 2)'
    by_key = 'hashtext(t.%s::text)' % keys[0] if len(keys) == 1 else \
        'hashtext(ROW(%s)::text)' % ', '.join('t.%s' % k for k in keys)
    bucket = '(%s & %d)' % (by_key if keys else row_hash, BUCKETS - 1)
    return bucket, row_hash, '%s t' % name


def bucket_sums(server, dbname, table, pg_text=False):
    """{bucket: (rows, sum of the row hashes)}."""
    bucket, row_hash, source = expressions(server, table, pg_text)
    sql = 'SELECT %s AS b, COUNT(*), SUM(%s) FROM %s GROUP BY 1' % (bucket, row_hash, source)
    return dict((int(b), (int(count), int(total))) for b, count, total in server.query(sql, dbname=dbname))


def _alias(server):
    """How the queries of ``expressions`` name the table's columns (PostgreSQL reads the row as ``t``)."""
    return 't.' if server.engine == 'pgsql' else ''


def _key_columns(server, table):
    return ', '.join(_alias(server) + server.quote(k) for k in table.primary_key)


def row_hashes(server, dbname, table, buckets, pg_text=False):
    """{primary key tuple: row hash} of the rows in ``buckets``."""
    bucket, row_hash, source = expressions(server, table, pg_text)
    sql = 'SELECT %s, %s FROM %s WHERE %s IN (%s)' % (
        _key_columns(server, table), row_hash, source, bucket, ', '.join(str(int(b)) for b in sorted(buckets)))
    width = len(table.primary_key)
    return dict((tuple(row[:width]), row[width]) for row in server.query(sql, dbname=dbname))


def row_hashes_of_keys(server, dbname, table, keys, pg_text=False):
    """{primary key tuple: row hash} of the rows with these keys (read through the primary key's index)."""
    dummy, row_hash, source = expressions(server, table, pg_text)
    width = len(table.primary_key)
    found = {}
    for batch in _batches(keys):
        sql = 'SELECT %s, %s FROM %s WHERE %s' % (_key_columns(server, table), row_hash, source,
                                                  _key_condition(server, table, len(batch), _alias(server)))
        found.update((tuple(row[:width]), row[width]) for row in server.query(sql, _flat(batch), dbname=dbname))
    return found


def differing_keys(source, target):
    """(keys to delete on the target, keys to copy from the source) for two {key: row hash} maps."""
    stale = [k for k, h in target.items() if source.get(k) != h]
    wanted = [k for k, h in source.items() if target.get(k) != h]
    return stale, wanted


def _key_condition(server, table, count, alias=''):
    keys = [alias + server.quote(c) for c in table.primary_key]
    if len(keys) == 1:
        return '%s IN (%s)' % (keys[0], ', '.join(['%s'] * count))
    one = '(%s)' % ', '.join(['%s'] * len(keys))
    return '(%s) IN (%s)' % (', '.join(keys), ', '.join([one] * count))


def _flat(keys):
    return [v for key in keys for v in key]


def _batches(items):
    for start in range(0, len(items), BATCH):
        yield items[start:start + BATCH]


def copy_rows(source, target, dbname, table, stale, wanted):
    """Delete ``stale`` keys on the target, then copy the ``wanted`` rows from the source."""
    name = source.table_name(dbname, table.schema, table.name)
    columns = ', '.join(source.quote(c) for c in table.columns)
    for batch in _batches(stale):
        target.execute('DELETE FROM %s WHERE %s' % (name, _key_condition(target, table, len(batch))), _flat(batch),
                       dbname=dbname)
    for batch in _batches(wanted):
        select = 'SELECT %s FROM %s WHERE %s' % (columns, name, _key_condition(source, table, len(batch)))
        if source.engine == 'mysql':
            rows = source.query(select, _flat(batch), dbname=dbname)
            if rows:
                target.executemany('INSERT INTO %s (%s) VALUES (%s)' % (name, columns, ', '.join(['%s'] * len(
                    table.columns))), rows, dbname=dbname)
        else:
            # COPY's text format carries every PostgreSQL type exactly; a batch is at most BATCH rows.
            buffer = io.BytesIO()
            source.copy_out('COPY (%s) TO STDOUT' % source.mogrify(select, _flat(batch), dbname), buffer, dbname)
            buffer.seek(0)
            target.copy_in('COPY %s (%s) FROM STDIN' % (name, columns), buffer, dbname)


def table_sums(source, target, dbname, table):
    """({bucket: (rows, hash sum)} of the source, of the target, whether rows are hashed as text), read on both
    servers at once. PostgreSQL hashes a row's text where a column type has no hash function."""
    def both(pg_text):
        return parallel(2, {'source': lambda: bucket_sums(source, dbname, table, pg_text),
                            'target': lambda: bucket_sums(target, dbname, table, pg_text)})
    try:
        sums = both(False)
        return sums['source'], sums['target'], False
    except DbError:
        if source.engine != 'pgsql' or not source.ping(dbname) or not target.ping(dbname):
            raise
    sums = both(True)
    return sums['source'], sums['target'], True


def sync_rows(source, target, dbname, table, want, have, pg_text):
    """Copy the rows of the buckets that differ, then read back every key that was deleted or copied.

    Rows go into buckets by primary key, so the other buckets were not touched, and the rows of these buckets
    that were left alone had the source's key and hash: when every copied row reads back with the source's
    hash and every deleted key that was not copied again is gone, the table equals the source's.
    Returns {'deleted': n, 'copied': n, 'verified': bool}, or None when too much differs for row copies to
    pay (the caller copies the database whole)."""
    differing = set(b for b in set(want) | set(have) if want.get(b) != have.get(b))
    if len(differing) > MAX_DIFFERING_BUCKETS:
        return None
    hashes = parallel(2, {'source': lambda: row_hashes(source, dbname, table, differing, pg_text),
                          'target': lambda: row_hashes(target, dbname, table, differing, pg_text)})
    stale, wanted = differing_keys(hashes['source'], hashes['target'])
    copy_rows(source, target, dbname, table, stale, wanted)
    now = row_hashes_of_keys(target, dbname, table, list(set(stale) | set(wanted)), pg_text)
    verified = now == dict((key, hashes['source'][key]) for key in wanted)
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


def sync_counters(source, target, dbname):
    """Set the target's counters to the source's where they differ; returns the names set."""
    wanted, have = counters(source, dbname), counters(target, dbname)
    changed = []
    for name, value in sorted(wanted.items()):
        if have.get(name) == value:
            continue
        if source.engine == 'mysql':
            # InnoDB takes the larger of this and the highest id + 1, so it never goes below the rows.
            target.execute('ALTER TABLE %s AUTO_INCREMENT = %d' % (target.table_name(dbname, None, name), value),
                           dbname=dbname)
        else:
            target.query('SELECT setval(%s::regclass, %s, %s)', (name, value[0], value[1]), dbname=dbname)
        changed.append(name)
    return changed
