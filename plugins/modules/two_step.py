#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: two_step
short_description: Turn two-step verification of an On-Premises client on or off
version_added: 1.0.0
description:
  - O(state=present) sets a six-digit PIN with C(POST /v1/settings/account/two-step);
    O(state=absent) turns two-step verification off with C(DELETE).
  - The migration guide suggests turning it off before a migration (so a forgotten PIN cannot block a
    re-registration) and on again afterwards.
  - The API has no call that reads the two-step state, so the module cannot tell whether anything changes;
    it always reports a change.
author:
  - wabiz.migration maintainers (@wabiz)
seealso:
  - module: wabiz.migration.app_settings
  - ref: ansible_collections.wabiz.migration.docsite.runbook
    description: 'The operator''s guide: the option playbooks that use these modules, step by step.'
options:
  state:
    description: Whether two-step verification is on.
    type: str
    choices: [present, absent]
    default: present
  pin:
    description: The six-digit PIN. Required with O(state=present).
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - wabiz.migration.api
  - wabiz.migration.api.attributes
attributes:
  check_mode:
    support: full
    details: Makes no call and reports a change.
  diff_mode:
    support: none
'''

EXAMPLES = r'''
- name: Turn two-step verification off before the migration
  wabiz.migration.two_step:
    api_url: https://wa-old.example.com:9090
    api_password: "{{ vault_wa_admin_password }}"
    state: absent

- name: Turn it on again on the new client
  wabiz.migration.two_step:
    api_url: https://wa-new.example.com:9090
    api_password: "{{ vault_wa_admin_password }}"
    pin: "{{ vault_wa_pin }}"
'''

RETURN = r'''
state:
  description: The state that was set.
  returned: always
  type: str
  sample: absent
'''


from ansible_collections.wabiz.migration.plugins.module_utils._checks import problem
from ansible_collections.wabiz.migration.plugins.module_utils._module import ApiModule


def main():
    wa = ApiModule(dict(state=dict(type='str', choices=['present', 'absent'], default='present'),
                        pin=dict(type='str', no_log=True)),
                   required_if=[('state', 'present', ('pin',))], supports_check_mode=True)
    state, pin = wa.params['state'], wa.params['pin']
    if state == 'present' and problem(pin, 'pin', 'pin'):
        wa.module.fail_json(msg=problem(pin, 'pin', 'pin'))
    if not wa.module.check_mode:
        if state == 'present':
            wa.call('POST', '/v1/settings/account/two-step', {'pin': pin})
        else:
            wa.call('DELETE', '/v1/settings/account/two-step')
    wa.exit(changed=True, state=state)


if __name__ == '__main__':
    main()
