# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The binary log reader of change capture (MariaDB), on text recorded from mariadb-binlog 10.11 -v."""

import pytest

from ansible_collections.wabiz.migration.plugins.module_utils._binlog import (
    _gtids, key_texts, position_problem, read_changes)
from ansible_collections.wabiz.migration.plugins.module_utils._db import DbError
from ansible_collections.wabiz.migration.plugins.module_utils._dbsync import Table

HEAD = b"""/*!50530 SET @@SESSION.PSEUDO_SLAVE_MODE=1*/;
/*!40019 SET @@session.max_delayed_threads=0*/;
DELIMITER /*!*/;
# at 668
#700101  0:00:00 server id 12345  end_log_pos 0 \tRotate to binlog.000001  pos: 668
# at 668
#261203  4:50:50 server id 12345  end_log_pos 0 CRC32 0x7c76cc3d \tStart: binlog v 4, server v 10.11.19-MariaDB-0+deb12u1-log created 261203  4:50:50
"""
TAIL = b"""DELIMITER ;
# End of log file
ROLLBACK /* added by mysqlbinlog */;
/*!50003 SET COMPLETION_TYPE=@OLD_COMPLETION_TYPE*/;
"""
ROWS = b"""# at 1193
#261203  4:51:00 server id 12345  end_log_pos 1235 CRC32 0x4a0c7260 \tGTID 0-12345-6 trans
/*M!100001 SET @@session.gtid_seq_no=6*//*!*/;
START TRANSACTION
/*!*/;
# at 1235
# at 1367
#261203  4:51:00 server id 12345  end_log_pos 1367 CRC32 0xff0eea03 \tAnnotate_rows:
#Q> INSERT INTO t VALUES (18446744073709551615, 'it''s \\\\ a\\ttab', X'00FF27', 'long'), (1, 'x', NULL, NULL)
#261203  4:51:00 server id 12345  end_log_pos 1416 CRC32 0x981f0c9b \tTable_map: `d`.`t` mapped to number 18
# at 1416
#261203  4:51:00 server id 12345  end_log_pos 1498 CRC32 0x7a96484d \tWrite_rows: table id 18 flags: STMT_END_F
### INSERT INTO `d`.`t`
### SET
###   @1=-1 (18446744073709551615)
###   @2='it's \\ a\\x09tab'
###   @3='\\x00\xff''
###   @4='long'
### INSERT INTO `d`.`t`
### SET
###   @1=1
###   @2='x'
###   @3=NULL
###   @4=NULL
# Number of rows: 2
# at 1498
#261203  4:51:00 server id 12345  end_log_pos 1529 CRC32 0x2658d0f5 \tXid = 13
COMMIT/*!*/;
# at 2020
#261203  4:51:00 server id 12345  end_log_pos 2124 CRC32 0x8a16bb77 \tTable_map: `d`.`k` mapped to number 22
# at 2124
#261203  4:51:00 server id 12345  end_log_pos 2170 CRC32 0x321da89e \tUpdate_rows: table id 22 flags: STMT_END_F
### UPDATE `d`.`k`
### WHERE
###   @1='\xe9 x'
###   @2=-5 (4294967291)
###   @3=1
### SET
###   @1='moved'
###   @2=-5 (4294967291)
###   @3=2
### DELETE FROM `other`.`k`
### WHERE
###   @1='elsewhere'
###   @2=1
# Number of rows: 2
"""


def tables():
    t = Table(None, 't', 't')
    t.primary_key, t.key_positions, t.key_types = ['id'], [1], ['uint']
    k = Table(None, 'k', 'k')
    k.primary_key, k.key_positions, k.key_types = ['a', 'n'], [1, 2], ['text latin1', 'int']
    return {'t': t, 'k': k}


def test_rows_give_their_keys_as_the_servers_write_them_and_other_databases_are_left_out():
    changes = read_changes((HEAD + ROWS + TAIL).splitlines(True), 'd', tables())
    assert changes.everything is None and changes.whole == {}
    assert changes.keys == {'t': {('18446744073709551615',), ('1',)},
                            'k': {('\xe9 x', '-5'), ('moved', '-5')}}  # latin1 read back; signed key stays signed
    assert changes.count == 3


def test_an_update_without_the_unchanged_key_in_its_new_image_keeps_the_old_key():
    text = HEAD + b"""### UPDATE `d`.`t`
### WHERE
###   @1=7
###   @2='a'
### SET
###   @2='b'
""" + TAIL
    assert read_changes(text.splitlines(True), 'd', tables()).keys == {'t': {('7',)}}


def test_a_row_without_its_key_makes_the_table_compared_in_full():
    text = HEAD + b"""### INSERT INTO `d`.`t`
### SET
###   @2='no key'
""" + TAIL
    changes = read_changes(text.splitlines(True), 'd', tables())
    assert changes.keys == {} and 'without its primary key' in changes.whole['t']


