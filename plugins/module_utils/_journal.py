# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The migration journal: its file and the downtime report.

Shared by the journal module and its action plugin, which runs it in the controller's own process: the journal
lives on the controller, and a dozen journal writes sit inside the downtime window, where a module's start-up
per call would be counted as downtime.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import html
import json
import os
import time

from ansible_collections.wabiz.migration.plugins.module_utils._files import write
from ansible_collections.wabiz.migration.plugins.module_utils._progress import size

ARGUMENT_SPEC = dict(
    path=dict(type='path', required=True),
    state=dict(type='str', default='read', choices=['open', 'begin', 'done', 'event', 'report', 'read']),
    migration=dict(type='dict'), setups=dict(type='dict'), step=dict(type='str'), event=dict(type='str'),
    info=dict(type='dict', default={}),
    then=dict(type='dict', options=dict(step=dict(type='str', required=True), info=dict(type='dict', default={}),
                                        event=dict(type='str'))))
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
    write(path, json.dumps(journal, indent=2, sort_keys=True))


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


def plain(value):
    """``value`` as JSON gives it back: what the journal holds compares equal to what a task passes."""
    return json.loads(json.dumps(value, sort_keys=True))


def check_setups(path, journal, setups):
    """The servers and projects a journal was written for are those of this run; raises JournalError if not."""
    recorded = journal['events'].get('setups', {}).get('info')
    if recorded is not None and plain(recorded) != plain(setups):
        raise JournalError(
            'The journal %s was written for %s; the inventory now gives %s. Its finished steps hold only for what it '
            'was written for. Point the inventory back at those servers and projects; or, if the migration is to '
            'start over elsewhere, roll it back (wabiz.migration.rollback) or move the journal away.'
            % (path, json.dumps(recorded, sort_keys=True), json.dumps(plain(setups), sort_keys=True)))


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


