#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: settings_backup
short_description: Back up the settings, registration and keys of an On-Premises client
version_added: 1.0.0
description:
  - Calls C(POST /v1/settings/backup) with a backup password. The client returns its app settings,
    registration and encryption keys encrypted with that password (not messages, callbacks or users).
  - Writes the encrypted data to O(dest) with mode C(0600), atomically (a temporary file in the same
    directory, then a rename), and returns its SHA-256 checksum; or returns the data itself.
  - The client must be registered and running.
author:
  - wabiz.migration maintainers (@wabiz)
seealso:
  - module: wabiz.migration.settings_restore
  - ref: ansible_collections.wabiz.migration.docsite.option1
    description: 'Option 1: the settings only.'
options:
  password:
    description:
      - Password that encrypts the backup; the same password is needed to restore it.
    type: str
    required: true
  dest:
    description:
      - File to write the backup to (mode C(0600)). Its directory is created (mode C(0700)) when missing.
    type: path
  force:
    description:
      - Replace O(dest) when it exists. With V(false), an existing file is kept and only its checksum is
        returned, so a resumed migration does not take a second backup; O(password) must then be the one
        the kept backup was made with (checked against C(<dest>.check)), or the module fails.
    type: bool
    default: true
  return_content:
    description:
      - Return the encrypted data as RV(data). The whole result is then hidden from every log and callback.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - wabiz.migration.api
  - wabiz.migration.api.attributes
attributes:
  check_mode:
    support: full
    details: Makes no backup call and writes nothing; reports whether O(dest) would be written.
  diff_mode:
    support: none
notes:
  - At least one of O(dest) and O(return_content) is needed.
'''

EXAMPLES = r'''
- name: Back up the old client before it is stopped
  wabiz.migration.settings_backup:
    api_url: https://wa-old.example.com:9090
    api_password: "{{ vault_wa_admin_password }}"
    ca_path: /etc/wabiz/old-ca.pem
    password: "{{ vault_wa_backup_password }}"
    dest: /var/backups/wabiz/settings.backup
  register: backup

- name: Keep the data in a variable instead of a file
  wabiz.migration.settings_backup:
    password: "{{ vault_wa_backup_password }}"
    return_content: true
  register: backup_in_memory
'''

RETURN = r'''
dest:
  description: The file written or kept.
  returned: when O(dest) is given
  type: str
  sample: /var/backups/wabiz/settings.backup
checksum:
  description: SHA-256 of the backup data, in hex.
  returned: success, except in check mode
  type: str
  sample: e616d075730ebe6c75cb55fc02d806596074662fd037307e31b0c8710d5e4b7f
size:
  description: Length of the backup data in bytes.
  returned: success, except in check mode
  type: int
  sample: 1092
data:
  description: The encrypted backup data. Hidden from all output.
  returned: when O(return_content=true)
  type: str
  sample: (hidden in output)
'''

import base64
import hashlib
import hmac
import json
import os

from ansible_collections.wabiz.migration.plugins.module_utils._files import write
from ansible_collections.wabiz.migration.plugins.module_utils._module import ApiModule


CHECK_ITERATIONS = 200000


def password_check(password, salt=None):
    salt = salt or os.urandom(16)
    digest = hashlib.pbkdf2_hmac('sha256', password.encode('utf-8'), salt, CHECK_ITERATIONS)
    return {'salt': base64.b64encode(salt).decode(), 'iterations': CHECK_ITERATIONS,
            'digest': base64.b64encode(digest).decode()}


def password_matches(password, check):
    salt = base64.b64decode(check['salt'])
    digest = hashlib.pbkdf2_hmac('sha256', password.encode('utf-8'), salt, check['iterations'])
    return hmac.compare_digest(base64.b64encode(digest).decode(), check['digest'])


def main():
    wa = ApiModule(dict(password=dict(type='str', required=True, no_log=True), dest=dict(type='path'),
                        force=dict(type='bool', default=True), return_content=dict(type='bool', default=False)),
                   required_one_of=[('dest', 'return_content')], supports_check_mode=True)
    params = wa.params
    dest = params['dest']
    if dest and not os.path.isdir(os.path.dirname(dest) or '.') and not wa.module.check_mode:
        try:
            os.makedirs(os.path.dirname(dest), 0o700)
        except OSError as exc:
            wa.module.fail_json(msg='Cannot create the directory of dest %s: %s' % (dest, exc))
    if dest and os.path.exists(dest) and not params['force'] and not params['return_content']:
        with open(dest, 'rb') as handle:
            content = handle.read()
        if os.path.exists(dest + '.check'):
            with open(dest + '.check') as handle:
                if not password_matches(params['password'], json.load(handle)):
                    wa.module.fail_json(msg='The backup password is not the one the backup in %s was made with. '
                                            'Use that password (the backup cannot be restored with another).' % dest)
        wa.exit(changed=False, dest=dest, checksum=hashlib.sha256(content).hexdigest(), size=len(content),
                msg='kept the existing backup (force=false)')
    if wa.module.check_mode:
        wa.exit(changed=bool(dest), dest=dest)

    reply = wa.call('POST', '/v1/settings/backup', {'password': params['password']},
                    hints={1011: 'Backup needs a registered, running client.'})
    data = (reply.get('settings') or {}).get('data')
    if not isinstance(data, str) or not data or not _is_base64(data):
        wa.module.fail_json(msg='The backup call returned no usable data', keys=sorted(reply))
    content = data.encode('ascii')
    result = dict(checksum=hashlib.sha256(content).hexdigest(), size=len(content))
    if dest:
        write(dest, content)
        write(dest + '.check', json.dumps(password_check(params['password'])).encode('ascii'))
        result.update(changed=True, dest=dest)
    if params['return_content']:
        result['data'] = data
    wa.exit(**result)


def _is_base64(text):
    try:
        base64.b64decode(text, validate=True)
        return True
    except ValueError:
        return False


if __name__ == '__main__':
    main()
