# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure parts of the sync: which keys differ, the SQL it writes, which tables may take the row path, and
what information_schema rows of MySQL 8 (recorded from a MySQL 8.0 server) mean to it."""

import os

import pytest

from ansible_collections.wabiz.migration.plugins.module_utils._db import Server, row_digest
from ansible_collections.wabiz.migration.plugins.module_utils._dbsync import (
    BUCKETS, SPILL_RANGES, Spill, Table, _key_condition, bucket_ranges, differing_keys, differing_rows, expressions,
    mysql_generated, table_checksum)
from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import ToolError


def table(primary_key=("id",), columns=("id", "body")):
    entry = Table("public", "messages", "messages")
    entry.primary_key, entry.columns = list(primary_key), list(columns)
    entry.digest_columns = [(c, "value") for c in columns]
    return entry


def test_differing_keys_finds_changed_missing_and_extra_rows():
    source = {(1,): 10, (2,): 20, (3,): 30}
    target = {(1,): 10, (2,): 21, (4,): 40}
    stale, wanted = differing_keys(source, target)
    assert sorted(stale) == [(2,), (4,)]  # changed and extra rows go on the target
    assert sorted(wanted) == [(2,), (3,)]  # changed and missing rows come from the source


class Streamed(Server):
    """A server whose queries answer with rows given here (bucket, key, digest), in the order given."""

    def __init__(self, rows):
        super(Streamed, self).__init__("pgsql", "127.0.0.1", 5432, "u", "p")
        self.rows, self.queries = rows, []

    def stream(self, sql, params=None, dbname=None):
        self.queries.append(sql)
        return iter(self.rows)


SOURCE_ROWS = [(2, 1, 10), (2, 4097, 40), (5, 2, 20), (6, 3, 30)]
TARGET_ROWS = [(2, 1, 10), (2, 4097, 41), (5, 2, 20), (8, 9, 90)]
# The buckets' sums (rows, digest sum); bucket 7's do not count: it does not differ.
SUMS = ({2: (2, 0), 5: (1, 0), 6: (1, 0), 7: (5, 0)}, {2: (2, 0), 5: (1, 0), 8: (1, 0)})


def test_differing_rows_reads_each_side_once_unsorted(tmp_path):
    # The servers return the rows in any order: shuffled here.
    source, target = Streamed(SOURCE_ROWS[::-1]), Streamed(TARGET_ROWS[1:] + TARGET_ROWS[:1])
    stale, wanted = differing_rows(source, target, "db", table(), {2, 5, 6, 8}, SUMS, Spill(str(tmp_path)))
    assert sorted(stale) == [(9,), (4097,)]
    assert wanted == {(3,): 30, (4097,): 40}  # the source's digest of each row to copy
    for server in (source, target):
        assert len(server.queries) == 1 and server.queries[0].endswith("IN (2, 5, 6, 8)")
    assert list(tmp_path.iterdir()) == []  # held in memory


def test_differing_rows_beyond_memory_go_through_files_by_range_with_the_same_outcome(tmp_path):
    seen = []

    class Watched(Streamed):
        def stream(self, sql, params=None, dbname=None):
            for row in super(Watched, self).stream(sql, params, dbname):
                seen.extend(os.stat(p).st_mode & 0o777 for p in tmp_path.glob("rows-*/*"))
                yield row

    source, target = Watched(SOURCE_ROWS[::-1]), Watched(TARGET_ROWS[1:] + TARGET_ROWS[:1])
    # Two rows at a time: ranges {2}, {5}, {6, 8} (bucket 2 holds four rows on the two servers, 5 two).
    stale, wanted = differing_rows(source, target, "db", table(), {2, 5, 6, 8}, SUMS, Spill(str(tmp_path), 2))
    assert sorted(stale) == [(9,), (4097,)]
    assert wanted == {(3,): 30, (4097,): 40}
    for server in (source, target):
        assert len(server.queries) == 1 and server.queries[0].endswith("IN (2, 5, 6, 8)")
    assert seen and set(seen) == {0o600}
    assert list(tmp_path.iterdir()) == []  # the files are removed


def test_bucket_ranges_hold_at_most_the_rows_given_a_larger_bucket_alone():
    sums = ({1: (3, 0), 2: (4, 0), 3: (9, 0)}, {1: (3, 0), 4: (1, 0), 5: (2, 0)})
    assert bucket_ranges({1, 2, 3, 4, 5}, sums, 7) == {1: 0, 2: 1, 3: 2, 4: 3, 5: 3}


def test_bucket_ranges_are_made_larger_rather_than_more_than_twice_the_limit():
    sums = (dict((b, (1 + b % 3, 0)) for b in range(BUCKETS)), {})
    ranges = bucket_ranges(set(range(BUCKETS)), sums, 1)
    assert SPILL_RANGES < max(ranges.values()) + 1 <= 2 * SPILL_RANGES


def test_spill_needs_at_least_one_row_in_memory():
    with pytest.raises(ToolError, match="rows_in_memory must be at least 1"):
        Spill("/nonexistent", 0)


def test_equal_maps_differ_in_nothing():
    assert differing_keys({("a", 1): 5}, {("a", 1): 5}) == ([], [])


def test_rows_copyable_needs_a_primary_key_and_nothing_that_fires_on_insert():
    assert table().rows_copyable
    assert not table(primary_key=()).rows_copyable
    for attribute in ("triggers", "foreign_keys", "generated"):
        entry = table()
        setattr(entry, attribute, True)
        assert not entry.rows_copyable, attribute


def test_key_conditions_for_single_and_composite_keys():
    mysql = Server("mysql", "127.0.0.1", 3306, "root", "x")
    assert _key_condition(mysql, table(), 2) == "`id` IN (%s, %s)"
    pgsql = Server("pgsql", "127.0.0.1", 5432, "root", "x")
    assert _key_condition(pgsql, table(("a", "b")), 2) == '("a", "b") IN ((%s, %s), (%s, %s))'


def test_buckets_by_key_and_rows_by_their_strong_digest():
    mysql = Server("mysql", "127.0.0.1", 3306, "root", "x")
    bucket, digest, source = expressions(mysql, table())
    assert bucket == "MOD(CRC32(t.`id`), %d)" % BUCKETS and source == "`messages` t"
    assert digest == row_digest("mysql", [("id", "value"), ("body", "value")])
    assert expressions(mysql, table(("a", "b")))[0] == "MOD(CRC32(CONCAT_WS(0x1f, t.`a`, t.`b`)), %d)" % BUCKETS
    no_key_bucket = expressions(mysql, table(primary_key=()))[0]
    assert no_key_bucket == "MOD(%s, %d)" % (digest, BUCKETS)  # no key: by the row itself

    pgsql = Server("pgsql", "127.0.0.1", 5432, "root", "x")
    bucket, digest, source = expressions(pgsql, table())
    assert bucket == '(hashtext(t."id"::text) & %d)' % (BUCKETS - 1)
    assert expressions(pgsql, table(("a", "b")))[0] == '(hashtext(ROW(t."a", t."b")::text) & %d)' % (BUCKETS - 1)
    assert digest == 'hashint8extended(hash_record_extended(ROW(t."id", t."body"), 0), 1)'
    assert source == '"public"."messages" t'


def test_mysql_digest_length_prefixes_every_column_and_marks_null():
    sql = row_digest("mysql", [("a", "value"), ("f", "double"), ("l", "bytes")])
    # No separator: each value is its byte length, ':' and its bytes, so ('a\x1fb', 'c') and ('a', 'b\x1fc')
    # differ; NULL is 'N', which no length-prefixed value can be.
    assert "COALESCE(CONCAT(LENGTH(t.`a`), ':', t.`a`), 'N')" in sql
    assert "COALESCE(CONCAT(LENGTH(CAST(t.`f` AS DOUBLE)), ':', CAST(t.`f` AS DOUBLE)), 'N')" in sql
    assert "CAST(t.`l` AS BINARY)" in sql
    assert sql.startswith("CAST(CONV(LEFT(MD5(CONCAT(") and "CRC32" not in sql  # 64 bits of MD5, not a CRC


def test_pgsql_digest_takes_loosely_hashed_types_as_text():
    sql = row_digest("pgsql", [("n", "text"), ("c", "bytes"), ("i", "value")])
    assert sql == 'hashint8extended(hash_record_extended(ROW(t."n"::text COLLATE "C", bpcharsend(t."c"), t."i"), 0), 1)'


def test_digest_kinds_of_column_types():
    from ansible_collections.wabiz.migration.plugins.module_utils._db import mysql_digest_kind, pg_digest_kind
    assert mysql_digest_kind("float", None) == "double"  # FLOAT's own text keeps 6 digits
    assert mysql_digest_kind("double", None) == "value"  # DOUBLE's text is the shortest exact one
    assert mysql_digest_kind("varchar", "latin1") == "bytes"
    assert mysql_digest_kind("varchar", "utf8mb4") == "value"
    for loose in ("numeric", "float8", "float4", "citext", "interval", "jsonb", "json", "_int4", "timetz"):
        assert pg_digest_kind(loose, True) == "text", loose
    assert pg_digest_kind("text", False) == "text"  # a nondeterministic collation hashes case-insensitively
    assert pg_digest_kind("text", True) == "value"
    assert pg_digest_kind("bpchar", True) == "bytes"
    for exact in ("int8", "bytea", "timestamptz", "uuid", "bool"):
        assert pg_digest_kind(exact, True) == "value", exact


def test_table_checksum_is_the_sum_of_its_buckets():
    count, total = 5, (1 << 64) + 7
    assert table_checksum({1: (2, 1 << 64), 9: (3, 7)}) == ("d%d-%x" % (count, total), count)
    # PostgreSQL's digests are signed: a negative sum is taken modulo 2**128, as Server.checksum does.
    assert table_checksum({0: (1, -1)})[0] == "d1-%x" % ((1 << 128) - 1)


# information_schema.columns EXTRA values as MySQL 8.0 and MariaDB 10.11 write them
MYSQL8_EXTRA = {
    "DEFAULT_GENERATED": False,  # created_at DATETIME DEFAULT CURRENT_TIMESTAMP
    "DEFAULT_GENERATED on update CURRENT_TIMESTAMP": False,
    "auto_increment": False,
    "VIRTUAL GENERATED": True,
    "STORED GENERATED": True,
    "": False,
    None: False,
}
MARIADB_EXTRA = {"VIRTUAL GENERATED": True, "STORED GENERATED": True, "PERSISTENT GENERATED": True,
                 "on update current_timestamp()": False}


def test_mysql8_default_generated_is_no_generated_column():
    for extra, generated in list(MYSQL8_EXTRA.items()) + list(MARIADB_EXTRA.items()):
        assert mysql_generated(extra) is generated, extra


def test_mysql8_is_told_from_mariadb_by_its_version_string():
    from ansible_collections.wabiz.migration.plugins.module_utils._db import is_mysql8
    assert is_mysql8("8.0.36")
    assert is_mysql8("8.4.0-commercial")
    assert not is_mysql8("5.7.44-log")
    assert not is_mysql8("10.11.19-MariaDB-0+deb12u1")
    assert not is_mysql8("5.5.5-10.6.12-MariaDB-log")  # what MariaDB says to old clients


class RefusingTarget:
    """A MySQL target whose inserts fail as on a duplicate key, and that still answers (it did not go away)."""

    engine = "mysql"
    quote = Server.quote

    def __init__(self, answers=True):
        self.answers = answers

    def table_name(self, dbname, schema, table):
        return "`%s`.`%s`" % (dbname, table)

    def execute(self, sql, params=None, dbname=None):
        pass

    def executemany(self, sql, rows, dbname=None):
        from ansible_collections.wabiz.migration.plugins.module_utils._db import DbError
        raise DbError("The mysql server failed: (1062, \"Duplicate entry 'x' for key 'u'\")")

    def ping(self, dbname=None):
        return self.answers


class Source(RefusingTarget):
    def query(self, sql, params=None, dbname=None):
        return [(1, "x")]


def test_a_refused_row_copies_the_database_whole_and_a_lost_server_fails_the_step():
    import pytest
    from ansible_collections.wabiz.migration.plugins.module_utils._db import DbError
    from ansible_collections.wabiz.migration.plugins.module_utils._dbsync import RowsRefused, copy_rows
    with pytest.raises(RowsRefused, match="Duplicate entry"):
        copy_rows(Source(), RefusingTarget(), "db", table(), [], [(1,)])
    # A target that no longer answers is no refused row: the step fails and a re-run resumes.
    with pytest.raises(DbError):
        copy_rows(Source(), RefusingTarget(answers=False), "db", table(), [], [(1,)])
