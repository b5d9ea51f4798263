# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration journal: its file and the downtime report.

Shared by the journal module and its action plugin, which runs it in the controller's own process: the journal
lives on the controller, and a dozen journal writes sit inside the downtime window, where a module's start-up
per call would be counted as downtime.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import time

ARGUMENT_SPEC = dict(
    path=dict(type='path', required=True),
    state=dict(type='str', default='read', choices=['open', 'begin', 'done', 'event', 'report', 'read']),
    migration=dict(type='dict'), step=dict(type='str'), event=dict(type='str'),
    info=dict(type='dict', default={}))
REQUIRED_IF = [('state', 'open', ('migration',)), ('state', 'begin', ('step',)), ('state', 'done', ('step',)),
               ('state', 'event', ('event',))]


class JournalError(Exception):
    """A journal operation that must not go on (another migration's journal, a step never begun)."""


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


def set_aside(path, journal):
    """Move a rolled-back migration's journal out of the way; returns where it went.

    After a rollback the old client serves and writes again: nothing its journal says was done (stop, dump)
    still holds, so the next run starts afresh.
    """
    stamp = journal['events']['rolled_back']['at']
    base = path[:-5] if path.endswith('.json') else path
    target = '%s.rolled-back-%s.json' % (base, datetime.datetime.fromtimestamp(stamp).strftime('%Y%m%d-%H%M%S'))
    os.rename(path, target)
    return target


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


def apply(params, check_mode):
    """Carry out one journal operation; returns the module result. Raises JournalError."""
    path, state = params['path'], params['state']
    journal = load(path)
    changed = False
    now = time.time()
    result = {}

    if state == 'open':
        wanted = dict((k, str(v)) for k, v in params['migration'].items())
        if journal is not None and journal['migration'] != wanted and not journal['order']:
            journal = None  # a run that stopped before its first step (a refusal) leaves nothing to resume
        if journal is not None and 'rolled_back' in journal['events']:
            if not check_mode:
                result['previous_journal'] = set_aside(path, journal)
            journal = None
        if journal is not None and journal['migration'] != wanted:
            raise JournalError('The journal %s belongs to another migration (%s), not %s. Finish or move it first.'
                               % (path, journal['migration'], wanted))
        if not check_mode:
            directory = os.path.dirname(path)
            if directory and not os.path.isdir(directory):
                os.makedirs(directory, 0o700)
            if journal is None:
                journal = {'migration': wanted, 'created': iso(now), 'order': [], 'steps': {}, 'events': {}}
                save(path, journal)
                changed = True
        journal = journal or {'migration': wanted, 'order': [], 'steps': {}, 'events': {}}
    elif journal is None:
        raise JournalError('No journal at %s: open it first' % path)
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
            raise JournalError('Step %s was never begun' % params['step'])
    elif state == 'event':
        if params['event'] not in journal['events']:
            journal['events'][params['event']] = {'at': now, 'info': params['info']}
            changed = True
    elif state == 'report':
        result['report'] = report(journal)
        base = path[:-5] if path.endswith('.json') else path
        result['report_path'] = base + '-report.json'
        if not check_mode:
            save(result['report_path'], result['report'])

    if changed and state in ('begin', 'done', 'event') and not check_mode:
        save(path, journal)
    done = [name for name in journal['order'] if journal['steps'][name].get('finished') is not None]
    return dict(changed=changed, path=path, journal=journal, done=done, **result)
