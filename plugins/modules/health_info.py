#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: health_info
short_description: Read, wait for and check the health of an On-Premises client
version_added: 1.0.0
description:
  - Reads C(GET /v1/health) of a single-instance or multiconnect client and returns each node's status and
    role, and the number of Masters and Coreapps.
  - With O(wait_for), polls until the client is in that state or O(timeout) passes, then fails naming the
    nodes that are not.
  - With O(expected_masters) and O(expected_coreapps), fails when the topology differs. A migration needs
    exactly as many Masters and Coreapps on the new setup as on the old.
author:
  - wabiz.migration maintainers (@wabiz)
seealso:
  - module: wabiz.migration.login
  - module: wabiz.migration.message
  - ref: ansible_collections.wabiz.migration.docsite.runbook
    description: 'The operator''s guide: the option playbooks that use these modules, step by step.'
options:
  wait_for:
    description:
      - V(connected) waits until a single instance reports C(connected) or C(connecting), or until a
        multiconnect setup has a primary master, no failing node and O(expected_shards) (at least one)
        connected Coreapps.
      - V(unregistered) waits until every node answers C(unregistered) (a fresh client before a restore).
      - V(answering) waits only until the health call itself succeeds.
    type: str
    choices: [connected, unregistered, answering]
  timeout:
    description: Seconds to wait with O(wait_for).
    type: int
    default: 300
  interval:
    description: Seconds between two polls.
    type: float
    default: 2
  expected_masters:
    description: Number of Masters the setup must have (V(0) for a single instance).
    type: int
  expected_coreapps:
    description: Number of Coreapps the setup must have (V(1) for a single instance).
    type: int
  expected_shards:
    description: With O(wait_for=connected) on multiconnect, the number of Coreapps that must be connected.
    type: int
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - wabiz.migration.api
  - wabiz.migration.api.attributes
attributes:
  check_mode:
    support: full
    details: Read-only; behaves the same in check mode.
  diff_mode:
    support: N/A
'''

EXAMPLES = r'''
- name: Wait until the new client serves, with the old client's topology
  wabiz.migration.health_info:
    api_url: https://wa-new.example.com:9090
    api_password: "{{ vault_wa_admin_password }}"
    wait_for: connected
    timeout: 600
    expected_masters: 2
    expected_coreapps: 3
    expected_shards: 2
  register: new_health

- name: Show the roles
  ansible.builtin.debug:
    var: new_health.role_counts
'''

RETURN = r'''
health:
  description: The C(health) object as the client returned it.
  returned: success
  type: dict
  sample:
    vm:ad2f1aee7073:
      gateway_status: connected
      role: primary_master
    vm:b7a4e6c424d9:
      gateway_status: disconnected
      role: secondary_master
    vm:fcb245a80aa6:
      gateway_status: connected
      role: coreapp
multiconnect:
  description: Whether the client answered in the multiconnect shape (one entry per node).
  returned: success
  type: bool
  sample: true
nodes:
  description: One entry per node (a single instance has one, named C(single)).
  returned: success
  type: list
  elements: dict
  sample:
    - node: vm:ad2f1aee7073
      gateway_status: connected
      role: primary_master
      error: null
    - node: vm:fcb245a80aa6
      gateway_status: connected
      role: coreapp
      error: null
  contains:
    node:
      description: Node id, C(hostname:container-id) in multiconnect.
      type: str
    gateway_status:
      description: C(connected), C(connecting), C(disconnected), C(unregistered), C(uninitialized), or null.
      type: str
    role:
      description: C(primary_master), C(secondary_master), C(coreapp), or null (single instance, failing node).
      type: str
    error:
      description: The node's error, when it did not answer with a status.
      type: str
role_counts:
  description: Nodes per role, and C(unknown) for nodes that answered with an error.
  returned: success
  type: dict
  sample: {primary_master: 1, secondary_master: 1, coreapp: 3, unknown: 0}
masters:
  description: Number of Masters (0 for a single instance).
  returned: success
  type: int
  sample: 2
