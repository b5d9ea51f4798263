# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure parts of change capture: reading test_decoding's lines (recorded from PostgreSQL 15) into keys, slot
names, and the table checksums derived from the capture's sums."""

import pytest

from ansible_collections.wabiz.migration.plugins.module_utils._capture import (
    SLOT_PREFIX, _checksum_since, collect, parse_change, parse_tuple, slot_name)
from ansible_collections.wabiz.migration.plugins.module_utils._db import Server, checksum_of

PG = Server('pgsql', '127.0.0.1', 5432, 'root', 'pw')


def test_an_insert_gives_every_column_as_text_and_null_apart():
    line = 'table public.t: INSERT: id[bigint]:2 "Na me"[text]:\'a\' v[integer[]]:null'
    assert parse_change(line) == ('INSERT', ('public', 't'), [{'id': '2', 'Na me': 'a', 'v': None}])


def test_an_update_that_moves_the_key_gives_the_old_key_and_the_new_row():
    line = ('table public.t: UPDATE: old-key: id[bigint]:1 new-tuple: id[bigint]:3 "Na me"[text]:\'x y\'\'z\' '
            'v[integer[]]:\'{1,2}\'')
    assert parse_change(line) == ('UPDATE', ('public', 't'), [{'id': '1'}, {'id': '3', 'Na me': "x y'z", 'v': '{1,2}'}])


def test_words_of_the_format_inside_values_and_names_do_not_derail_it():
    line = ('table "My S"."T""x": UPDATE: old-key: a[text]:\' new-tuple: b[text]:\'\'c\'\'\' '
            'new-tuple: a[text]:\'b\' x[text]:unchanged-toast-datum')
    assert parse_change(line) == ('UPDATE', ('My S', 'T"x'), [{'a': " new-tuple: b[text]:'c'"}, {'a': 'b'}])


def test_a_tuple_ends_where_it_ends():
    text = "at[timestamp with time zone]:'2026-11-01 05:30:00+00' n[numeric]:1.50"
    assert parse_tuple(text) == ({'at': '2026-11-01 05:30:00+00', 'n': '1.50'}, len(text))
    with pytest.raises(ValueError):
        parse_tuple('a[text]:\'x\'', 0, stop='new-tuple: ')


def test_truncate_and_rows_without_their_key_make_the_table_compared_in_full():
    lines = ['BEGIN 728', 'table public.nopk, public.comp: TRUNCATE: (no-flags)',
             'table public.gone: DELETE: (no-tuple-data)', 'table public.w: DELETE: v[text]:\'x\'',
             "table public.w: INSERT: id[integer]:5 v[text]:'x'", 'table public.nopk2: INSERT: a[integer]:1',
             'table other.w: INSERT: id[integer]:5', 'COMMIT 728']
    changes = collect(lines, PG, {'nopk': [], 'comp': ['a', 'b'], 'gone': ['id'], 'w': ['id'], 'nopk2': []})
    assert changes.whole == {'nopk': 'it was truncated', 'comp': 'it was truncated',
                             'gone': 'a DELETE was decoded without its primary key (REPLICA IDENTITY)',
                             'w': 'a DELETE was decoded without its primary key (REPLICA IDENTITY)',
                             'nopk2': 'it has no primary key',
                             'other.w': 'it is not a table of the database as captured'}
    assert changes.keys == {'w': {('5',)}}


def test_keys_of_every_change_are_collected_once():
    lines = ["table public.k: INSERT: name[text]:'it''s' at[timestamp with time zone]:'2026-01-01 00:00:00+00' v[integer]:1",
             "table public.k: UPDATE: old-key: name[text]:'it''s' at[timestamp with time zone]:'2026-01-01 00:00:00+00' "
             "new-tuple: name[text]:'moved' at[timestamp with time zone]:'2026-01-01 00:00:00+00' v[integer]:1",
             "table public.k: DELETE: name[text]:'moved' at[timestamp with time zone]:'2026-01-01 00:00:00+00'"]
    changes = collect(lines, PG, {'k': ['name', 'at']})
    assert changes.keys == {'k': {("it's", '2026-01-01 00:00:00+00'), ('moved', '2026-01-01 00:00:00+00')}}
    assert changes.count == 3 and changes.whole == {}  # three changes, the update known by two keys


def test_slot_names_are_valid_and_differ_by_peer_and_database():
    names = {slot_name(side, peer, db) for side in ('src', 'tgt') for peer in ('pgsql:1', 'pgsql:2')
             for db in ('wacore', 'WaCore')}
    assert len(names) == 8
    assert all(n.startswith(SLOT_PREFIX) and len(n) <= 63 and n == n.lower() for n in names)


class Source(object):
    def __init__(self):
        self.read = []

    def checksum(self, dbname, schema, table):
        self.read.append(table)
        return 'full-read', 7


def test_a_checksum_follows_from_the_capture_and_the_changed_rows():
    base = {'rows': 3, 'sum': '60', 'mended': [[['9'], 90], [['8'], None]]}
    now = {('1',): 11, ('4',): 40, ('9',): 91, ('8',): 80}  # 1 changed, 2 deleted, 4 new, 9 and 8 mended ones
    before = {('1',): 10, ('2',): 20, ('9',): 90, ('8',): 80}
    source = Source()
    derived = _checksum_since(source, 'db', table_of('t'), base, now, before, {('9',), ('8',)})
    # rows: 3 - 1 (2) + 1 (4) + 1 (8 was not there at the capture) = 4
    assert derived == {'rows': 4, 'checksum': checksum_of(4, 60 + 1 - 20 + 40 + 1 + 80)}
    assert source.read == []