def test_a_statement_for_the_database_makes_it_compared_in_full_and_on_the_source_one_for_another_too():
    statement = b"""# at 2243
#261203  4:51:00 server id 12345  end_log_pos 2317 CRC32 0xca136955 \tQuery\tthread_id=6\texec_time=0\terror_code=0\txid=0
use `%s`/*!*/;
SET TIMESTAMP=1796273460/*!*/;
SET @@session.sql_mode=1411383296/*!*/;
/*!\\C utf8mb3 *//*!*/;
%s
/*!*/;
"""
    other = statement % (b'other', b'TRUNCATE k')
    # On the source a statement anywhere may write the database (a view, a routine, a trigger of another).
    assert read_changes((HEAD + other + ROWS + TAIL).splitlines(True), 'd', tables()).everything == (
        'a statement was logged in another database (other: TRUNCATE k), which may write this one through a view, '
        'a routine or a trigger')
    # On the target the migration creates the client's other databases: their DDL is theirs, their rows not.
    assert read_changes((HEAD + other + ROWS + TAIL).splitlines(True), 'd', tables(), source=False).everything == (
        'a statement was logged in another database (other: TRUNCATE k), which may write this one through a view, '
        'a routine or a trigger')
    ddl = statement % (b'other', b'CREATE TABLE k (id INT)')
    assert read_changes((HEAD + ddl + ROWS + TAIL).splitlines(True), 'd', tables(), source=False).everything is None
    through_view = statement % (b'other', b'UPDATE w_view SET v = 1')
    assert 'UPDATE w_view' in read_changes((HEAD + through_view + TAIL).splitlines(True), 'd', tables(),
                                           source=False).everything
    # The default database stays until another `use`: a later statement without one is still its.
    ours = statement % (b'd', b'ALTER TABLE k ADD COLUMN z INT') + (statement % (b'd', b'TRUNCATE k')).replace(
        b'use `d`/*!*/;\n', b'')
    changes = read_changes((HEAD + ddl + ours + TAIL).splitlines(True), 'd', tables(), source=False)
    assert changes.everything == 'a statement was logged for it (ALTER TABLE k ADD COLUMN z INT)'
    alone = statement % (b'other', b'CREATE TABLE k (id INT)') + (statement % (b'd', b'TRUNCATE k'))
    assert read_changes((HEAD + alone + TAIL).splitlines(True), 'd', tables(), source=False).everything == \
        'a statement was logged for it (TRUNCATE k)'
    named = statement % (b'other', b'DELETE FROM `d`.`t`\nWHERE id = 1')
    assert 'DELETE FROM `d`.`t` WHERE id = 1' in read_changes(
        (HEAD + named + TAIL).splitlines(True), 'd', tables()).everything
    begin = statement % (b'd', b'BEGIN')
    assert read_changes((HEAD + begin + TAIL).splitlines(True), 'd', tables()).everything is None


def test_text_or_events_it_does_not_know_make_the_database_compared_in_full():
    unknown = b"#261203  4:51:00 server id 12345  end_log_pos 2317 CRC32 0xca136955 \tNew_event_kind: x\n"
    assert 'New_event_kind' in read_changes((HEAD + unknown + TAIL).splitlines(True), 'd', tables()).everything
    stray = b"UPDATE `d`.`t` SET v = 1\n"
    assert 'does not read' in read_changes((HEAD + stray + TAIL).splitlines(True), 'd', tables()).everything


def test_a_log_cut_short_is_an_error_not_an_empty_change():
    with pytest.raises(DbError):
        read_changes((HEAD + ROWS).splitlines(True), 'd', tables())


def test_a_table_made_after_the_capture_makes_the_database_compared_in_full():
    text = HEAD + b"### INSERT INTO `d`.`new_one`\n### SET\n###   @1=1\n" + TAIL
    assert 'new_one' in read_changes(text.splitlines(True), 'd', tables()).everything


@pytest.mark.parametrize('kind, value, texts', [
    ('int', b'-5 (4294967291)', ['-5']),
    ('uint', b'-5 (4294967291)', ['4294967291']),
    ('uint', b'7', ['7']),
    ('binary', b"'\\x00\xff''", ['00FF27', '5C783030FF27']),
    ('text utf8mb4', b"'tab\\x09'", ['tab\\x09', 'tab\t']),
    ('text utf8mb4', b"'it's \\ fine'", ["it's \\ fine"]),
    ('text utf8mb4', "'ünï €'".encode('utf-8'), ['ünï €']),
])
def test_a_value_is_read_back_every_way_mariadb_binlog_may_have_meant_it(kind, value, texts):
    assert sorted(key_texts(kind, value)) == sorted(texts)


