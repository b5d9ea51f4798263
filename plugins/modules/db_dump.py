#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: db_dump
short_description: Dump an On-Premises client's databases with a verifiable manifest
version_added: 1.0.0
description:
  - Dumps the given databases with the engine's own tools into O(dest), a private directory, and writes
    C(manifest.json) next to the dump. The manifest lists every database and table of the source with its
    exact row count and checksum, the dump files with their SHA-256, and the tool versions, so that
    M(wabiz.migration.db_restore) can verify a restore table by table.
  - MySQL/MariaDB use C(mydumper) (parallel) when installed, else C(mariadb-dump)/C(mysqldump) with
    C(--single-transaction --quick --hex-blob); PostgreSQL uses C(pg_dump) (plain SQL, C(--create)).
    Databases are dumped in parallel (O(jobs)).
  - With O(restore_to), each dump is also restored into that server while it is written (C(pg_dump | tee |
    psql), C(mariadb-dump | tee | mariadb); C(mydumper) dumps, then C(myloader) loads) and the restore is
    verified against the manifest before the module returns.
  - The source is only read. Credentials reach the tools through 0600 option files or a 0600 C(PGPASSFILE)
    in a private temporary directory, never on a command line.
author:
  - wabiz.migration maintainers (@wabiz)
requirements:
  - The database client tools on the host that runs the module (Debian packages mariadb-client, postgresql-client, mydumper).
seealso:
  - module: wabiz.migration.db_restore
  - module: wabiz.migration.db_sync
  - ref: ansible_collections.wabiz.migration.docsite.verification
    description: What is compared before the new client starts, and why a planted change cannot pass.
  - module: community.mysql.mysql_db
  - module: community.postgresql.postgresql_db
