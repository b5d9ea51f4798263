#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: db_drop
short_description: Drop an old client's databases, only with the exact list confirmed
version_added: 1.0.0
description:
  - Drops the given databases. O(confirm) must repeat the list exactly (the names sorted and joined with
    commas), so a typo or a changed list drops nothing.
  - Used by the playbook C(wabiz.migration.drop_old_database) after the new client has served for 14 days.
author:
  - wabiz.migration maintainers (@wabiz)
seealso:
  - module: wabiz.migration.db_info
  - module: wabiz.migration.setup_lock
  - ref: ansible_collections.wabiz.migration.docsite.runbook
    description: 'The operator''s guide: dropping the old database after 14 healthy days.'
options:
  databases:
    description:
      - The databases to drop, each one of the client's of O(name_prefix) (the module refuses any other name
        before it drops anything). Those already gone are skipped.
    type: list
    elements: str
    required: true
  confirm:
    description: The same names, sorted and joined with commas, for example C(wacore,wamessages_0,waweb).
    type: str
    required: true
attributes:
  check_mode:
    support: full
    details: Reports what would be dropped.
  diff_mode:
    support: none
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - wabiz.migration.db
  - wabiz.migration.db.attributes
'''

EXAMPLES = r'''
- name: Drop the old client's databases
  wabiz.migration.db_drop:
    engine: mysql
    login_host: db-old.example.com
    login_password: "{{ vault_old_db_password }}"
    databases: [wacore, wamessages_0, waweb]
    confirm: wacore,wamessages_0,waweb
'''

RETURN = r'''
dropped:
  description: The databases dropped (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [wacore, wamessages_0, wamessages_1, waweb]
'''

from ansible_collections.wabiz.migration.plugins.module_utils._db import only_client_databases
from ansible_collections.wabiz.migration.plugins.module_utils._dbmodule import DbModule


def main():
    db = DbModule(dict(databases=dict(type='list', elements='str', required=True), confirm=dict(type='str', required=True)))
    wanted = sorted(set(db.params['databases']))
    if db.params['confirm'] != ','.join(wanted):
        db.module.fail_json(msg='confirm must be exactly %r; nothing was dropped' % ','.join(wanted))
    with db:
        only_client_databases(wanted, db.params['name_prefix'])
        present = [d for d in wanted if d in db.server.databases()]
        if not db.module.check_mode:
            for dbname in present:
                db.server.drop_database(dbname)
    db.module.exit_json(changed=bool(present), dropped=present)


if __name__ == '__main__':
    main()
