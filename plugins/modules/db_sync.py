#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: db_sync
short_description: Bring a copy of a client's databases up to date with the source, copying only what differs
version_added: 0.1.0
description:
  - For a copy made while the source still changed (M(wabiz.migration.db_dump) with O(wabiz.migration.db_dump#module:live=true)
    and O(wabiz.migration.db_dump#module:restore_to)), run once the source is still (its client stopped).
  - Reads every table on both servers as the row counts and row hash sums of 4096 groups of rows (by primary
    key). Where a table differs, it reads the keys and hashes of the rows in the differing groups, deletes the
    differing rows on the target and copies them from the source, then reads every deleted or copied key back.
    Auto-increment values (MySQL/MariaDB) and sequences (PostgreSQL) are set to the source's.
  - A table whose groups all match, or whose copied rows all read back with the source's hashes, equals the
    source. The target must have no other writer meanwhile (the new client is not started yet).
  - A database is copied whole instead, with the dump tools as M(wabiz.migration.db_dump) does, and verified
    by the row counts and checksums of every table, when it is missing on the target, its schema differs
    (columns, indexes, triggers, foreign keys, views, routines, sequences), a differing table has no primary
    key, or has triggers, foreign keys or generated columns, more than a quarter of a table's row groups
    changed, or the copied rows did not verify.
  - Writes C(manifest.json) into O(dest), the source's tables with their row counts at this moment (with
    checksums for databases copied whole), and what was copied. M(wabiz.migration.db_dump) can check a later
    dump of the source against it (O(wabiz.migration.db_dump#module:expect)).
  - The source is only read. Passwords reach the dump tools through 0600 files, never a command line.
author:
  - wabiz.migration maintainers (@wabiz)
requirements:
  - The database client tools on the host that runs the module (for databases copied whole).
options:
  databases:
    description: The databases to bring up to date.
    type: list
    elements: str
    required: true
  target:
    description: The server that holds the copy. It must not be the source server.
    type: dict
    required: true
    suboptions:
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
attributes:
  check_mode:
    support: full
    details: Checks that both servers answer and hold the databases; compares and copies nothing.
  diff_mode:
    support: none
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - wabiz.migration.db
  - wabiz.migration.db.attributes
  - wabiz.migration.db.work_lock
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
    dest: /var/backups/wabiz/sync
    target:
      login_host: db-new.example.com
      login_port: 3306
      login_password: "{{ vault_new_db_password }}"
  register: sync
'''

RETURN = r'''
manifest_path:
  description: The manifest file.
  returned: success, except in check mode
  type: str
synced:
  description: Per database brought up row by row, the tables that differed with the rows deleted and copied, and the counters set.
  returned: success, except in check mode
  type: dict
  sample: {wamessages_0: {tables: {messages: {deleted: 3, copied: 41}}, counters: []}}
copied_whole:
  description: The databases copied whole, each with the reason.
  returned: success, except in check mode
  type: dict
  sample: {waweb: "table tokens differs and has no primary key"}
seconds:
  description: Wall-clock seconds of the comparison, the row copies, the whole copies and the final verification.
  returned: success, except in check mode
  type: dict
'''

import hashlib
import json
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wabiz.migration.plugins.module_utils._db import (
    DbError, Server, db_argument_spec, inventory_of, target_options)
from ansible_collections.wabiz.migration.plugins.module_utils._dbsync import (
    BUCKETS, MAX_DIFFERING_BUCKETS, PG_SESSION, counters, database_shape, sync_counters, sync_rows,
    table_sums)
from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import (
    Credentials, Endpoint, ToolError, Transfer, WorkLock, choose_tools, compare, files_of, parallel, prepare_dest,
    write_manifest)


def why_not_rows(table):
    if not table.primary_key:
        return 'has no primary key'
    return 'has %s' % ' and '.join(what for what, present in (
        ('triggers', table.triggers), ('foreign keys', table.foreign_keys), ('generated columns', table.generated))
        if present)


def digest(sums):
    """The bucket sums of a table as one value, for the record."""
    return hashlib.sha256(json.dumps(sorted(sums.items())).encode('utf-8')).hexdigest()


def sync_database(source, target, dbname):
    """Bring one database up to date row by row and verify it.

    Returns ('rows', {'tables': {label: rows, digest}, 'synced': ..., 'counters': ...}) or ('whole', reason).
    """
    if dbname not in target.databases():
        return 'whole', 'missing on the target'
    fingerprint, tables = database_shape(source, dbname)
    if fingerprint != database_shape(target, dbname)[0]:
        return 'whole', 'its schema differs from the source'
    record, synced = {}, {}
    for label, table in sorted(tables.items()):
        try:
            want, have, pg_text = table_sums(source, target, dbname, table)
        except DbError as exc:
            if not (source.ping(dbname) and target.ping(dbname)):
                raise  # a server went away: the step fails, a re-run resumes
            # A column the row hash cannot take (a collation mix, say): the dump tools copy it.
            return 'whole', 'the rows of table %s could not be hashed (%s)' % (label, exc)
        record[label] = {'rows': sum(count for count, total in want.values()), 'digest': digest(want)}
        if want == have:
            continue  # equal row counts and hash sums in each of the 4096 buckets: the table is verified
        if not table.rows_copyable:
            return 'whole', 'table %s differs and %s' % (label, why_not_rows(table))
        result = sync_rows(source, target, dbname, table, want, have, pg_text)
        if result is None:
            return 'whole', 'more than %d of %d row groups of table %s changed' % (MAX_DIFFERING_BUCKETS, BUCKETS,
                                                                                   label)
        if not result.pop('verified'):
            return 'whole', 'table %s did not verify after its rows were copied' % label
        synced[label] = result
    counters_set = sync_counters(source, target, dbname)
    if counters(source, dbname) != counters(target, dbname):
        return 'whole', 'its auto-increment values or sequences could not be set'
    return 'rows', {'tables': record, 'synced': synced, 'counters': counters_set}


def main():
    spec = db_argument_spec()
    spec.update(
        databases=dict(type='list', elements='str', required=True), dest=dict(type='path', required=True),
        method=dict(type='str', default='auto', choices=['auto', 'mydumper', 'mysqldump', 'pg_dump']),
        jobs=dict(type='int', default=2), lock_timeout=dict(type='int', default=900),
        target=dict(type='dict', required=True, options=target_options()))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    source = Server.from_module(module)
    settings = params['target']
    target = Server(params['engine'], settings['login_host'], settings['login_port'], settings['login_user'],
                    settings['login_password'], params['connect_timeout'])
    work_lock = WorkLock(params['dest'].rstrip('/') + '.lock', params['lock_timeout'])
    try:
        databases = source.select(include=params['databases'])
        if target.identity() == source.identity():
            raise ToolError('the target is the source server %s: a migration never writes to its source'
                            % source.describe())
        present = set(target.databases()) & set(databases)
        if module.check_mode:
            module.exit_json(changed=True, plan=dict(databases=databases, on_target=sorted(present)))
        work_lock.acquire()
        prepare_dest(params['dest'])
        seconds = {}

        def worker(dbname):
            def task():
                own = [Server(s.engine, s.host, s.port, s.user, s.password, s.connect_timeout,
                              session=PG_SESSION if s.engine == 'pgsql' else ()) for s in (source, target)]
                try:
                    return sync_database(own[0], own[1], dbname)
                finally:
                    for server in own:
                        server.close()
            return task
        started = time.time()
        outcome = parallel(params['jobs'], dict((d, worker(d)) for d in databases))
        seconds['rows'] = round(time.time() - started, 2)
        by_rows = dict((d, r[1]) for d, r in outcome.items() if r[0] == 'rows')
        whole = dict((d, r[1]) for d, r in outcome.items() if r[0] == 'whole')
        synced = dict((d, {'tables': r['synced'], 'counters': r['counters']}) for d, r in by_rows.items())
        record = dict((d, {'tables': r['tables']}) for d, r in by_rows.items())
        files = {}
        if whole:
            started = time.time()
            tools = choose_tools(module, params['engine'], params['method'])
            for dbname in sorted(set(whole) & set(target.databases())):
                target.drop_database(dbname)
            with Credentials() as credentials:
                transfer = Transfer(module, tools, credentials,
                                    source=Endpoint(params['engine'], source.host, source.port, source.user,
                                                    source.password),
                                    target=Endpoint(params['engine'], target.host, target.port, target.user,
                                                    target.password), jobs=params['jobs'])
                transfer.copy(params['dest'], sorted(whole))
            files = files_of(transfer.dump_path(params['dest'])) if tools['method'] == 'mydumper' else dict(
                (k, v) for d in sorted(whole) for k, v in files_of(transfer.dump_path(params['dest'], d)).items())
            seconds['whole'] = round(time.time() - started, 2)
            started = time.time()
            # The source is still: its inventory and the copy's are taken now, side by side.
            inventories = parallel(2, {'source': lambda: inventory_of(source, sorted(whole), True),
                                       'target': lambda: inventory_of(target, sorted(whole), True)})
            record.update(inventories['source'])
            problems = compare(inventories['source'], inventories['target'])
            seconds['verify'] = round(time.time() - started, 2)
            if problems:
                module.fail_json(msg='The copy on %s does not match the source: %s'
                                     % (target.describe(), '; '.join(problems)), problems=problems)
        manifest = dict(kind='sync', engine=params['engine'], databases=record, files=files, synced=synced,
                        copied_whole=whole, created=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
                        source=dict(host=source.host, port=source.port, version=source.version(),
                                    identity=source.identity()))
        path = write_manifest(params['dest'], manifest)
    except (DbError, ToolError) as exc:
        module.fail_json(msg=str(exc))
    finally:
        work_lock.release()
        source.close()
        target.close()
    module.exit_json(changed=True, manifest_path=path, synced=synced, copied_whole=whole, seconds=seconds)


if __name__ == '__main__':
    main()
