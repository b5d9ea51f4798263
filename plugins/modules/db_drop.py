#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: db_drop
short_description: Drop an old On-Premises client's databases, only with the exact list confirmed
version_added: 0.1.0
description:
  - Drops the given databases. O(confirm) must repeat the list exactly (the names sorted and joined with
    commas), so a typo or a changed list drops nothing.
  - Used by C(playbooks/drop_old_database.yml) after the new client has served for 14 days.
author:
  - wabiz.migration maintainers (@wabiz)
options:
  engine:
    description: V(mysql) or V(pgsql). If not set, E(WA_DB_ENGINE) is used.
    type: str
    required: true
    choices: [mysql, pgsql]
  login_host:
    description: Server. If not set, E(WA_DB_HOSTNAME) is used.
    type: str
    default: 127.0.0.1
  login_port:
    description: Port. If not set, E(WA_DB_PORT) is used.
    type: int
  login_user:
    description: User allowed to drop databases. If not set, E(WA_DB_USERNAME) is used.
    type: str
    default: root
  login_password:
    description: Its password. If not set, E(WA_DB_PASSWORD) is used.
    type: str
  connect_timeout:
    description: Seconds to wait for a connection.
    type: int
    default: 10
  databases:
    description: The databases to drop. Those already gone are skipped.
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
  platform:
    support: full
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
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
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wabiz.migration.plugins.module_utils._db import DbError, Server, db_argument_spec


def main():
    spec = db_argument_spec()
    spec.update(databases=dict(type='list', elements='str', required=True), confirm=dict(type='str', required=True))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    wanted = sorted(set(module.params['databases']))
    if module.params['confirm'] != ','.join(wanted):
        module.fail_json(msg='confirm must be exactly %r; nothing was dropped' % ','.join(wanted))
    server = Server.from_module(module)
    try:
        present = [d for d in wanted if d in server.databases()]
        if not module.check_mode:
            for dbname in present:
                server.drop_database(dbname)
    except DbError as exc:
        module.fail_json(msg=str(exc))
    finally:
        server.close()
    module.exit_json(changed=bool(present), dropped=present)


if __name__ == '__main__':
    main()
