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
seealso:
  - module: wabiz.migration.setup_lock
  - ref: ansible_collections.wabiz.migration.docsite.runbook
    description: 'The operator''s guide: the option playbooks that use these modules, step by step.'
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
  sample: /root/.wabiz-migration/old-setup__new-setup.json
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
  sample:
    migration:
      option: '3'
      old: old-setup
      new: new-setup
      database_stays: 'False'
    created: '2026-12-02T21:58:37.913+00:00'
    order:
    - stage_new
    - settings_backup
    - copy_ahead
    - stop_old
    steps:
      stop_old:
        attempts: 1
        started: 1796248734.78
        finished: 1796248736.24
        info:
          host: old-setup
          project: wa-old
    events:
      downtime_start:
        at: 1796248734.78
        info: {}
report:
  description: The downtime report, with O(state=report).
  returned: with O(state=report)
  type: dict
  sample:
    migration:
      option: '3'
      old: old-setup
      new: new-setup
      database_stays: 'False'
    downtime_started: '2026-12-02T21:58:54.784+00:00'
    downtime_ended: '2026-12-02T21:59:02.906+00:00'
    downtime_seconds: 8.121
    events:
      setups:
        at: '2026-12-02T21:58:44.501+00:00'
        info:
          old:
            host: old-setup
            project: wa-old
            database_prefix: ''
            database_server: mysql:db-old:3306:/var/lib/mysql/
          new:
            host: new-setup
            project: wa-new
            database_prefix: ''
            database_server: mysql:db-new:3306:/var/lib/mysql/
      downtime_start:
        at: '2026-12-02T21:58:54.784+00:00'
        info: {}
      downtime_end:
        at: '2026-12-02T21:59:02.906+00:00'
        info: {}
    steps:
    - step: stage_new
      started: '2026-12-02T21:58:44.743+00:00'
      finished: '2026-12-02T21:58:50.803+00:00'
      seconds: 6.06
      info: {}
    - step: settings_backup
      started: '2026-12-02T21:58:52.162+00:00'
      finished: '2026-12-02T21:58:53.609+00:00'
      seconds: 1.447
      info:
        checksum: e616d075730ebe6c75cb55fc02d806596074662fd037307e31b0c8710d5e4b7f
        size: 1092
    - step: copy_ahead
      started: '2026-12-02T21:58:53.609+00:00'
      finished: '2026-12-02T21:58:54.784+00:00'
      seconds: 1.175
      info:
        bytes: 367126
        databases:
        - wacore
        - wamessages_0
        - wamessages_1
        - waweb
    - step: stop_old
      started: '2026-12-02T21:58:54.784+00:00'
      finished: '2026-12-02T21:58:56.242+00:00'
      seconds: 1.458
      info:
        host: old-setup
        project: wa-old
        intent: stop the old client's containers (downtime starts)
    - step: copy_databases
      started: '2026-12-02T21:58:56.242+00:00'
      finished: '2026-12-02T21:58:58.495+00:00'
      seconds: 2.252
      info:
        intent: write the new client's databases
        database_server: mysql:db-new:3306:/var/lib/mysql/
        databases:
        - wacore
        - wamessages_0
        - wamessages_1
        - waweb
        rows_copied: 7
        copied_whole: {}
        seconds:
          rows: 0.68
    - step: start_new
      started: '2026-12-02T21:58:58.495+00:00'
      finished: '2026-12-02T21:59:00.312+00:00'
      seconds: 1.817
      info:
        intent: start the new client
        host: new-setup
        project: wa-new
        database_server: mysql:db-new:3306:/var/lib/mysql/
    - step: verify_new
      started: '2026-12-02T21:59:00.312+00:00'
      finished: '2026-12-02T21:59:02.906+00:00'
      seconds: 2.594
      info:
        message_id: gBEGVsgZ4vqpFwPeKEiEANSJgwWL
    - step: webhooks
      started: '2026-12-02T21:59:03.911+00:00'
      finished: '2026-12-02T21:59:05.168+00:00'
      seconds: 1.257
      info: {}
    - step: backup_old
      started: '2026-12-02T21:59:05.168+00:00'
      finished: '2026-12-02T21:59:06.424+00:00'
      seconds: 1.256
      info: {}
  contains:
    migration:
      description: What the migration was (O(migration) of its opening; values as text).
      type: dict
    downtime_started:
      description: When the old client's stop began (ISO 8601, UTC), or null when no downtime began.
      type: str
    downtime_ended:
      description: When the new client had served the test message (ISO 8601, UTC), or null.
      type: str
    downtime_seconds:
      description: From the old client's stop to the new client serving and accepting the test message.
      type: float
    events:
      description: Each recorded event (the setups, the downtime's start and end, a rollback) with its time and info.
      type: dict
    steps:
      description: Each step in the order it ran, with its start, end, seconds and what it recorded (its info).
      type: list
      elements: dict
previous_journal:
  description: With O(state=open), where a rolled-back migration's journal was moved.
  returned: when a rolled-back journal was set aside
  type: str
  sample: /root/.wabiz-migration/old-setup__new-setup.rolled-back-20261202T215837.json
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
