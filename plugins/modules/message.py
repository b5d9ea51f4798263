#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: message
short_description: Send a text message through an On-Premises client
version_added: 1.0.0
description:
  - Sends a text message with C(POST /v1/messages) and returns its id; the migration guide's test message
    after a migration.
  - Every run sends a new message.
author:
  - wabiz.migration maintainers (@wabiz)
seealso:
  - module: wabiz.migration.health_info
  - ref: ansible_collections.wabiz.migration.docsite.runbook
    description: 'The operator''s guide: the option playbooks that use these modules, step by step.'
options:
  to:
    description: Recipient's phone number or WhatsApp id (digits, an optional leading C(+)).
    type: str
    required: true
  body:
    description: Text of the message, at most 4096 characters.
    type: str
    required: true
  preview_url:
    description: Let the client render a preview of the first URL in O(body).
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - wabiz.migration.api
  - wabiz.migration.api.attributes
attributes:
  check_mode:
    support: full
    details: Sends nothing and reports a change.
  diff_mode:
    support: none
'''

EXAMPLES = r'''
- name: Test message after the migration
  wabiz.migration.message:
    api_url: https://wa-new.example.com:9090
    api_password: "{{ vault_wa_admin_password }}"
    to: "+4915112345678"
    body: "Migration test {{ now(utc=true).isoformat() }}"
  register: test_message
'''

RETURN = r'''
message_id:
  description: The id the client gave the message.
  returned: success, except in check mode
  type: str
  sample: gBEGkYiEB1VXAglK1ZEqA1YKPrU
'''


from ansible_collections.wabiz.migration.plugins.module_utils._checks import problem
from ansible_collections.wabiz.migration.plugins.module_utils._module import ApiModule


def main():
    wa = ApiModule(dict(to=dict(type='str', required=True), body=dict(type='str', required=True),
                        preview_url=dict(type='bool', default=False)),
                   supports_check_mode=True)
    params = wa.params
    if problem(params['to'], 'recipient', 'to'):
        wa.module.fail_json(msg=problem(params['to'], 'recipient', 'to'))
    if not params['body'] or len(params['body']) > 4096:
        wa.module.fail_json(msg='body must have 1 to 4096 characters')
    if wa.module.check_mode:
        wa.exit(changed=True)
    reply = wa.call('POST', '/v1/messages', {'to': params['to'], 'type': 'text', 'recipient_type': 'individual',
                                             'preview_url': params['preview_url'], 'text': {'body': params['body']}},
                    expect=(200, 201))
    wa.exit(changed=True, message_id=reply['messages'][0]['id'])


if __name__ == '__main__':
    main()
