#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: journal
short_description: The journal of a migration and its downtime report
version_added: 1.0.0
description:
  - Keeps a JSON journal of the steps of one migration (which option, from which setup to which, each
    step's start and end), so that a re-run after a failure resumes where it stopped and a re-run of a
    finished migration changes nothing.
  - Runs under the lock of the old setup (M(wabiz.migration.setup_lock)), taken before the journal is opened,
    so only one run writes a journal at a time.
  - Records the moments downtime starts and ends and writes the downtime report, as JSON and as an HTML timeline.
  - Never reports C(changed), since the journal is the run's bookkeeping, not a change of either setup.
  - The journal is a file on the controller. An action plugin of the same name runs it in the controller's
    process (no module start-up inside the downtime window), whatever host the task runs for.
author:
  - wabiz.migration maintainers (@wabiz)
options:
  path:
    description: The journal file; the report C(<path without .json>-report.json).
    type: path
    required: true
  state:
    description:
      - V(open) creates or reads the journal; it fails when the journal belongs to another option or other setups
        and has steps begun (a journal without steps, left by a refused run, is replaced). A journal whose
        migration was rolled back (event C(rolled_back)) is renamed to C(<path without .json>.rolled-back-<time>.json)
        and a new one begun, since after a rollback the old client serves again and no step it records still holds.
      - V(begin) and V(done) record the start and the end of O(step); with O(then), V(done) also begins the next
        step in the same write.
      - V(event) records O(event) once (a re-run keeps the first time).
      - V(report) writes the downtime report and its HTML timeline and returns the report.
      - V(read) only reads; with O(setups), it fails when they are not those the journal recorded.
    type: str
    choices: [open, begin, done, event, report, read]
    default: read
  migration:
    description: With O(state=open), what this migration is (the option and the two hosts).
    type: dict
  setups:
    description:
      - What the migration works on (hosts, projects, database prefixes, database servers' identities).
      - With O(state=open), recorded (event C(setups)) while no step has begun; once one has, they must equal the
        record or the module fails, since the journal's finished steps hold only for what it was written for.
      - With O(state=read), compared with the record the same way.
    type: dict
  step:
    description: With O(state=begin) or O(state=done), the step's name.
    type: str
  event:
    description:
      - With O(state=event), the event's name, such as C(downtime_start).
      - With O(state=begin) or O(state=done), an event recorded at the same moment (once, as with O(state=event)).
    type: str
  then:
    description: With O(state=done), the next step, begun in the same write.
    type: dict
    suboptions:
      step:
        description: Its name.
        type: str
        required: true
      info:
        description: What it is about to do (recorded as its info).
        type: dict
        default: {}
      event:
        description: An event recorded as it begins, such as C(downtime_start).
        type: str
  info:
    description: Facts to keep with the step or event (sizes, message ids); never secrets.
    type: dict
    default: {}
attributes:
  action:
    support: full
    details: Runs on the controller only.
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Reads the journal and reports what would be recorded; writes nothing.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
'''

EXAMPLES = r'''
- name: Open the journal
  wabiz.migration.journal:
    path: "{{ wabiz_journal_dir }}/old-setup__new-setup.json"
    state: open
    migration: {option: 2, old: old-setup, new: new-setup}
  delegate_to: localhost
  run_once: true
  register: journal

- name: Step 5, only when not done yet
  when: "'uninstall_old' not in journal.done"
  block:
    - name: Record the start
      wabiz.migration.journal:
        path: "{{ journal.path }}"
        state: begin
        step: uninstall_old
      delegate_to: localhost
'''

RETURN = r'''
path:
  description: The journal file.
  returned: always
  type: str
done:
  description: Names of the finished steps.
  returned: always
  type: list
  elements: str
  sample: [stage_new, settings_backup, copy_ahead]
info:
  description: Each finished step's info, by step, as later steps, the rollback and the drop read it.
  returned: always
  type: dict
  sample: {"copy_ahead": {"databases": ["wacore", "wamessages_0"], "bytes": 5412332}}
journal:
  description: The whole journal (migration, steps with start and end times, events).
  returned: always
  type: dict
report:
  description: The downtime report, with O(state=report).
  returned: with O(state=report)
  type: dict
  contains:
    downtime_seconds:
      description: From the old client's stop to the new client serving and accepting the test message.
      type: float
    steps:
      description: Each step with its start, end and seconds.
      type: list
      elements: dict
previous_journal:
  description: With O(state=open), where a rolled-back migration's journal was moved.
  returned: when a rolled-back journal was set aside
  type: str
report_path:
  description: Where the report was written.
  returned: with O(state=report)
  type: str
  sample: /root/.wabiz-migration/old__new-report.json
timeline_path:
  description: Where the HTML timeline of the report was written (steps on a time axis, the downtime shaded).
  returned: with O(state=report)
  type: str
  sample: /root/.wabiz-migration/old__new-report.html
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.wabiz.migration.plugins.module_utils._journal import (
    ARGUMENT_SPEC, REQUIRED_IF, JournalError, apply)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF, supports_check_mode=True)
    try:
        module.exit_json(**apply(module.params, module.check_mode))
    except JournalError as exc:
        module.fail_json(msg=str(exc))


if __name__ == '__main__':
    main()
