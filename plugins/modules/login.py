#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: login
short_description: Log in to a WhatsApp Business API On-Premises client, return a token
version_added: 1.0.0
description:
  - Logs in with C(POST /v1/users/login) and returns the bearer token and its expiry.
  - Handles the first login of C(admin), which the client refuses until the default password is changed,
    and a re-run after the change (the new password is then tried).
  - With O(min_validity), fails when the token would expire too soon, for example when option 3 of the
    migration carries tokens over and the planned migration outlasts them (tokens live at most 7 days).
  - The successful result is hidden from every log and callback, because it holds the token; the
    registered variable keeps it for later tasks.
author:
  - wabiz.migration maintainers (@wabiz)
seealso:
  - module: wabiz.migration.health_info
  - module: wabiz.migration.settings_restore
  - ref: ansible_collections.wabiz.migration.docsite.runbook
    description: 'The operator''s guide: the option playbooks that use these modules, step by step.'
options:
  new_password:
    description:
      - Password to set when the client demands a change (first login of C(admin) with C(secret)).
      - When O(api_password) is refused, this password is tried, so a re-run after the change succeeds.
      - 8 to 64 characters with a digit, an upper-case and a lower-case letter and a special character.
    type: str
  min_validity:
    description:
      - Fail unless the token stays valid for at least this many seconds.
    type: int
    default: 0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - wabiz.migration.api
  - wabiz.migration.api.attributes
attributes:
  check_mode:
    support: partial
    details: Logs in (a read-only call) but never changes a password; it then reports the change it would make.
  diff_mode:
    support: none
'''

EXAMPLES = r'''
- name: First login to a new client, changing the default admin password
  wabiz.migration.login:
    api_url: https://wa-new.example.com:9090
    ca_path: /etc/wabiz/new-ca.pem
    api_username: admin
    api_password: secret
    new_password: "{{ vault_wa_admin_password }}"
  register: wa_login

- name: Make sure the old client's token outlives a migration planned to take 2 days
  wabiz.migration.login:
    api_url: https://wa-old.example.com:9090
    api_password: "{{ vault_wa_admin_password }}"
    min_validity: 172800
  register: old_login

- name: Use the token in the other API modules
  wabiz.migration.health_info:
    api_url: https://wa-old.example.com:9090
    api_token: "{{ old_login.token }}"
'''

RETURN = r'''
token:
  description: The bearer token. Hidden from all output; use it through the registered variable.
  returned: success, unless a password change was only planned in check mode
  type: str
  sample: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.(hidden in output)
expires_after:
  description: When the token expires, as the client reports it.
  returned: success, unless a password change was only planned in check mode
  type: str
  sample: '2026-11-28 14:03:11+00:00'
expires_in:
  description: Seconds until the token expires.
  returned: success, unless a password change was only planned in check mode
  type: int
  sample: 604799
password_changed:
  description: Whether the login changed the password (or would, in check mode).
  returned: always
  type: bool
  sample: false
'''

from ansible_collections.wabiz.migration.plugins.module_utils._api import (
    PASSWORD_CHANGE_REQUIRED, ApiError, seconds_left)
from ansible_collections.wabiz.migration.plugins.module_utils._module import ApiModule


def main():
    wa = ApiModule(dict(new_password=dict(type='str', no_log=True), min_validity=dict(type='int', default=0)),
                   supports_check_mode=True)
    params, api = wa.params, wa.api
    if not params['api_password']:
        wa.module.fail_json(msg='api_password (or WA_API_PASSWORD) is required to log in')
    changed = False
    try:
        entry = api.login()
    except ApiError as exc:
        if exc.code == PASSWORD_CHANGE_REQUIRED:
            if not params['new_password']:
                wa.fail(exc, {PASSWORD_CHANGE_REQUIRED: 'The client demands a new password on first login: set '
                                                        'new_password.'})
            if wa.module.check_mode:
                wa.exit(changed=True, password_changed=True, msg='would change the password on first login')
            entry = _login(wa, new_password=params['new_password'])
            changed = True
        elif exc.status == 401 and params['new_password']:
            api.password = params['new_password']  # changed by an earlier run
            entry = _login(wa)
        else:
            wa.fail(exc)
    expires_in = seconds_left(entry['expires_after'])
    if expires_in < params['min_validity']:
        wa.module.fail_json(msg='The token expires in %d s (at %s), sooner than min_validity %d s: the client\'s '
                                'token lifetime is too short for the planned migration.'
                                % (expires_in, entry['expires_after'], params['min_validity']),
                            expires_after=entry['expires_after'], expires_in=expires_in)
    wa.exit(changed=changed, password_changed=changed, token=entry['token'], expires_after=entry['expires_after'],
            expires_in=expires_in)


def _login(wa, new_password=None):
    try:
        return wa.api.login(new_password)
    except ApiError as exc:
        wa.fail(exc)


if __name__ == '__main__':
    main()
