#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: db_capture
short_description: Follow the changes of databases copied ahead, so the downtime works on them only
version_added: 1.1.0
description:
  - Run after a copy ahead (M(wabiz.migration.db_dump) with O(wabiz.migration.db_dump#module:live=true)), while
    the old client still serves. With O(state=present), per database, it marks where the target's changes begin,
    then takes one moment of the source from which on its changes are known, and compares every table of the
    source at that moment with the target by the strong row digest of M(wabiz.migration.db_sync), mending the
    rows that differ from the source as of that moment. The target then holds the source as of that moment,
    proven; the source's row counts and digest sums then are written to C(manifest.json) in O(dest).
  - PostgreSQL follows with logical replication slots (plugin C(test_decoding)), one on the target, then one on
    the source created with an exported snapshot. The slots are all this module writes to the source server; a
    slot keeps the server's WAL until it is dropped, which M(wabiz.migration.db_sync) does once the copy is
    verified, and O(state=absent) (the rollback runs it) otherwise.
  - MariaDB follows with the binary log (C(binlog_format=ROW) on both servers), from the target's current position
    and from a consistent snapshot of the source and its binary log position (MariaDB's C(binlog_snapshot_file),
    C(binlog_snapshot_position)). Nothing is written to either server; the binary log must still hold those
    positions at the sync. MySQL reports no such position, and is compared in full.
  - On MariaDB the log is not taken at its word. Right before the snapshot, at a moment no transaction holds
    uncommitted writes, the source's user statistics (C(userstat), per table the rows changed by any session) and
    InnoDB's table ids are read; M(wabiz.migration.db_sync) reads them again in the downtime. A table whose count
    of changed rows is not the number of rows the log holds since (a session with C(sql_log_bin=0), a rolled-back
    transaction), or whose id moved (a C(TRUNCATE) kept out of the log), is compared in full. Any statement logged
    on the source since counts against every captured database.
  - On MariaDB, once every database is captured, each catches up, in a few passes until one compares at most 200
    rows. Each pass compares and mends the rows logged since at a new snapshot and moves the moment there, so that the
    downtime sees only what the old client writes after this step, not what it wrote while a large database was
    compared. A pass that cannot prove its result (a statement logged for the database, a write on the target by
    anyone else, a schema change) leaves the moment where it was, which stays true, and says why in
    RV(caught_up).
  - M(wabiz.migration.db_sync) with O(wabiz.migration.db_sync#module:captured) then compares in the downtime only
    the rows whose keys were written since on the source or by anyone on the target, so its work follows what
    changed, not the size of the data.
  - A database that cannot be captured (missing on the target, its schema differs, a differing table without a
    primary key) is listed in RV(not_captured) with nothing left behind; M(wabiz.migration.db_sync) compares it in
    full. When a server cannot capture at all (PostgreSQL without C(wal_level=logical), the REPLICATION right or
    free slots; MariaDB without a row-based binary log, binary log filters, C(userstat=1) on the source, the BINLOG
    MONITOR, REPLICATION SLAVE and PROCESS rights or C(mariadb-binlog); MySQL), nothing is created and the reasons
    are returned, or the module fails with O(required=true).
author:
  - wabiz.migration maintainers (@wabiz)
seealso:
  - module: wabiz.migration.db_sync
  - module: wabiz.migration.db_dump
  - ref: ansible_collections.wabiz.migration.docsite.verification
    description: What is compared before the new client starts, with and without change capture.
options:
  databases:
    description: The source databases copied ahead.
    type: list
    elements: str
    required: true
  target:
    description: The server that holds the copy. It must not be the source server.
    type: dict
    required: true
    suboptions:
      engine:
        description: The target's engine, when given; it must be the source's.
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
        description: The target client's database prefix when it differs from the source's.
        type: str
  dest:
    description:
      - Private directory (mode C(0700)) for the capture's manifest, read by M(wabiz.migration.db_sync). An existing
        directory must be empty or hold an earlier record of this collection. Not used with O(state=absent).
    type: path
  state:
    description:
      - V(present) starts following the databases (an earlier capture of them is dropped and started again);
        V(caught_up) brings the capture already in O(dest) up to now (MariaDB; on PostgreSQL it is left as it
        is), for example right before the stop when the capture ran long before; V(absent) drops their slots on
        both servers.
    type: str
    choices: [present, caught_up, absent]
    default: present
  required:
    description: Fail when a server cannot capture changes, instead of returning why.
    type: bool
    default: false
  jobs:
    description: Databases worked on at the same time.
    type: int
    default: 2
attributes:
  check_mode:
    support: full
    details: Returns what would keep the servers from capturing (RV(problems)); creates and drops nothing.
  diff_mode:
    support: none
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - wabiz.migration.db
  - wabiz.migration.db.attributes
  - wabiz.migration.db.rows_in_memory
'''

EXAMPLES = r'''
- name: While the old client serves, follow the changes of the databases copied ahead
  wabiz.migration.db_capture:
    engine: pgsql
    login_host: db-old.example.com
    login_password: "{{ vault_old_db_password }}"
    databases: "{{ copy.databases }}"
    dest: /var/backups/wabiz/capture
    target:
      login_host: db-new.example.com
      login_port: 5432
      login_password: "{{ vault_new_db_password }}"

- name: Old client stopped, the changes since copied and verified (the slots are dropped then)
  wabiz.migration.db_sync:
    engine: pgsql
    login_host: db-old.example.com
    login_password: "{{ vault_old_db_password }}"
    databases: "{{ copy.databases }}"
    captured: /var/backups/wabiz/capture/manifest.json
    dest: /var/backups/wabiz/sync
    target:
      login_host: db-new.example.com
      login_port: 5432
      login_password: "{{ vault_new_db_password }}"
'''

RETURN = r'''
captured:
  description: The databases followed from now on, each with the moment it was compared at (the source's WAL position, or binary log file and position).
  returned: success with O(state=present), except in check mode
  type: dict
  sample: {wacore: "0/3A01F28", wamessages_0: "0/3A01F60"}
not_captured:
  description: The databases that are not followed, with the reason; M(wabiz.migration.db_sync) compares them in full.
  returned: success with O(state=present), except in check mode
  type: dict
  sample: {waweb: "table tokens differs and cannot be mended row by row"}
orphans_dropped:
  description:
    - PostgreSQL, O(state=present) - replication slots of these databases that an earlier capture between the same
      two servers left (a run that died, a lost journal), found by their names and dropped before this capture
      made its own.
  returned: success
  type: list
  elements: str
  sample: [wabiz_src_3f2a9c1d0b7e4a5c6d8e9f01]
problems:
  description: Why the servers cannot capture changes at all (then nothing was created).
  returned: always with O(state=present)
  type: list
  elements: str
  sample: ["wal_level is replica on the pgsql server db-old:5432 as root: set wal_level = logical (postgresql.conf; a restart)"]
caught_up:
  description:
    - MariaDB, per database captured, each catch-up pass's number of rows compared, or why the last pass left the
      moment where it was.
  returned: success with O(state=present) on MariaDB, except in check mode
  type: dict
  sample: {wacore: [5120, 184], wamessages_0: [3311, "table messages was written on the target"]}
manifest_path:
  description: The capture's manifest, for M(wabiz.migration.db_sync)'s O(wabiz.migration.db_sync#module:captured).
  returned: success with O(state=present), except in check mode
  type: str
  sample: /var/backups/wabiz/capture/manifest.json
dropped:
  description: The slots dropped, by server (C(source), C(target)); in check mode, the slots there are.
  returned: success with O(state=absent)
  type: dict
  sample: {source: [wabiz_src_0c1d2e3f4a5b6c7d8e9f0a1b], target: [wabiz_tgt_1b2c3d4e5f6a7b8c9d0e1f2a]}
left:
  description:
    - By server, why its slots could not be dropped (it cannot be reached) and the statement that drops them once
      it is back. The other server's are dropped all the same.
  returned: success with O(state=absent)
  type: dict
  sample: {target: "Cannot connect to the pgsql server db-new:5432 as root: ... Once it is back: SELECT ..."}
'''

import os
import time

from ansible_collections.wabiz.migration.plugins.module_utils._binlog import BinlogReader
from ansible_collections.wabiz.migration.plugins.module_utils._capture import (
    capture_database, caught_up, drop_all_slots, problems, read_capture)
from ansible_collections.wabiz.migration.plugins.module_utils._db import target_names, target_options
from ansible_collections.wabiz.migration.plugins.module_utils._dbmodule import DbModule
from ansible_collections.wabiz.migration.plugins.module_utils._dbsync import IN_MEMORY_ROWS, PG_SESSION, Spill
from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import (
    MANIFEST, ToolError, parallel, prepare_dest, write_manifest)


def main():
    db = DbModule(dict(
        databases=dict(type='list', elements='str', required=True), dest=dict(type='path'),
        state=dict(type='str', default='present', choices=['present', 'caught_up', 'absent']),
        required=dict(type='bool', default=False), jobs=dict(type='int', default=2),
        rows_in_memory=dict(type='int', default=IN_MEMORY_ROWS),
        target=dict(type='dict', required=True, options=target_options())),
        required_if=[('state', 'present', ['dest']), ('state', 'caught_up', ['dest'])])
    module, params, source = db.module, db.params, db.server
    with db, BinlogReader(module) as binlog:
        target = db.target(params['target'])
        spill = Spill(params['dest'], params['rows_in_memory'])
        names = target_names(params['databases'], params['name_prefix'], params['target']['name_prefix'])
        if params['state'] == 'absent':
            dropped, left = drop_all_slots(source, target, params['databases'], names, module.check_mode)
            module.exit_json(changed=bool(dropped['source'] or dropped['target']), dropped=dropped, left=left)
        identities = {'source': source.identity(), 'target': target.identity()}
        db.never_into_source(target, identities['source'], source.describe())
        found = (problems(source, len(params['databases']), binlog)
                 + problems(target, len(params['databases']), binlog, source=False))
        if found and params['required']:
            raise ToolError('Change capture is required (wabiz_change_capture=on) but cannot run: %s. Fix it, or set '
                            'wabiz_change_capture=auto to compare the databases in full in the downtime.'
                            % '; '.join(found))
        if module.check_mode or found:
            module.exit_json(changed=False, problems=found, captured={}, not_captured=dict(
                (d, 'the servers cannot capture changes') for d in params['databases']) if found else {})

        def on_own_connections(work):
            """``work(source, target)`` on connections of its own (the databases are worked on side by side)."""
            def task():
                own = [server.sibling(session=PG_SESSION if server.engine == 'pgsql' else ())
                       for server in (source, target)]
                try:
                    return work(*own)
                finally:
                    for server in own:
                        server.close()
            return task

        def capture(dbname):
            return on_own_connections(lambda s, t: capture_database(s, t, dbname, names[dbname], identities, spill))

        def catch_up(dbname):
            return on_own_connections(lambda s, t: caught_up(s, t, dbname, names[dbname], captured[dbname], binlog))

        if params['state'] == 'present':
            prepare_dest(params['dest'])
            outcome = parallel(params['jobs'], dict((d, capture(d)) for d in params['databases']))
            captured = dict((d, r[1]) for d, r in outcome.items() if r[0] == 'captured')
            not_captured = dict((d, r[1]) for d, r in outcome.items() if r[0] != 'captured')
        else:
            earlier = read_capture(os.path.join(params['dest'], MANIFEST), source, target)
            captured = dict((d, r) for d, r in earlier['databases'].items() if d in params['databases'])
            not_captured = dict((d, earlier['not_captured'].get(d, 'not captured before'))
                                for d in params['databases'] if d not in captured)
        if source.engine == 'mysql':
            # Once every database is captured, each is brought up to now, so that the downtime only sees what the
            # old client writes after this step.
            captured = parallel(params['jobs'], dict((d, catch_up(d)) for d in captured))
        path = write_manifest(params['dest'], dict(
            kind='capture', engine=params['engine'], source=identities['source'], target=identities['target'],
            databases=captured, not_captured=not_captured,
            created=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())))
    module.exit_json(changed=bool(captured), problems=[], manifest_path=path, not_captured=not_captured,
                     orphans_dropped=sorted(s for r in captured.values() for s in r.get('orphans_dropped', []))
                     if params['state'] == 'present' else [],
                     captured=dict((d, r['moment']) for d, r in captured.items()),
                     caught_up=dict((d, r['caught_up']) for d, r in captured.items() if 'caught_up' in r))


if __name__ == '__main__':
    main()
