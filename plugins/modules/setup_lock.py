#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: setup_lock
short_description: Lock an old setup so one migration, rollback or drop runs at a time
version_added: 1.0.0
description:
  - Takes or gives back a lock file on the host the task runs on (the old setup's host, which every controller
    of that setup reaches). The lock names its holder by the controller's boot id, PID namespace, the
    C(ansible-playbook) PID and that process's start time, and what the run does (O(run)).
  - A lock whose holder ran on this controller (same boot, same PID namespace) and is gone is taken over. A
    holder on another machine or in another container cannot be looked up from here; the task fails naming
    it, and O(release) set to its lock id takes it over once the operator knows that run is gone.
  - An action plugin of the same name finds the controller's identity and judges the holder on the
    controller; the module reads and writes the file on the target.
author:
  - wabiz.migration maintainers (@wabiz)
seealso:
  - module: wabiz.migration.journal
  - ref: ansible_collections.wabiz.migration.docsite.troubleshooting
    description: What a refused lock says, and how to release one safely.
options:
  path:
    description: The lock file on the target host. Its directory is created (mode 0700) when missing.
    type: path
    required: true
  state:
    description: V(present) takes the lock, V(absent) gives it back (only this run's own lock is removed).
    type: str
    choices: [present, absent]
    default: present
  run:
    description: What the run does (option, setups, journal), shown to a run that finds the lock taken.
    type: dict
    default: {}
  release:
    description:
      - The lock id of a holder that ran on another controller and is known to be gone (its job ended, its
        machine died). Only a lock with exactly this id is taken over.
    type: str
  owner:
    description: Set by the action plugin, not by hand. The record of the controller run taking the lock.
    type: dict
  over:
    description: Set by the action plugin, not by hand. The lock id of a holder to take the lock over from.
    type: str
attributes:
  action:
    support: full
    details: The holder is judged on the controller, the file is read and written on the target.
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Reports the holder and whether the lock could be taken; writes nothing.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
notes:
  - Both controllers must find the same file, so they need the same inventory for the old host (the path
    derives from it) and the same remote user, or a lock directory both users can write.
'''

EXAMPLES = r'''
- name: Take the lock of the old setup
  wabiz.migration.setup_lock:
    path: /var/backups/wabiz-migration/wabiz-migration-biz.lock
    run: {option: 3, old: old-setup, new: new-setup}
  delegate_to: old-setup
  run_once: true

- name: Take it over from a run on another controller that is gone
  wabiz.migration.setup_lock:
    path: /var/backups/wabiz-migration/wabiz-migration-biz.lock
    run: {option: 3, old: old-setup, new: new-setup}
    release: 5f0c2d9e81a4b7c3
  delegate_to: old-setup
  run_once: true

- name: Give it back
  wabiz.migration.setup_lock:
    path: /var/backups/wabiz-migration/wabiz-migration-biz.lock
    state: absent
  delegate_to: old-setup
  run_once: true
'''

RETURN = r'''
taken:
  description: Whether this run holds the lock now (false in check mode and with O(state=absent)).
  returned: always
  type: bool
  sample: true
holder:
  description: The holder found before (none when the lock was free), as written by the run that took it.
  returned: always
  type: dict
  sample:
    id: 5f0c2d9e81a4b7c3
    controller: awx-task-7d9f
    pid: 27
    since: '2026-12-02T14:03:11+00:00'
    run: {option: '3', old: old-setup, new: new-setup, journal: /var/lib/wabiz-migration/old-setup__new-setup.json}
owner:
  description: This run's own lock record.
  returned: always
  type: dict
  sample:
    id: 8ea38bc87ce59513
    controller: awx-task-7d9f
    boot_id: f7a18167-fe12-46c9-9652-aae25fc809fa
    pid_namespace: pid:[4026531836]
    pid: 25545
    process_start: 1385711
    since: '2026-12-02T21:58:37+00:00'
    run:
      what: 3
      old: old-setup
      new: new-setup
      journal: /root/.wabiz-migration/old-setup__new-setup.json
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wabiz.migration.plugins.module_utils._lock import LockFile


def main():
    module = AnsibleModule(argument_spec=dict(
        path=dict(type='path', required=True), state=dict(type='str', default='present', choices=['present', 'absent']),
        run=dict(type='dict', default={}), release=dict(type='str'), owner=dict(type='dict'),
        over=dict(type='str')), supports_check_mode=True)
    lock, record = LockFile(module.params['path']), module.params['owner']
    if not record:
        module.fail_json(msg='owner is filled in by the setup_lock action plugin: run the module as a task')
    if module.check_mode:
        module.exit_json(changed=False, taken=False, holder=lock.holder(), owner=record)
    if module.params['state'] == 'absent':
        module.exit_json(changed=lock.give_back(record['id']), taken=False, holder=lock.holder(), owner=record)
    try:
        taken, before = lock.take(record, module.params['over'])
    except (IOError, OSError) as exc:
        module.fail_json(msg='Cannot write to %s on this host (%s): the lock of the setup goes there. Set '
                             'wabiz_backup_dir for that host to a directory it can create and write (the lock, the '
                             'dump and the settings backup go there), or fix its permissions.'
                             % (os.path.dirname(module.params['path']), exc))
    module.exit_json(changed=taken and (before or {}).get('id') != record['id'], taken=taken, holder=before,
                     owner=record)


if __name__ == '__main__':
    main()