def test_a_row_written_on_the_target_by_someone_else_makes_the_source_read_in_full():
    source = Source()
    derived = _checksum_since(source, 'db', table_of('t'), {'rows': 1, 'sum': '5', 'mended': []},
                              {('3',): 1}, {('3',): 2}, {('3',)})
    assert derived == {'rows': 7, 'checksum': 'full-read'} and source.read == ['t']


def test_a_row_counts_once_whatever_spellings_of_its_key_were_read():
    """The rows the keys found are counted, not the keys: a binary log key read back two ways (an ambiguous
    escape) or in a spelling the collation equals (a trailing space) selects the same row."""
    source = Source()
    derived = _checksum_since(source, 'db', table_of('t'), {'rows': 2, 'sum': '30', 'mended': []},
                              {('a',): 12}, {('a',): 10}, set())
    assert derived == {'rows': 2, 'checksum': checksum_of(2, 32)} and source.read == []


def table_of(name):
    from ansible_collections.wabiz.migration.plugins.module_utils._dbsync import Table
    return Table('public', name, name)


def test_a_key_only_the_capture_mended_is_left_alone_and_one_written_again_is_not():
    from ansible_collections.wabiz.migration.plugins.module_utils._capture import _own_mends
    from ansible_collections.wabiz.migration.plugins.module_utils._dbsync import Changes
    base = {'mended': [[['1'], 10, 2], [['2'], None, 1], [['3'], 30, 1], [['4'], 40]]}  # 4: a record without counts
    target = Changes()
    target.row('t', [('1',)])  # the mend's delete of 1
    target.row('t', [('1',)])  # and its insert
    target.row('t', [('2',)])  # the mend's delete of 2
    target.row('t', [('3',)])  # the mend's insert of 3
    target.row('t', [('3',)])  # someone's update of 3 after it
    target.row('t', [('4',)])
    assert _own_mends(base, target, 't') == {('1',), ('2',)}
    assert _own_mends(base, target, 'other') == set()


def test_a_catch_up_stops_at_anything_the_sync_would_not_follow_by_rows():
    from ansible_collections.wabiz.migration.plugins.module_utils._capture import _untraceable
    from ansible_collections.wabiz.migration.plugins.module_utils._dbsync import Changes
    record = {'tables': {'t': {'mended': [[['1'], 10, 1]]}, 'u': {'mended': []}}}

    def found(source_rows=(), target_rows=()):
        sides = {'source': Changes(), 'target': Changes()}
        for side, rows in (('source', source_rows), ('target', target_rows)):
            for label, key in rows:
                sides[side].row(label, [key])
        return sides
    assert _untraceable(found([('t', ('5',)), ('u', ('6',))], [('t', ('1',))]), record, ['t', 'u']) is None
    assert _untraceable(found([], [('u', ('6',))]), record, ['t', 'u']) == 'table u was written on the target'
    # The capture's own mend of 1, and one write more by someone else.
    assert _untraceable(found([], [('t', ('1',)), ('t', ('1',))]), record, ['t', 'u']) == \
        'table t was written on the target'
    statement = found()
    statement['source'].everything = 'a statement was logged for it (TRUNCATE t)'
    assert _untraceable(statement, record, ['t', 'u']) == 'on the source, a statement was logged for it (TRUNCATE t)'
    keyless = found()
    keyless['target'].table_whole('u', 'has no primary key')
    assert _untraceable(keyless, record, ['t', 'u']) == 'on the target, table u has no primary key'


def test_after_a_catch_up_the_target_log_must_be_the_mends_of_both_the_capture_and_the_pass():
    from ansible_collections.wabiz.migration.plugins.module_utils._capture import _not_only_mends
    from ansible_collections.wabiz.migration.plugins.module_utils._dbsync import Changes
    capture = {'t': {'mended': [[['1'], 10, 2]]}}
    catch_up = {'t': {'mended': [[['1'], 11, 2], [['2'], None, 1]]}}
    logged = Changes()
    for key in [('1',)] * 4 + [('2',)]:
        logged.row('t', [key])
    assert _not_only_mends(logged, ['t'], capture, catch_up) is None
    assert _not_only_mends(logged, ['t'], capture) == 'table t was written on the target'
    logged.row('t', [('2',)])  # someone else's write of a row the pass deleted
    assert _not_only_mends(logged, ['t'], capture, catch_up) == 'table t was written on the target'


def test_innodb_names_and_table_ids():
    from ansible_collections.wabiz.migration.plugins.module_utils._capture import innodb_name, innodb_table_ids
    assert innodb_name('wa_core') == 'wa_core' and innodb_name('a-b.c') == 'a@002db@002ec'
    asked = []

    def query(sql, params):
        asked.append(params)
        return [('a@002db/t', 12), ('a@002db/p#P#p1', 15), ('a@002db/p#P#p0', 14), ('a@002db/x@0024y', 16)]
    assert innodb_table_ids(query, 'a-b') == {'t': [12], 'p': [14, 15], 'x$y': [16]}
    # LIKE's own characters in a name are escaped: the database a_b does not take aXb's tables.
    innodb_table_ids(query, 'a_b%')
    assert asked[-1] == ('a\\_b@0025/%',)