@pytest.mark.parametrize('kind, value, reason', [
    ('text utf8mb4', b"'" + b'\\x01' * 6 + b"'", 'unambiguously'),
    ('text utf8mb4', b"'\xff'", 'not utf8mb4'),
    ('text sjis', b"'a'", 'character set sjis'),
    ('other', b"'2026-01-01 00:00:00'", 'type'),
    ('int', b'NULL', 'cannot read'),
])
def test_a_value_it_cannot_read_back_says_why(kind, value, reason):
    assert reason in key_texts(kind, value)


class Logs(object):
    """A stand-in server: SHOW BINARY LOGS, SHOW MASTER STATUS, @@gtid_binlog_pos."""

    def __init__(self, files, now, gtid):
        self.files, self.now, self.gtid = files, now, gtid

    def describe(self):
        return 'mysql server old'

    def query(self, sql):
        if sql == 'SHOW BINARY LOGS':
            return [(name, 1) for name in self.files]
        if sql == 'SHOW MASTER STATUS':
            return [self.now]
        return [(self.gtid,)]


@pytest.mark.parametrize('server, problem', [
    (Logs(['binlog.000002', 'binlog.000003'], ('binlog.000003', 500), '0-1-90'), None),
    (Logs(['binlog.000003'], ('binlog.000003', 500), '0-1-90'), 'is gone'),
    (Logs(['binlog.000001', 'binlog.000002'], ('binlog.000002', 300), '0-1-90'), 'was reset'),
    (Logs(['binlog.000002'], ('binlog.000002', 900), '0-1-3'), 'was reset'),
])
def test_a_purged_or_reset_log_is_found(server, problem):
    found = position_problem(server, {'file': 'binlog.000002', 'position': 400, 'gtid': '0-1-50'})
    assert found is None if problem is None else problem in found


def test_gtid_positions_are_read_per_domain():
    assert _gtids('0-1-42,1-7-3') == {0: 42, 1: 3} and _gtids('') == {}


def test_logged_rows_counts_each_row_event_by_table():
    from ansible_collections.wabiz.migration.plugins.module_utils._binlog import logged_rows
    lines = (HEAD + ROWS + TAIL).splitlines()
    assert logged_rows(lines) == {b'`d`.`t`': 2, b'`d`.`k`': 1, b'`other`.`k`': 1}
    # A row's values never count as a row, whatever they hold.
    assert logged_rows([b'###   @2=\'### INSERT INTO `d`.`t`\'', b'### DELETE FROM `d`.`u`']) == {b'`d`.`u`': 1}


class Answers:
    """query(sql, params) answering from a list of results, in order; records what was asked."""

    def __init__(self, *results):
        self.results = list(results)
        self.asked = []

    def __call__(self, sql, params=None):
        self.asked.append(sql)
        return self.results.pop(0)


def test_the_count_is_read_again_while_a_transaction_holds_uncommitted_writes(monkeypatch):
    from ansible_collections.wabiz.migration.plugins.module_utils import _binlog
    monkeypatch.setattr(_binlog, 'QUIET_PAUSE', 0)
    query = Answers([(1,)], [('w', 5)], [(2,)], [(1,)], [('w', 6)], [(0,)])
    assert _binlog._quiet_count(query, 'd') == {'w': 6}
    assert query.results == []
    # Never quiet: no count, so the sync compares in full.
    never = Answers(*([[(1,)], [('w', 5)], [(1,)]] * _binlog.QUIET_TRIES))
    assert _binlog._quiet_count(never, 'd') is None
    # User statistics off: nothing counts, and nothing is waited for.
    assert _binlog._quiet_count(Answers([(0,)]), 'd') is None


def test_events_from_a_later_position_of_the_reading():
    from ansible_collections.wabiz.migration.plugins.module_utils._binlog import events_from
    rotate = (b"# at 2000\n#261203  4:51:01 server id 12345  end_log_pos 2040 CRC32 0x1 \tRotate to binlog.000002"
              b"  pos: 4\n")
    second = ROWS.replace(b"# at 1193", b"# at 300").replace(b"# at 1235", b"# at 340").replace(
        b"# at 1367", b"# at 400").replace(b"# at 1416", b"# at 450")
    text = HEAD + ROWS + rotate + second + TAIL
    lines = text.splitlines(True)
    # From the start: everything from the first event of the first file.
    assert b''.join(events_from(lines, {'file': 'binlog.000001', 'position': 668}, 'binlog.000001')).startswith(
        b"# at 668\n#700101")
    # From the second file's event at 300: the first file's rows are left out, the second's and the end kept.
    later = list(events_from(lines, {'file': 'binlog.000002', 'position': 300}, 'binlog.000001'))
    assert later[0] == b"# at 300\n" and later[-1] == TAIL.splitlines(True)[-1]
    assert read_changes(later, 'd', tables()).count == read_changes(second.splitlines(True) + TAIL.splitlines(True),
                                                                    'd', tables()).count
    # Past every event: nothing but the end, which the reader needs to know the log was read whole.
    assert read_changes(events_from(lines, {'file': 'binlog.000003', 'position': 4}, 'binlog.000001'), 'd',
                        tables()).count == 0
