#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: app_settings
short_description: Read and change the application settings of an On-Premises client
version_added: 1.0.0
description:
  - Reads C(GET /v1/settings/application) and, with O(state=present), changes the fields given in
    O(settings) with C(PATCH) when they differ; objects such as C(webhooks) are compared and merged
    key by key, so unnamed fields keep their values.
  - O(state=absent) resets every setting to the client's defaults with C(DELETE).
  - Without O(settings) and with O(state=present), only reads.
author:
  - wabiz.migration maintainers (@wabiz)
seealso:
  - module: wabiz.migration.two_step
  - ref: ansible_collections.wabiz.migration.docsite.runbook
    description: 'The operator''s guide: the option playbooks that use these modules, step by step.'
options:
  settings:
    description:
      - Fields to set, as the API names them, for example C(webhooks), C(callback_persist),
        C(heartbeat_interval), C(media).
      - Numbers given as strings (C("3000")) equal the client's numbers.
    type: dict
    default: {}
  state:
    description: V(present) sets O(settings); V(absent) resets all settings to their defaults.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - wabiz.migration.api
  - wabiz.migration.api.attributes
attributes:
  check_mode:
    support: full
    details: With O(state=absent) the client's defaults are not known in advance, so a reset is always
      reported as a change in check mode.
  diff_mode:
    support: full
'''

EXAMPLES = r'''
- name: Point the new client at the new webhook server
  wabiz.migration.app_settings:
    api_url: https://wa-new.example.com:9090
    api_password: "{{ vault_wa_admin_password }}"
    settings:
      webhooks:
        url: https://hooks.example.com/whatsapp

- name: Turn the old client's webhook off before the migration
  wabiz.migration.app_settings:
    api_url: https://wa-old.example.com:9090
    api_password: "{{ vault_wa_admin_password }}"
    settings:
      webhooks:
        url: ""

- name: Read the settings
  wabiz.migration.app_settings:
    api_url: https://wa-old.example.com:9090
    api_password: "{{ vault_wa_admin_password }}"
  register: current
'''

RETURN = r'''
settings:
  description: The application settings after the task (what they would be, in check mode).
  returned: success
  type: dict
  sample: {webhooks: {url: "https://hooks.example.com/whatsapp"}, callback_persist: true}
previous:
  description: The application settings before the task (what a rollback restores).
  returned: success, with O(state=present)
  type: dict
  sample: {webhooks: {url: "https://hooks.old.example.com/whatsapp"}, callback_persist: true}
'''

from ansible_collections.wabiz.migration.plugins.module_utils._module import ApiModule

PATH = '/v1/settings/application'


def same(current, wanted):
    """Whether ``wanted`` is already part of ``current`` (numbers and numeric strings compare equal)."""
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(same(current.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, bool) or isinstance(current, bool):
        return current is wanted
    if isinstance(wanted, (int, str)) and isinstance(current, (int, str)):
        return str(current) == str(wanted)
    return current == wanted


def merged(current, wanted):
    out = dict(current)
    for key, value in wanted.items():
        out[key] = merged(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def read(wa):
    return wa.call('GET', PATH).get('settings', {}).get('application', {})


def main():
    wa = ApiModule(dict(settings=dict(type='dict', default={}),
                        state=dict(type='str', choices=['present', 'absent'], default='present')),
                   supports_check_mode=True)
    params = wa.params
    before = read(wa)
    if params['state'] == 'absent':
        if wa.module.check_mode:
            wa.exit(changed=True, settings=before)
        wa.call('DELETE', PATH)
        after = read(wa)
        result = {'changed': before != after}
        if wa.module._diff:
            result['diff'] = {'before': before, 'after': after}
        wa.exit(settings=after, **result)
    wanted = params['settings']
    after = before if same(before, wanted) else merged(before, wanted)
    result = wa.change(before, after, lambda: wa.call('PATCH', PATH, wanted))
    if result['changed'] and not wa.module.check_mode:
        after = read(wa)
    wa.exit(settings=after, previous=before, **result)


if __name__ == '__main__':
    main()
