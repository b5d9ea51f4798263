"""The pure parts of the sync: which keys differ, the SQL it writes, which tables may take the row path."""

from ansible_collections.wabiz.migration.plugins.module_utils._db import Server
from ansible_collections.wabiz.migration.plugins.module_utils._dbsync import (
    BUCKETS, Table, _key_condition, differing_keys, expressions)


def table(primary_key=("id",), columns=("id", "body")):
    entry = Table("public", "messages", "messages")
    entry.primary_key, entry.columns = list(primary_key), list(columns)
    return entry


def test_differing_keys_finds_changed_missing_and_extra_rows():
    source = {(1,): 10, (2,): 20, (3,): 30}
    target = {(1,): 10, (2,): 21, (4,): 40}
    stale, wanted = differing_keys(source, target)
    assert sorted(stale) == [(2,), (4,)]  # changed and extra rows go on the target
    assert sorted(wanted) == [(2,), (3,)]  # changed and missing rows come from the source


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
    assert _key_condition(pgsql, table(("a", "b")), 2, "t.") == '(t."a", t."b") IN ((%s, %s), (%s, %s))'


def test_buckets_by_key_and_rows_hashed_with_their_null_pattern():
    mysql = Server("mysql", "127.0.0.1", 3306, "root", "x")
    bucket, row_hash, source = expressions(mysql, table())
    assert bucket == "MOD(CRC32(`id`), %d)" % BUCKETS and source == "`messages`"
    assert expressions(mysql, table(("a", "b")))[0] == "MOD(CRC32(CONCAT_WS(0x1f, `a`, `b`)), %d)" % BUCKETS
    assert "ISNULL(`body`)" in row_hash
    no_key_bucket = expressions(mysql, table(primary_key=()))[0]
    assert no_key_bucket == "MOD(%s, %d)" % (row_hash, BUCKETS)  # no key: by the row itself

    pgsql = Server("pgsql", "127.0.0.1", 5432, "root", "x")
    bucket, row_hash, source = expressions(pgsql, table())
    assert bucket == '(hashtext(t."id"::text) & %d)' % (BUCKETS - 1)
    assert expressions(pgsql, table(("a", "b")))[0] == '(hashtext(ROW(t."a", t."b")::text) & %d)' % (BUCKETS - 1)
    assert row_hash == "hash_record_extended(t, 2)" and source == '"public"."messages" t'
    assert expressions(pgsql, table(), pg_text=True)[1] == "hashtextextended(t::text, 2)"
