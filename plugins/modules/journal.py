#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: journal
short_description: The journal of a migration, its lock, and its downtime report
version_added: 0.1.0
description:
  - Keeps a JSON journal of the steps of one migration (which option, from which setup to which, each
    step's start and end), so that a re-run after a failure resumes where it stopped and a re-run of a
    finished migration changes nothing.
  - Holds a lock next to the journal while a migration runs, so a second migration against the same
    setups refuses to start.
  - Records the moments downtime starts and ends and writes the downtime report.
  - Meant to run on the controller, delegated to localhost and run once.
author:
  - wabiz.migration maintainers (@wabiz)
options:
  path:
    description: The journal file. The lock is C(<path>.lock); the report C(<path without .json>-report.json).
    type: path
    required: true
  state:
    description:
      - V(open) takes the lock and creates or reads the journal; it fails when another live
        C(ansible-playbook) holds the lock, or when the journal belongs to another option or other setups
        and has steps begun (a journal without steps, left by a refused run, is replaced).
      - V(begin) and V(done) record the start and the end of O(step).
      - V(event) records O(event) once (a re-run keeps the first time).
      - V(report) writes the downtime report and returns it.
      - V(close) releases the lock.
      - V(read) only reads.
    type: str
    choices: [open, begin, done, event, report, close, read]
    default: read
  migration:
    description: With O(state=open), what this migration is (the option and the two hosts).
    type: dict
  step:
    description: With O(state=begin) or O(state=done), the step's name.
    type: str
  event:
    description: With O(state=event), the event's name, such as C(downtime_start).
    type: str
  info:
    description: Facts to keep with the step or event (sizes, message ids); never secrets.
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    details: Reads the journal and reports what would be recorded; writes nothing and takes no lock.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
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
report_path:
  description: Where the report was written.
  returned: with O(state=report)
  type: str
'''

import datetime
import json
import os
import time

from ansible.module_utils.basic import AnsibleModule


def iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat(timespec='milliseconds')


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def save(path, journal):
    tmp = '%s.tmp.%d' % (path, os.getpid())
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w') as handle:
        json.dump(journal, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(tmp, path)


def playbook_pid():
    """The ansible-playbook (or ansible-runner) process this module runs under, walking up the parents."""
    pid, found = os.getpid(), None
    while pid > 1:
        try:
            with open('/proc/%d/cmdline' % pid, 'rb') as handle:
                cmdline = handle.read().replace(b'\0', b' ')
            with open('/proc/%d/stat' % pid) as handle:
                parent = int(handle.read().rsplit(')', 1)[1].split()[1])
        except (IOError, OSError, ValueError, IndexError):
            break
        if b'ansible-playbook' in cmdline or b'ansible-runner' in cmdline:
            found = pid
        pid = parent
    return found


def lock_holder(lock_path):
    """The live process holding the lock, or None when there is no lock or its holder is gone."""
    try:
        with open(lock_path) as handle:
            holder = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    pid = holder.get('pid')
    if pid and os.path.exists('/proc/%d' % pid) and pid != playbook_pid():
        return holder
    return None


def take_lock(module, lock_path):
    holder = lock_holder(lock_path)
    if holder:
        module.fail_json(msg='Another migration of these setups is running (ansible-playbook pid %s on %s, since %s). '
                             'Wait for it to finish; the lock is %s.' % (holder['pid'], holder.get('host'),
                                                                         holder.get('since'), lock_path))
    record = {'pid': playbook_pid(), 'host': os.uname()[1], 'since': iso(time.time())}
    with open(os.open(lock_path + '.tmp', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w') as handle:
        json.dump(record, handle)
    os.rename(lock_path + '.tmp', lock_path)


def report(journal):
    steps = []
    for name in journal['order']:
        step = journal['steps'][name]
        end = step.get('finished')
        steps.append({'step': name, 'started': iso(step['started']), 'finished': iso(end) if end else None,
                      'seconds': round(end - step['started'], 3) if end else None,
                      'info': step.get('info', {})})
    events = journal['events']
    start, end = events.get('downtime_start', {}).get('at'), events.get('downtime_end', {}).get('at')
    return {
        'migration': journal['migration'],
        'downtime_started': iso(start) if start else None,
        'downtime_ended': iso(end) if end else None,
        'downtime_seconds': round(end - start, 3) if start and end else None,
        'events': dict((k, dict(v, at=iso(v['at']))) for k, v in events.items()),
        'steps': steps,
    }


def main():
    module = AnsibleModule(argument_spec=dict(
        path=dict(type='path', required=True),
        state=dict(type='str', default='read', choices=['open', 'begin', 'done', 'event', 'report', 'close', 'read']),
        migration=dict(type='dict'), step=dict(type='str'), event=dict(type='str'),
        info=dict(type='dict', default={})),
        required_if=[('state', 'open', ('migration',)), ('state', 'begin', ('step',)), ('state', 'done', ('step',)),
                     ('state', 'event', ('event',))],
        supports_check_mode=True)
    params = module.params
    path, state = params['path'], params['state']
    lock_path = path + '.lock'
    journal = load(path)
    changed = False
    now = time.time()
    result = {}

    if state == 'open':
        wanted = dict((k, str(v)) for k, v in params['migration'].items())
        if journal is not None and journal['migration'] != wanted and not journal['order']:
            journal = None  # a run that stopped before its first step (a refusal) leaves nothing to resume
        if journal is not None and journal['migration'] != wanted:
            module.fail_json(msg='The journal %s belongs to another migration (%s), not %s. Finish or move it first.'
                                 % (path, journal['migration'], wanted))
        if not module.check_mode:
            directory = os.path.dirname(path)
            if directory and not os.path.isdir(directory):
                os.makedirs(directory, 0o700)
            take_lock(module, lock_path)
            if journal is None:
                journal = {'migration': wanted, 'created': iso(now), 'order': [], 'steps': {}, 'events': {}}
                save(path, journal)
                changed = True
        journal = journal or {'migration': wanted, 'order': [], 'steps': {}, 'events': {}}
    elif journal is None:
        module.fail_json(msg='No journal at %s: open it first' % path)
    elif state in ('begin', 'done'):
        step = journal['steps'].get(params['step'])
        if state == 'begin' and (step is None or step.get('finished') is None):
            if step is None:
                journal['order'].append(params['step'])
            journal['steps'][params['step']] = {'started': now, 'attempts': (step or {}).get('attempts', 0) + 1,
                                                'info': params['info']}
            changed = True
        elif state == 'done' and step is not None and step.get('finished') is None:
            step['finished'] = now
            step['info'].update(params['info'])
            changed = True
        elif state == 'done' and step is None:
            module.fail_json(msg='Step %s was never begun' % params['step'])
    elif state == 'event':
        if params['event'] not in journal['events']:
            journal['events'][params['event']] = {'at': now, 'info': params['info']}
            changed = True
    elif state == 'report':
        result['report'] = report(journal)
        base = path[:-5] if path.endswith('.json') else path
        result['report_path'] = base + '-report.json'
        if not module.check_mode:
            save(result['report_path'], result['report'])
    elif state == 'close':
        # Lock bookkeeping is not a change of the migration: a finished run re-run reports no change.
        if not module.check_mode and os.path.exists(lock_path) and not lock_holder(lock_path):
            os.unlink(lock_path)

    if changed and state in ('begin', 'done', 'event') and not module.check_mode:
        save(path, journal)
    done = [name for name in journal['order'] if journal['steps'][name].get('finished') is not None]
    module.exit_json(changed=changed, path=path, journal=journal, done=done, **result)


if __name__ == '__main__':
    main()
