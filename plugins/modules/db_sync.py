#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: db_sync
short_description: Bring a copy of a client's databases up to date, copying only what differs
version_added: 1.0.0
description:
  - For a copy made while the source still changed (M(wabiz.migration.db_dump) with O(wabiz.migration.db_dump#module:live=true)
    and O(wabiz.migration.db_dump#module:restore_to)), run once the source is still (its client stopped).
  - Raises a write fence first. No session other than the module's own may be connected to the source databases
    (from any host, as any user; a session with no current database counts on MySQL/MariaDB), and the source's
    write counters are read (on PostgreSQL rows written, summed per database, and catalog rows inserted or deleted
    per catalog table; per table on MySQL with performance_schema on, else for the whole server). After the last
    comparison both are checked again; a session found, or a counter that moved, fails the module naming them, and
    the copy is not trusted. The source is not switched to read-only.
  - Reads every table on both servers as the row counts and digest sums of 4096 groups of rows (by primary key).
    A row's digest is 64 bits of MD5 (MySQL/MariaDB) or of a second hash round over the record hash (PostgreSQL)
    of an unambiguous encoding of the row (NULL apart from empty, bytes as bytes, TIMESTAMP as UTC, floats exact,
    text compared as bytes whatever the collation, C(numeric) scale and C(citext) case seen); the sums are exact,
    so no pattern of edits across rows cancels out.
  - Where a table differs, it reads the keys and digests of the rows in the differing groups, deletes the
    differing rows on the target and copies them from the source, then compares those groups again. Auto-increment
    values (MySQL/MariaDB) and sequences (PostgreSQL) are set to the source's.
  - Before the module succeeds, every table of every database has been compared with the source by the strong
    digest, every group it wrote to has been compared again after its last write, and the write fence held.
    The target must have no other writer meanwhile (the new client is not started yet).
  - A database is copied whole instead, with the dump tools as M(wabiz.migration.db_dump) does, then compared
    like every other database and mended row by row where the tools fall short (MySQL/MariaDB dump tools write
    FLOAT values with 6 digits), when it is missing on the target (one created since the copy ahead,
    with O(name_prefix)), its schema differs (columns, indexes, triggers, foreign keys, views, routines,
    sequences), a differing table has no primary key, or has triggers, foreign keys or generated columns, more
    than a quarter of a table's row groups changed, the target refused a copied row (a duplicate key), or the
    copied rows did not verify.
  - Writes C(manifest.json) into O(dest), the source's tables with their row counts and checksums at this moment,
    what was copied and the write counters. M(wabiz.migration.db_dump) checks a later dump of the source against
    it (O(wabiz.migration.db_dump#module:expect)).
  - The source is only read. Every session pins its time zone (UTC), SQL mode and value formats. Passwords reach
    the dump tools through 0600 files, never a command line.
author:
  - wabiz.migration maintainers (@wabiz)
requirements:
  - The database client tools on the host that runs the module (for databases copied whole).
seealso:
  - module: wabiz.migration.db_dump
  - ref: ansible_collections.wabiz.migration.docsite.verification
    description: What is compared before the new client starts, and why a planted change cannot pass.
  - ref: ansible_collections.wabiz.migration.docsite.option2
    description: 'Option 2: settings and messages.'
options:
  databases:
    description:
      - The databases to bring up to date (those copied ahead). Each must exist on the source.
      - At least one of O(databases) and O(all_of_prefix=true) is needed.
    type: list
    elements: str
  all_of_prefix:
    description:
      - Also every source database with O(name_prefix), read when the module runs, less O(exclude); one the
        client created since the copy ahead is copied whole.
    type: bool
    default: false
  exclude:
    description: Databases that O(all_of_prefix) does not take.
    type: list
    elements: str
    default: []
  target:
    description: The server that holds the copy. It must not be the source server.
    type: dict
    required: true
    suboptions:
      engine:
        description:
          - The target's engine, when given (the same dict as the source's connection options); it must be the source's.
        type: str
        choices: [mysql, pgsql]
      login_host:
        description: Target server.
        type: str
        default: 127.0.0.1
      login_port:
        description: Target port.
        type: int
        required: true
      login_user:
        description: Target user.
        type: str
        default: root
      login_password:
        description: Target password.
        type: str
        required: true
      ssl_mode:
        description: TLS to the target, as O(ssl_mode).
        type: str
        default: prefer
        choices: [disable, prefer, require, verify-ca, verify-full]
      ca_cert:
        description: The CA of the target's certificate, as O(ca_cert).
        type: path
      client_cert:
        description: A client certificate for the target, as O(client_cert).
        type: path
      client_key:
        description: Its private key.
        type: path
      name_prefix:
        description:
          - The target client's database prefix when it differs from the source's (O(name_prefix), then
            required). Each database is compared with, and brought up to date into, the target database of the
            same name after the prefix (C(old_wacore) with C(new_wacore)); the manifest records both names.
        type: str
  dest:
    description:
      - Private directory (mode C(0700)) for the manifest and the dumps of databases copied whole. An existing
        directory must be empty or hold an earlier record of this module or of M(wabiz.migration.db_dump).
    type: path
    required: true
  method:
    description: Dump method for databases copied whole, as in M(wabiz.migration.db_dump).
    type: str
    choices: [auto, mydumper, mysqldump, pg_dump]
    default: auto
  jobs:
    description: Databases worked on at the same time.
    type: int
    default: 2
  schema_differs:
    description:
      - What to do with a database whose schema differs on the two servers. V(copy_whole) replaces it on the
        target by a copy of the source's. V(fail) fails before anything is written, naming the databases (as a
        rollback carrying the new client's writes back does, since the old client cannot read a schema a newer client
        migrated).
    type: str
    choices: [copy_whole, fail]
    default: copy_whole
  source_client:
    description:
      - Whose databases the source holds, for what a failure says (which client was not started, the way on);
        the old client's in a migration, the new client's when a rollback carries its writes back.
    type: str
    choices: [old, new]
    default: old
  captured:
    description:
      - The manifest of M(wabiz.migration.db_capture) (its O(wabiz.migration.db_capture#module:dest)/manifest.json).
        Each database it followed is brought up to date from the rows written since the capture, on the source and
        on the target, as their slots decoded them (PostgreSQL) or their binary logs hold them (MariaDB, read with
        C(mariadb-binlog)), and only those rows are compared (with every table the capture cannot follow, for want
        of a primary key, being unlogged or truncated); a table's checksum follows from the capture's sums.
      - A database whose slots are gone, lost or were read by another consumer, whose binary log positions were
        purged or reset, or for which a statement was logged, is compared in full instead (RV(capture_fallbacks));
        one whose schema changed since is copied whole. Once the copy is verified, the slots of every database in
        the manifest are dropped on both servers (RV(slots_dropped)).
    type: path
  expect:
    description:
      - A manifest of M(wabiz.migration.db_dump) taken of the source before (a dump kept for the record). The
        source's tables as the sync finds them (row counts, checksums) must equal it, proving the dump holds the
        state that was carried over; else the module fails after its work, naming the tables.
    type: path
attributes:
  check_mode:
    support: full
    details: Checks that both servers answer and hold the databases, and with O(schema_differs=fail) compares
      their schemas; compares and copies no rows.
  diff_mode:
    support: none
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - wabiz.migration.db
  - wabiz.migration.db.attributes
  - wabiz.migration.db.work_lock
  - wabiz.migration.db.rows_in_memory
'''

EXAMPLES = r'''
- name: While the old client serves, copy its databases ahead (not verified yet)
  wabiz.migration.db_dump:
    engine: mysql
    login_host: db-old.example.com
    login_password: "{{ vault_old_db_password }}"
    databases: "{{ old_dbs.names }}"
    dest: /var/backups/wabiz/dump
    live: true
    restore_to:
      login_host: db-new.example.com
      login_port: 3306
      login_password: "{{ vault_new_db_password }}"
      replace: true

- name: Old client stopped, bring the copy up to date and verify it
  wabiz.migration.db_sync:
    engine: mysql
    login_host: db-old.example.com
    login_password: "{{ vault_old_db_password }}"
    databases: "{{ old_dbs.names }}"
    all_of_prefix: true
    exclude: [waweb]
    dest: /var/backups/wabiz/sync
    target:
      login_host: db-new.example.com
      login_port: 3306
      login_password: "{{ vault_new_db_password }}"
  register: sync
'''

RETURN = r'''
databases:
  description: Every database brought up to date, by row or whole.
  returned: success, except in check mode
  type: list
  elements: str
  sample: [wacore, wamessages_0, wamessages_1]
manifest_path:
  description: The manifest file.
  returned: success, except in check mode
  type: str
  sample: /var/backups/wabiz/sync/manifest.json
synced:
  description:
    - Per database brought up row by row, the tables that differed with the rows deleted and copied, and the counters set.
    - A database copied whole appears here too where rows had to be mended after the copy.
  returned: success, except in check mode
  type: dict
  sample: {wamessages_0: {tables: {messages: {deleted: 3, copied: 41}}, counters: []}}
copied_whole:
  description: The databases copied whole, each with the reason.
  returned: success, except in check mode
  type: dict
  sample: {waweb: "table tokens differs and has no primary key"}
schema_differences:
  description: With O(schema_differs=fail), the databases whose schema differs (the module then failed).
  returned: failure
  type: list
  elements: str
  sample: [wamessages_0]
rows_copied:
  description: Rows copied row by row, over every table of every database (what changed since the copy ahead).
  returned: success, except in check mode
  type: int
  sample: 412
capture_fallbacks:
  description: With O(captured), the databases compared in full although captured, with the reason.
  returned: success with O(captured), except in check mode
  type: dict
  sample: {wamessages_1: "its replication slot wabiz_src_0c1d2e3f4a5b6c7d8e9f0a1b is gone from the pgsql server db-old:5432 as root"}
decoded:
  description: With O(captured), per database followed, the row changes its slots decoded on each server.
  returned: success with O(captured), except in check mode
  type: dict
  sample: {wamessages_0: {source: 412, target: 0}}
compared_in_full:
  description: With O(captured), per database followed, the tables its decoding could not follow, compared in full, with the reason.
  returned: success with O(captured), except in check mode
  type: dict
  sample: {wamessages_0: {messages: "it was truncated"}}
slots_dropped:
  description: With O(captured), the replication slots dropped once the copy was verified, by server.
  returned: success with O(captured), except in check mode
  type: dict
  sample: {source: [wabiz_src_0c1d2e3f4a5b6c7d8e9f0a1b], target: [wabiz_tgt_1b2c3d4e5f6a7b8c9d0e1f2a]}
seconds:
  description: Wall-clock seconds of the comparison, the row copies, the whole copies and the final verification.
  returned: success, except in check mode
  type: dict
  sample: {rows: 0.68, verify: 0.4, whole: 3.1}
'''

import os
import time

from ansible_collections.wabiz.migration.plugins.module_utils._binlog import BinlogReader
from ansible_collections.wabiz.migration.plugins.module_utils._capture import drop_slots, read_capture, sync_captured
from ansible_collections.wabiz.migration.plugins.module_utils._db import target_names, target_options
from ansible_collections.wabiz.migration.plugins.module_utils._dbmodule import DbModule
from ansible_collections.wabiz.migration.plugins.module_utils._dbsync import (
    BUCKETS, IN_MEMORY_ROWS, MAX_DIFFERING_BUCKETS, PG_SESSION, RowsRefused, Spill, counters, database_shape,
    sync_counters, sync_rows, table_checksum, table_sums)
from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import (
    Credentials, ToolError, Transfer, choose_tools, compare, files_of, parallel, prepare_dest, read_manifest,
    write_manifest)
from ansible_collections.wabiz.migration.plugins.module_utils._fence import WriteFence


def why_not_rows(table):
    if not table.primary_key:
        return 'has no primary key'
    return 'has %s' % ' and '.join(what for what, present in (
        ('triggers', table.triggers), ('foreign keys', table.foreign_keys), ('generated columns', table.generated))
        if present)


def sync_database(source, target, dbname, target_db, spill):
    """Bring one database up to date row by row into ``target_db`` (its name on the target) and verify it.

    Returns ('rows', {'tables': {label: {rows, checksum}}, 'synced': ..., 'counters': ...}) or ('whole', reason).
    """
    if target_db not in target.databases():
        return 'whole', 'missing on the target'
    fingerprint, tables = database_shape(source, dbname)
    if fingerprint != database_shape(target, target_db)[0]:
        return 'whole', 'its schema differs from the source'
    record, synced = {}, {}
    for label, table in sorted(tables.items()):
        table.digest_columns = source.digest_columns(dbname, table.schema, table.name)
        want, have = table_sums(source, target, dbname, table, target_db)
        checksum, rows = table_checksum(want)
        record[label] = {'rows': rows, 'checksum': checksum}
        if want == have:
            continue  # equal row counts and digest sums in each of the 4096 buckets: the table is verified
        if not table.rows_copyable:
            return 'whole', 'table %s differs and %s' % (label, why_not_rows(table))
        try:
            result = sync_rows(source, target, dbname, table, want, have, spill, target_db)
        except RowsRefused as exc:
            return 'whole', 'the target refused rows copied into table %s (%s)' % (label, exc)
        if result is None:
            return 'whole', 'more than %d of %d row groups of table %s changed' % (MAX_DIFFERING_BUCKETS, BUCKETS,
                                                                                   label)
        if not result.pop('verified'):
            return 'whole', 'table %s did not verify after its rows were copied' % label
        synced[label] = result
    counters_set = sync_counters(source, target, dbname, target_db)
    if counters(source, dbname) != counters(target, target_db):
        return 'whole', 'its auto-increment values or sequences could not be set'
    return 'rows', {'tables': record, 'synced': synced, 'counters': counters_set}


def drop_captured(source, target, captured, databases, names):
    """Drops the slots of ``databases`` (those of the capture) on both servers; returns their names by server."""
    followed = [d for d in databases if d in captured]
    return {'source': drop_slots(source, 'src', followed),
            'target': drop_slots(target, 'tgt', [captured[d].get('target', names.get(d, d)) for d in followed])}


def chosen_databases(source, params):
    """The databases given, and, with all_of_prefix, every database of the source that has the prefix now: one
    created since the copy ahead is copied whole, not forgotten."""
    chosen = set(source.select(params['name_prefix'], include=params['databases'])) if params['databases'] else set()
    if params['all_of_prefix']:
        chosen.update(source.select(params['name_prefix'], exclude=params['exclude']))
    return sorted(chosen)


def main():
    db = DbModule(dict(
        databases=dict(type='list', elements='str'), all_of_prefix=dict(type='bool', default=False),
        exclude=dict(type='list', elements='str', default=[]), dest=dict(type='path', required=True),
        method=dict(type='str', default='auto', choices=['auto', 'mydumper', 'mysqldump', 'pg_dump']),
        jobs=dict(type='int', default=2), rows_in_memory=dict(type='int', default=IN_MEMORY_ROWS),
        schema_differs=dict(type='str', default='copy_whole', choices=['copy_whole', 'fail']),
        expect=dict(type='path'), captured=dict(type='path'), source_client=dict(type='str', default='old', choices=['old', 'new']),
        target=dict(type='dict', required=True, options=target_options())), work_dir='dest')
    module, params, source = db.module, db.params, db.server
    settings = params['target']
    with db:
        target = db.target(settings)
        spill = Spill(params['dest'], params['rows_in_memory'])
        databases = chosen_databases(source, params)
        if not databases:
            raise ToolError('no database to bring up to date on the %s' % source.describe())
        db.never_into_source(target, source.identity(), source.describe())
        names = target_names(databases, params['name_prefix'], settings['name_prefix'])
        present = set(d for d in databases if names[d] in target.databases())
        if params['schema_differs'] == 'fail':
            # On connections of their own, closed at once: a database copied whole is dropped on the target.
            shapes = (source.sibling(), target.sibling())
            try:
                differing = [d for d in sorted(present)
                             if database_shape(shapes[0], d)[0] != database_shape(shapes[1], names[d])[0]]
            finally:
                for server in shapes:
                    server.close()
            if differing:
                module.fail_json(msg='The schema of %s differs between the source %s and the target %s; nothing was '
                                     'written.' % (', '.join(differing), source.describe(), target.describe()),
                                 schema_differences=differing)
        if module.check_mode:
            module.exit_json(changed=True, plan=dict(databases=databases, on_target=sorted(present), names=names))
        captured = read_capture(params['captured'], source, target)['databases'] if params['captured'] else None
        gone = sorted(set(captured or ()) - set(databases))
        if gone:
            module.fail_json(msg='%s %s captured from the %s and %s no longer there (dropped since the capture?); '
                                 'nothing was written and the new client was not started. Find out what dropped '
                                 'it, then roll back.' % (', '.join(gone), 'was' if len(gone) == 1 else 'were',
                                                          source.describe(), 'is' if len(gone) == 1 else 'are'),
                             gone=gone)
        db.lock()
        fence = WriteFence(source, databases, params['source_client'])
        fence.raise_()
        prepare_dest(params['dest'])
        seconds, fallbacks, decoded, in_full = {}, {}, {}, {}

        def worker(dbname, followed=None):
            def task():
                own = [server.sibling(session=PG_SESSION if server.engine == 'pgsql' else ())
                       for server in (source, target)]
                try:
                    if followed:
                        kind, result = sync_captured(own[0], own[1], dbname, names[dbname], followed, spill, binlog)
                        if kind != 'full':
                            if kind == 'rows':
                                decoded[dbname] = result.pop('decoded')
                                in_full[dbname] = result.pop('compared_in_full')
                            return kind, result
                        fallbacks[dbname] = result
                    return sync_database(own[0], own[1], dbname, names[dbname], spill)
                finally:
                    for server in own:
                        server.close()
            return task
        started = time.time()
        with BinlogReader(module) as binlog:
            outcome = parallel(params['jobs'], dict((d, worker(d, (captured or {}).get(d))) for d in databases))
        seconds['rows'] = round(time.time() - started, 2)
        by_rows = dict((d, r[1]) for d, r in outcome.items() if r[0] == 'rows')
        whole = dict((d, r[1]) for d, r in outcome.items() if r[0] == 'whole')
        if captured is not None:
            # A database with a slot cannot be dropped (PostgreSQL refuses): the copy of one copied whole goes first.
            dropped = drop_captured(source, target, captured, sorted(whole), names)
        synced = dict((d, {'tables': r['synced'], 'counters': r['counters']}) for d, r in by_rows.items())
        record = dict((d, {'tables': r['tables']}) for d, r in by_rows.items())
        files = {}
        if whole:
            started = time.time()
            tools = choose_tools(module, params['engine'], params['method'])
            for dbname in sorted(set(names[d] for d in whole) & set(target.databases())):
                target.drop_database(dbname)
            with Credentials() as credentials:
                transfer = Transfer(module, tools, credentials, source=source,
                                    target=target, jobs=params['jobs'], names=names)
                transfer.copy(params['dest'], sorted(whole))
            files = files_of(transfer.dump_path(params['dest'])) if tools['method'] == 'mydumper' else dict(
                (k, v) for d in sorted(whole) for k, v in files_of(transfer.dump_path(params['dest'], d)).items())
            seconds['whole'] = round(time.time() - started, 2)
            started = time.time()
            # Compared as every other database, and mended row by row where the tools fall short (they write
            # MySQL FLOAT values with 6 digits).
            checked = parallel(params['jobs'], dict((d, worker(d)) for d in whole))
            seconds['verify'] = round(time.time() - started, 2)
            problems = ['%s: %s' % (d, r[1]) for d, r in sorted(checked.items()) if r[0] == 'whole']
            if problems:
                module.fail_json(msg='The copy on %s made by the dump tools does not match the source, and cannot '
                                     'be mended row by row: %s' % (target.describe(), '; '.join(problems)),
                                 problems=problems)
            for dbname, (kind, result) in checked.items():
                record[dbname] = {'tables': result['tables']}
                if result['synced'] or result['counters']:
                    synced[dbname] = {'tables': result['synced'], 'counters': result['counters']}
        # The verdict stands only if nothing wrote to the source from the first read to the last comparison.
        positions = fence.check()
        if captured is not None:
            for side, names_dropped in drop_captured(source, target, captured, sorted(captured), names).items():
                dropped[side].extend(names_dropped)
        if params['expect']:
            expected = read_manifest(os.path.dirname(params['expect']), os.path.basename(params['expect']))
            problems = compare(expected['databases'], record, ('in %s' % params['expect'], 'on the source now'))
            if problems:
                module.fail_json(msg='The target is up to date with the source, but the dump %s does not hold the '
                                     'source\'s state: %s' % (params['expect'], '; '.join(problems)),
                                 problems=problems)
        manifest = dict(kind='sync', engine=params['engine'], databases=record, files=files, synced=synced,
                        target_names=names,
                        copied_whole=whole, created=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
                        source=dict(host=source.host, port=source.port, version=source.version(),
                                    identity=source.identity(), write_positions=positions))
        path = write_manifest(params['dest'], manifest)
    rows_copied = sum(t.get('copied', 0) for d in synced.values() for t in d['tables'].values())
    extra = {} if captured is None else dict(capture_fallbacks=fallbacks, decoded=decoded, slots_dropped=dropped,
                                             compared_in_full=dict((d, t) for d, t in in_full.items() if t))
    module.exit_json(changed=True, manifest_path=path, databases=databases, synced=synced, copied_whole=whole,
                     rows_copied=rows_copied, seconds=seconds, **extra)


if __name__ == '__main__':
    main()
