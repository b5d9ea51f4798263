#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: db_restore
short_description: Restore a dump made by db_dump and verify it table by table
version_added: 1.0.0
description:
  - Checks the dump files against the SHA-256 sums in C(manifest.json), restores every database of the
    manifest with the tools it was made with (C(psql), C(mariadb), C(myloader)), then compares databases,
    tables, exact row counts and checksums with the manifest. Any difference fails the task, so the new
    client never starts on an incomplete copy.
  - Refuses to write into the server the dump was taken from, and into databases that exist already
    unless O(replace=true) (a resumed migration).
author:
  - wabiz.migration maintainers (@wabiz)
requirements:
  - The database client tools on the host that runs the module (Debian packages mariadb-client, postgresql-client, mydumper).
seealso:
  - module: wabiz.migration.db_dump
  - ref: ansible_collections.wabiz.migration.docsite.verification
    description: What is compared before the new client starts, and why a planted change cannot pass.
options:
  src:
    description: The dump directory made by M(wabiz.migration.db_dump).
    type: path
    required: true
  jobs:
    description: Databases restored at the same time (and C(myloader) threads).
    type: int
    default: 2
  replace:
    description:
      - Drop the manifest's databases on the target first when they exist. The manifest's names are checked to be
        the client's (its prefix followed by the client's names) before anything is dropped.
    type: bool
    default: false
  name_prefix:
    description:
      - The target client's database prefix (its C(WA_DB_NAME_PREFIX)) when it differs from the source's, which
        the dump's manifest records (M(wabiz.migration.db_dump)'s O(wabiz.migration.db_dump#module:name_prefix)).
        Each database is restored under the target prefix followed by its name after the source prefix, for
        example C(old_wacore) as C(new_wacore); the dump files keep the source's names.
      - Not given, the databases keep the names the dump has.
    type: str
    default: null
attributes:
  check_mode:
    support: full
    details: Checks the manifest, the files and the target; restores nothing.
  diff_mode:
    support: none
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - wabiz.migration.db
  - wabiz.migration.db.attributes
  - wabiz.migration.db.work_lock
'''

EXAMPLES = r'''
- name: Restore the old client's databases on the new server
  wabiz.migration.db_restore:
    engine: mysql
    login_host: db-new.example.com
    login_password: "{{ vault_new_db_password }}"
    src: /var/backups/wabiz/dump
'''

RETURN = r'''
databases:
  description: The restored databases, by their names on the target.
  returned: always
  type: list
  elements: str
  sample: [wacore, wamessages_0, wamessages_1, waweb]
names:
  description: Each database of the dump with its name on the target.
  returned: success
  type: dict
  sample: {wacore: biz2_wacore, wamessages_0: biz2_wamessages_0}
seconds:
  description: Seconds spent restoring and verifying.
  returned: success, except in check mode
  type: dict
  sample: {restore: 12.4, verify: 1.9}
'''

import os
import time

from ansible_collections.wabiz.migration.plugins.module_utils._db import inventory_of, target_names
from ansible_collections.wabiz.migration.plugins.module_utils._dbmodule import DbModule
from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import (
    Credentials, ToolError, Transfer, choose_tools, compare, files_of, read_manifest)


def check_files(src, manifest):
    """The dump files must be exactly those the manifest lists, byte for byte."""
    found = {}
    for name in os.listdir(src):
        full = os.path.join(src, name)
        if name not in ('manifest.json', '.wabiz-dump'):
            found.update(files_of(full))
    if found != manifest['files']:
        changed = sorted(k for k in set(found) | set(manifest['files']) if found.get(k) != manifest['files'].get(k))
        raise ToolError('the dump in %s does not match its manifest (missing, extra or changed: %s)'
                        % (src, ', '.join(changed[:10])))


def main():
    db = DbModule(dict(src=dict(type='path', required=True), jobs=dict(type='int', default=2),
                       replace=dict(type='bool', default=False),
                       # Not given: the names the dump has (the fragment's default would strip their prefix).
                       name_prefix=dict(type='str')), work_dir='src')
    module, params, target = db.module, db.params, db.server
    with db:
        if not module.check_mode:
            db.lock()  # an earlier run's orphaned dump or restore of this directory finishes first
        manifest = read_manifest(params['src'])
        if manifest.get('kind', 'dump') != 'dump':
            raise ToolError('%s holds no verified dump but a %s record: %s' % (params['src'], manifest['kind'], {
                'live': 'a copy taken while the source still changed, never verified',
                'sync': "db_sync's inventory of a source, with only the databases it copied whole"}.get(
                    manifest['kind'], 'unknown kind')))
        databases = sorted(manifest['databases'])
        db.fail_extra = dict(databases=databases)
        if manifest['engine'] != params['engine']:
            raise ToolError('the dump is of a %s server, the target is %s: engines must match'
                            % (manifest['engine'], params['engine']))
        db.never_into_source(target, manifest['source']['identity'], 'the dump was taken from it')
        check_files(params['src'], manifest)
        tools = choose_tools(module, params['engine'], manifest['method'])
        names = target_names(databases, manifest.get('name_prefix'), params['name_prefix'])
        present = db.replaceable(target, names.values(), params['replace'])
        if module.check_mode:
            module.exit_json(changed=True, databases=sorted(names.values()), names=names)
        for dbname in present:
            target.drop_database(dbname)
        started = time.time()
        with Credentials() as credentials:
            Transfer(module, tools, credentials, target=target, jobs=params['jobs'], names=names).load(
                params['src'], databases)
        seconds = dict(restore=round(time.time() - started, 2))
        started = time.time()
        checksums = any('checksum' in t for d in manifest['databases'].values() for t in d['tables'].values())
        problems = compare(manifest['databases'], inventory_of(target, sorted(names.values()), checksums),
                           names=names)
        seconds['verify'] = round(time.time() - started, 2)
        if problems:
            module.fail_json(msg='The restore on %s does not match the dump: %s'
                                 % (target.describe(), '; '.join(problems)), problems=problems, databases=databases)
    module.exit_json(changed=True, databases=sorted(names.values()), names=names, seconds=seconds)


if __name__ == '__main__':
    main()