options:
  databases:
    description:
      - The databases to dump, as M(wabiz.migration.db_info) returns them in RV(wabiz.migration.db_info#module:names).
      - Without it, every database of the client (O(name_prefix)) less O(exclude), as the server has them now.
    type: list
    elements: str
  exclude:
    description: Without O(databases), databases left out, for example C(<prefix>waweb) for option 2.
    type: list
    elements: str
    default: []
  dest:
    description:
      - Directory for the dump, created with mode C(0700). An existing directory must be empty or hold an
        earlier dump of this module (it is replaced, so a re-run after a crash dumps again).
    type: path
    required: true
  method:
    description: V(auto) picks C(mydumper) for MySQL/MariaDB when it is installed.
    type: str
    choices: [auto, mydumper, mysqldump, pg_dump]
    default: auto
  jobs:
    description: Databases dumped at the same time (and C(mydumper)/C(myloader) threads).
    type: int
    default: 2
  checksums:
    description: Put table checksums into the manifest (row counts are always there).
    type: bool
    default: true
  live:
    description:
      - The source still changes (its client serves), so take no inventory and verify nothing. The manifest says
        so, and M(wabiz.migration.db_restore) refuses such a dump; with O(restore_to) this is a copy ahead,
        which M(wabiz.migration.db_sync) brings up to date and verifies once the source is still. A PostgreSQL
        target is vacuumed and analyzed afterwards, so that the reads in the downtime write nothing.
    type: bool
    default: false
  progress_interval:
    description:
      - Seconds between progress lines while the dump runs (bytes written of about how many, the rate, the time
        left at that rate), shown in the terminal and in an AWX job's output. The module then runs as an async
        job that the action plugin watches (its status and a small progress file beside O(dest)), the first
        look after half a second.
      - As any async job, its arguments (the passwords among them) are kept in Ansible's remote temporary
        directory (mode 0700) while it runs, where a pipelined task gets them on its standard input.
      - V(0) runs it as a plain module, with no look before it ends (no added latency, for a short dump inside
        the downtime).
    type: int
    default: 0
  expect:
    description:
      - A manifest of M(wabiz.migration.db_sync) or of this module. The dump's inventory of the source must
        equal its databases (tables, row counts, checksums), proving the dump holds the state that was copied.
        Needs O(checksums=true).
    type: path
  restore_to:
    description: Restore into this server while dumping, then verify. It must not be the source server.
    type: dict
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
      replace:
        description: Drop these databases on the target first when they exist (a resumed migration).
        type: bool
        default: false
      name_prefix:
        description:
          - The target client's database prefix when it differs from the source's (O(name_prefix)); each database
            is restored under it, followed by its name after the source prefix (C(old_wacore) as C(new_wacore)).
            The dump files keep the source's names; the manifest records the source prefix and RV(manifest) the
            target names.
        type: str
  name_prefix:
    description:
      - The source client's database prefix (its C(WA_DB_NAME_PREFIX)). Without O(databases), every database
        with it (less O(exclude)) is dumped. The manifest records it, so M(wabiz.migration.db_restore) can rename
        to another prefix too.
    type: str
    default: ''
attributes:
  action:
    support: full
    details: With O(progress_interval), the action plugin runs the module as an async job and shows its progress.
  async:
    support: full
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Checks the databases and the tools and returns the plan; dumps nothing.
  diff_mode:
    support: none
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - wabiz.migration.db
  - wabiz.migration.db.attributes
  - wabiz.migration.db.work_lock
'''

EXAMPLES = r'''
- name: Dump every client database but waweb (option 2)
  wabiz.migration.db_dump:
    engine: mysql
    login_host: db-old.example.com
    login_password: "{{ vault_old_db_password }}"
    databases: "{{ old_dbs.names | reject('equalto', 'waweb') | list }}"
    dest: /var/backups/wabiz/dump
  register: dump

- name: Copy straight into the new server, keeping the dump as the backup
  wabiz.migration.db_dump:
    engine: pgsql
    login_port: 5432
    login_password: "{{ vault_old_db_password }}"
    databases: "{{ old_dbs.names }}"
    dest: /var/backups/wabiz/dump
    restore_to:
      login_host: db-new.example.com
      login_port: 5432
      login_password: "{{ vault_new_db_password }}"
'''

RETURN = r'''
databases:
  description: The dumped databases, by their names on the source.
  returned: success
  type: list
  elements: str
  sample: [wacore, wamessages_0, wamessages_1]
manifest_path:
  description: The manifest file.
  returned: success, except in check mode
  type: str
  sample: /var/backups/wabiz/dump/manifest.json
manifest:
  description: Engine, method, tool versions, source, and per database its tables (rows, checksum) and files.
  returned: success, except in check mode
  type: dict
  sample:
    kind: dump
    engine: mysql
    method: mydumper
    name_prefix: ''
    restore: false
    created: '2026-12-02T21:59:06Z'
    tools:
      dump: mydumper 0.10.0, built against MySQL 10.11.14
      load: myloader 0.10.0, built against MySQL 10.11.14
    source:
      host: db-old.example.com
      port: 3306
      version: 10.11.19-MariaDB-0+deb12u1
      identity: mysql:db-old:3306:/var/lib/mysql/
    dest:
      path: /var/backups/wabiz/dump
      existing: /var/backups/wabiz/dump
      writable: true
      free_bytes: 81432543232
    databases:
      wacore:
        size_bytes: 229376
        tables:
          contacts:
            rows: 30
            checksum: d30-114cabf175a0b39942
          registration:
            rows: 1
            checksum: d1-aaf57e9b673701ff
      wamessages_0:
        size_bytes: 1048576
        tables:
          messages:
            rows: 150
            checksum: d150-8c1f0e2b7a4d3e9f51
    files:
      mydumper/metadata:
        bytes: 75
        sha256: 223de951d70e1b794fccbe80185d2e435b864a5c417016ff07191a9538b56b22
      mydumper/wacore.contacts.sql:
        bytes: 23937
        sha256: 73c9db6bef4b27e5b936803a0aded8c1350e4b5b2b1d3f0c0e8d1f7b6a5c4d3e
bytes:
  description: Size of the dump on disk.
  returned: success, except in check mode
  type: int
  sample: 367126
seconds:
  description: Wall-clock seconds of the dump (and restore), and of the verification.
  returned: success, except in check mode
  type: dict
  sample: {transfer: 0.19, verify: 0.31}
restored:
  description: Whether the databases were restored into O(restore_to) and verified.
  returned: always
  type: bool
  sample: false
'''

import os
import time

from ansible_collections.wabiz.migration.plugins.module_utils._db import inventory_of, target_names, target_options
from ansible_collections.wabiz.migration.plugins.module_utils._dbmodule import DbModule
from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import (
    Credentials, ToolError, Transfer, choose_tools, client_major, compare, files_of, parallel, prepare_dest,
    read_manifest, refuse_unverifiable_tls, room_for, write_manifest)
from ansible_collections.wabiz.migration.plugins.module_utils._progress import Progress


def main():
    db = DbModule(dict(
        databases=dict(type='list', elements='str'), exclude=dict(type='list', elements='str', default=[]),
        dest=dict(type='path', required=True),
        method=dict(type='str', default='auto', choices=['auto', 'mydumper', 'mysqldump', 'pg_dump']),
        jobs=dict(type='int', default=2), checksums=dict(type='bool', default=True),
        live=dict(type='bool', default=False), expect=dict(type='path'),
        progress_interval=dict(type='int', default=0),
        restore_to=dict(type='dict', options=dict(target_options(), replace=dict(type='bool', default=False)))),
        work_dir='dest')
    module, params, source = db.module, db.params, db.server
    if params['expect'] and (params['live'] or not params['checksums']):
        module.fail_json(msg='expect compares the source with a record: it needs checksums=true and live=false')
    with db:
        databases = source.select(params['name_prefix'], params['databases'], params['exclude'])
        if not databases:
            raise ToolError('no client database (%swacore, ...) on the %s%s' % (
                params['name_prefix'], source.describe(),
                ' without %s' % ', '.join(params['exclude']) if params['exclude'] else ''))
        tools = choose_tools(module, params['engine'], params['method'])
        server_version = source.version()
        if params['engine'] == 'pgsql':
            tool, server = client_major(tools['versions']['dump']), client_major(server_version)
            if tool and server and tool[0] < server[0]:
                raise ToolError('pg_dump %s cannot dump a PostgreSQL %s server: install client tools of version %d '
                                'or newer' % (tools['versions']['dump'], server_version, server[0]))
        restore, target, names = params['restore_to'], None, {}
        if restore:
            target = db.target(restore)
            db.never_into_source(target, source.identity(), source.describe())
            names = target_names(databases, params['name_prefix'], restore['name_prefix'])
            db.replaceable(target, names.values(), restore['replace'])
        refuse_unverifiable_tls(tools, (source, target))
        plan = dict(databases=databases, method=tools['method'], tools=tools['versions'], restore=bool(restore),
                    dest=room_for(params['dest']))
        if restore and names != dict((d, d) for d in databases):
            plan['restored_as'] = names
        if module.check_mode:
            module.exit_json(changed=True, restored=False, plan=plan)

        db.lock()
        if restore:
            # Again, now that no earlier run's orphaned restore can be adding databases.
            for dbname in db.replaceable(target, names.values(), True):
                target.drop_database(dbname)
        prepare_dest(params['dest'])
        with Credentials() as credentials:
            transfer = Transfer(module, tools, credentials, source=source,
                                target=restore and target, jobs=params['jobs'], names=names)
            started = time.time()
            # A still source (its client stopped): take its inventory while the dump reads it too.
            tasks = {'transfer': lambda: (transfer.copy if restore else transfer.dump)(params['dest'], databases)}
            if not params['live']:
                tasks['inventory'] = lambda: inventory_of(source, databases, params['checksums'])
            with Progress(params['dest'], lambda: sum(source.size(d) for d in databases),
                          'db_dump of %s' % ', '.join(databases), enabled=params['progress_interval'] > 0):
                outcome = parallel(2, tasks)
            transfer_seconds = time.time() - started
        inventory = outcome.get('inventory', dict((d, {}) for d in databases))
        manifest = dict(plan, engine=params['engine'], kind='live' if params['live'] else 'dump',
                        name_prefix=params['name_prefix'],
                        created=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
                        source=dict(host=source.host, port=source.port, version=server_version,
                                    identity=source.identity()),
                        databases=inventory,
                        files=files_of(transfer.dump_path(params['dest'])) if tools['method'] == 'mydumper' else
                        dict((k, v) for d in databases for k, v in files_of(transfer.dump_path(params['dest'], d)).items()))
        path = write_manifest(params['dest'], manifest)
        db.fail_extra = dict(manifest_path=path)
        seconds = dict(transfer=round(transfer_seconds, 2))
        if restore and params['live'] and params['engine'] == 'pgsql':
            # Still ahead of the downtime: the first read of freshly loaded rows writes their hint bits, and
            # the sync's reads in the downtime would pay for it; the new client gets planner statistics too.
            started = time.time()
            for dbname in databases:
                target.execute('VACUUM (ANALYZE)', dbname=names[dbname])
            seconds['vacuum'] = round(time.time() - started, 2)
        if params['expect']:
            expected = read_manifest(os.path.dirname(params['expect']), os.path.basename(params['expect']))
            problems = compare(expected['databases'], inventory, ('when copied', 'now'))
            if problems:
                module.fail_json(msg='The source %s is not what %s recorded: %s' % (
                    source.describe(), params['expect'], '; '.join(problems)), manifest_path=path, problems=problems)
        if restore and not params['live']:
            started = time.time()
            problems = compare(inventory, inventory_of(target, sorted(names.values()), params['checksums']),
                               names=names)
            seconds['verify'] = round(time.time() - started, 2)
            if problems:
                module.fail_json(msg='The restore on %s does not match the source: %s'
                                     % (target.describe(), '; '.join(problems)), manifest_path=path, problems=problems)
    module.exit_json(changed=True, restored=bool(restore), databases=databases, manifest_path=path, manifest=manifest,
                     seconds=seconds, bytes=sum(f['bytes'] for f in manifest['files'].values()))


if __name__ == '__main__':
    main()