coreapps:
  description: Number of Coreapps (1 for a single instance).
  returned: success
  type: int
  sample: 3
connected_coreapps:
  description: Coreapps that are connected (each serves a shard).
  returned: success
  type: int
  sample: 2
healthy:
  description: Whether the client is connected in the sense of O(wait_for=connected).
  returned: success
  type: bool
  sample: true
waited:
  description: Seconds spent waiting.
  returned: success
  type: float
  sample: 0.1
'''

import time

from ansible_collections.wabiz.migration.plugins.module_utils._api import GOOD, ApiError, summarise
from ansible_collections.wabiz.migration.plugins.module_utils._module import ApiModule


def is_healthy(summary, expected_shards=None):
    nodes = summary['nodes']
    if not summary['multiconnect']:
        return nodes[0]['gateway_status'] in GOOD
    if any(row['error'] for row in nodes) or not summary['role_counts']['primary_master']:
        return False
    if expected_shards:
        return summary['connected_coreapps'] == expected_shards
    return summary['connected_coreapps'] >= 1


def reached(summary, wait_for, expected_shards):
    if wait_for == 'connected':
        return is_healthy(summary, expected_shards)
    if wait_for == 'unregistered':
        return all(row['gateway_status'] == 'unregistered' for row in summary['nodes'])
    return True


def topology_problem(summary, masters, coreapps):
    if masters is None and coreapps is None:
        return None
    if summary['role_counts']['unknown']:
        return ('%d node(s) did not report a role, so the topology cannot be checked'
                % summary['role_counts']['unknown'])
    found = (summary['masters'], summary['coreapps'])
    wanted = (summary['masters'] if masters is None else masters, summary['coreapps'] if coreapps is None else coreapps)
    if found != wanted:
        return ('the setup has %d Master(s) and %d Coreapp(s), expected %d and %d: a migration needs the same '
                'number of Masters and Coreapps (shards) on both setups' % (found + wanted))
    return None


def describe_unhealthy(summary):
    rows = [r for r in summary['nodes'] if r['error'] or r['gateway_status'] not in GOOD]
    return '; '.join('%s (%s): %s' % (r['node'], r['role'] or '-', r['error'] or r['gateway_status'])
                     for r in rows) or 'no primary master or too few connected coreapps'


def main():
    wa = ApiModule(dict(wait_for=dict(type='str', choices=['connected', 'unregistered', 'answering']),
                        timeout=dict(type='int', default=300), interval=dict(type='float', default=2),
                        expected_masters=dict(type='int'), expected_coreapps=dict(type='int'),
                        expected_shards=dict(type='int')),
                   supports_check_mode=True)
    params = wa.params
    started = time.time()
    summary, last_error = None, None
    if params['wait_for']:
        wa.api.retries = 0  # this loop is the retry
    while True:
        try:
            summary = summarise(wa.api.request('GET', '/v1/health').get('health', {}))
            last_error = None
        except ApiError as exc:
            if exc.status == 401 or not params['wait_for']:
                wa.fail(exc)
            last_error = exc
        if summary is not None and last_error is None and reached(summary, params['wait_for'],
                                                                  params['expected_shards']):
            break
        if time.time() - started >= params['timeout']:
            if last_error is not None:
                wa.module.fail_json(**last_error.fail_kwargs('No health answer within %ss.' % params['timeout']))
            wa.module.fail_json(msg='The client did not become %s within %ss: %s'
                                    % (params['wait_for'], params['timeout'], describe_unhealthy(summary)), **summary)
        time.sleep(params['interval'])
    problem = topology_problem(summary, params['expected_masters'], params['expected_coreapps'])
    if problem:
        wa.module.fail_json(msg='Topology mismatch: %s.' % problem, **summary)
    summary['healthy'] = is_healthy(summary, params['expected_shards'])
    wa.exit(waited=round(time.time() - started, 1), **summary)


if __name__ == '__main__':
    main()