def timeline(report):
    """The downtime report as one self-contained HTML page: each step a bar on a time axis, the downtime window
    shaded, the two setups and the data moved named. Nothing is loaded from elsewhere (AWX and offline use)."""
    def at(text):
        return datetime.datetime.fromisoformat(text).timestamp()

    steps = [s for s in report['steps'] if s['finished']]
    migration, events = report['migration'], report['events']
    setups = events.get('setups', {}).get('info', {})
    starts = [at(s['started']) for s in steps] or [0.0]
    origin, end = min(starts), max([at(s['finished']) for s in steps] or [1.0])
    span = max(end - origin, 0.001)
    width, left, row = 960, 250, 30
    scale = (width - left - 90) / span

    def x(moment):
        return left + (at(moment) - origin) * scale

    parts = []
    if report['downtime_started'] and report['downtime_ended']:
        parts.append('<rect class="downtime" x="%.1f" y="0" width="%.1f" height="%d"><title>downtime %s s</title></rect>'
                     % (x(report['downtime_started']), max(1.0, x(report['downtime_ended']) - x(report['downtime_started'])),
                        row * len(steps) + 10, report['downtime_seconds']))
    for index, step in enumerate(steps):
        y = 8 + index * row
        parts.append('<text class="name" x="%d" y="%d">%s</text>' % (left - 8, y + 15, html.escape(step['step'])))
        parts.append('<rect class="step" x="%.1f" y="%d" width="%.1f" height="20"><title>%s: %s s</title></rect>'
                     % (x(step['started']), y, max(2.0, step['seconds'] * scale), html.escape(step['step']), step['seconds']))
        parts.append('<text class="seconds" x="%.1f" y="%d">%.2f s</text>'
                     % (x(step['started']) + max(2.0, step['seconds'] * scale) + 6, y + 15, step['seconds']))
    height = row * len(steps) + 40
    axis = ''.join('<text class="tick" x="%.1f" y="%d">%.0f s</text>' % (left + t * span / 4 * scale, height - 8, t * span / 4)
                   for t in range(5))

    def setup(side):
        known = setups.get(side, {})
        prefix = known.get('database_prefix')
        return html.escape('%s (compose project %s, %s, database server %s)' % (
            known.get('host', migration.get(side)), known.get('project', '?'),
            'databases %s*' % prefix if prefix else 'databases without a prefix', known.get('database_server') or '-'))

    moved = []
    for step in steps:
        info = step.get('info', {})
        if info.get('bytes'):
            moved.append('%s: %s' % (step['step'], size(info['bytes'])))
        if info.get('rows_copied') is not None:
            moved.append('%s: %s rows copied' % (step['step'], info['rows_copied']))
    start, end = report['downtime_started'], report['downtime_ended']
    rows = ''.join('<tr><td>%s</td><td>%s</td><td>%.2f</td><td>%s</td></tr>' % (
        html.escape(step['step']), html.escape(step['started'][11:23]), step['seconds'],
        'inside' if start and end and at(step['started']) < at(end) and at(step['finished']) > at(start) else '')
        for step in steps)
    downtime = report['downtime_seconds']
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Migration option {option}: downtime {downtime}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
h1 {{ font-size: 1.4em; }} dt {{ font-weight: bold; float: left; width: 9em; }} dd {{ margin: 0 0 .3em 10em; }}
.downtime {{ fill: #f6d3d3; }} .step {{ fill: #3b6fb6; }} .name {{ text-anchor: end; font-size: 13px; }}
.seconds, .tick {{ font-size: 12px; fill: #555; }}
table {{ border-collapse: collapse; margin-top: 1em; }} td, th {{ padding: .2em .8em; text-align: left; }}
tbody tr:nth-child(odd) {{ background: #f3f3f3; }}
</style></head><body>
<h1>Migration option {option}: downtime {downtime}</h1>
<dl><dt>from</dt><dd>{old}</dd><dt>to</dt><dd>{new}</dd>
<dt>downtime</dt><dd>{window}</dd><dt>data</dt><dd>{moved}</dd></dl>
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img"
 aria-label="steps on a time axis, the downtime window shaded">{parts}{axis}</svg>
<p>Each bar is a step from its start to its end; the shaded band is the downtime window, from the old client's
stop to the new client's accepted test message.</p>
<table><thead><tr><th>step</th><th>started (UTC)</th><th>seconds</th><th>downtime</th></tr></thead>
<tbody>{rows}</tbody></table>
</body></html>
""".format(option=html.escape(str(migration.get('option'))),
           downtime='%s s' % downtime if downtime is not None else 'not over',
           old=setup('old'), new=setup('new'),
           window=html.escape('%s to %s' % (report['downtime_started'], report['downtime_ended'])),
           moved=html.escape(', '.join(moved) or 'settings only'),
           width=width, height=height, parts=''.join(parts), axis=axis, rows=rows)


def begin(journal, name, info, now):
    """A step begins (again, after a failure: one more attempt); a finished step stays as it is."""
    step = journal['steps'].get(name)
    if step is None:
        journal['order'].append(name)
    if step is None or step.get('finished') is None:
        journal['steps'][name] = {'started': now, 'attempts': (step or {}).get('attempts', 0) + 1, 'info': info}


def finish(journal, name, info, now):
    step = journal['steps'].get(name)
    if step is None:
        raise JournalError('Step %s was never begun' % name)
    if step.get('finished') is None:
        step['finished'] = now
        step['info'].update(info)


def record(journal, event, info, now):
    """An event is recorded once: a re-run keeps the first time. Returns whether it was recorded now."""
    if not event or event in journal['events']:
        return False
    journal['events'][event] = {'at': now, 'info': info}
    return True


def apply(params, check_mode):
    """Carry out one journal operation; returns the module result. Raises JournalError."""
    path, state = params['path'], params['state']
    journal = load(path)
    written = False
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
                written = True
        journal = journal or {'migration': wanted, 'order': [], 'steps': {}, 'events': {}}
        if params['setups'] is not None:
            # Recorded by the first run that begins a step; a run refused before its first step leaves no record.
            if journal['order']:
                check_setups(path, journal, params['setups'])
            if not journal['order'] or 'setups' not in journal['events']:
                journal['events']['setups'] = {'at': now, 'info': plain(params['setups'])}
                if not check_mode:
                    save(path, journal)
    elif journal is None:
        raise JournalError('No journal at %s: open it first' % path)
    elif state in ('begin', 'done'):
        if state == 'done':
            finish(journal, params['step'], params['info'], now)
            if params['then']:
                begin(journal, params['then']['step'], params['then']['info'], now)
                record(journal, params['then']['event'], {}, now)
        else:
            begin(journal, params['step'], params['info'], now)
        record(journal, params['event'], {}, now)
        written = True
    elif state == 'read' and params['setups'] is not None:
        check_setups(path, journal, params['setups'])
    elif state == 'event':
        written = record(journal, params['event'], params['info'], now)
    elif state == 'report':
        result['report'] = report(journal)
        base = path[:-5] if path.endswith('.json') else path
        result['report_path'] = base + '-report.json'
        result['timeline_path'] = base + '-report.html'
        if not check_mode:
            save(result['report_path'], result['report'])
            write(result['timeline_path'], timeline(result['report']))

    if written and state in ('begin', 'done', 'event') and not check_mode:
        save(path, journal)
    done = [name for name in journal['order'] if journal['steps'][name].get('finished') is not None]
    # The journal is the run's bookkeeping, not a change of either setup: it never reports changed.
    return dict(changed=False, path=path, journal=journal, done=done,
                info=dict((name, journal['steps'][name].get('info', {})) for name in done), **result)
