#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: settings_restore
short_description: Restore settings, registration and keys onto an On-Premises client
version_added: 1.0.0
description:
  - Calls C(POST /v1/settings/restore) with data made by M(wabiz.migration.settings_backup) and its password.
  - The target must run and must not be registered yet; after the restore it initialises itself with the
    restored number. A registered client is left alone unless O(force=true), because restoring onto it
    stops it until its containers are restarted.
  - A wrong password or damaged data fails with a clear message and changes nothing on the client.
author:
  - wabiz.migration maintainers (@wabiz)
seealso:
  - module: wabiz.migration.settings_backup
  - module: wabiz.migration.health_info
  - ref: ansible_collections.wabiz.migration.docsite.option1
    description: 'Option 1: the settings only.'
options:
  password:
    description: The password the backup was made with.
    type: str
    required: true
  src:
    description: File with the backup data.
    type: path
  data:
    description: The backup data itself.
    type: str
  force:
    description:
      - Restore even when the client is already registered. The client then refuses all calls until its
        containers are restarted.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - wabiz.migration.api
  - wabiz.migration.api.attributes
attributes:
  check_mode:
    support: full
    details: Reads the client's health to decide whether a restore would happen; restores nothing.
  diff_mode:
    support: none
notes:
  - Exactly one of O(src) and O(data) is needed.
  - Multiconnect setups restore only onto the same number of Masters and Coreapps as the backup was made on.
'''

EXAMPLES = r'''
- name: Restore the old client's settings onto the new one
  wabiz.migration.settings_restore:
    api_url: https://wa-new.example.com:9090
    api_password: "{{ vault_wa_admin_password }}"
    ca_path: /etc/wabiz/new-ca.pem
    password: "{{ vault_wa_backup_password }}"
    src: /var/backups/wabiz/settings.backup
'''

RETURN = r'''
registered_before:
  description: Whether the client was registered before this task.
  returned: always
  type: bool
  sample: false
restart_required:
  description: Whether the client's containers must be restarted (a forced restore onto a registered client).
  returned: always
  type: bool
  sample: false
'''

import re

from ansible_collections.wabiz.migration.plugins.module_utils._api import summarise
from ansible_collections.wabiz.migration.plugins.module_utils._module import ApiModule

BAD_BACKUP = ('The backup password does not match this backup, or the data is damaged, or it was made on a '
              'setup with another number of Masters and Coreapps. Nothing was changed on the client.')


# What /v1/settings/backup returns as "data": one line of base64 (or base64url) text; never spaces or markup.
BACKUP_DATA = re.compile(r'^[A-Za-z0-9+/_-]{16,}={0,2}$')


def main():
    wa = ApiModule(dict(password=dict(type='str', required=True, no_log=True), src=dict(type='path'),
                        data=dict(type='str', no_log=True), force=dict(type='bool', default=False)),
                   mutually_exclusive=[('src', 'data')], required_one_of=[('src', 'data')],
                   supports_check_mode=True)
    params = wa.params
    data = params['data']
    if params['src']:
        try:
            with open(params['src'], 'r') as handle:
                data = handle.read().strip()
        except (IOError, OSError) as exc:
            wa.module.fail_json(msg='Cannot read the backup file %s: %s' % (params['src'], exc))
    if not data:
        wa.module.fail_json(msg='The backup data is empty')
    wa.secret(data)
    if not BACKUP_DATA.match(data):
        # Checked here, not by the client: a wrong file must not cost a restore attempt on a live client.
        wa.module.fail_json(msg='%s is not a settings backup: expected the data string /v1/settings/backup returns '
                                '(one line of encoded text, as settings_backup writes it)'
                                % (params['src'] or 'data'))

    health = wa.call('GET', '/v1/health').get('health', {})
    registered = any(row['gateway_status'] not in (None, 'unregistered') for row in summarise(health)['nodes'])
    if registered and not params['force']:
        wa.exit(changed=False, registered_before=True, restart_required=False,
                msg='The client is already registered: nothing restored (force=true restores and stops it).')
    if not wa.module.check_mode:
        wa.call('POST', '/v1/settings/restore', {'password': params['password'], 'data': data},
                hints={1009: BAD_BACKUP, 1014: BAD_BACKUP})
    wa.exit(changed=True, registered_before=registered, restart_required=registered)


if __name__ == '__main__':
    main()
