# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lock of a setup: one migration, rollback or drop at a time, whichever controller runs it.

The lock is a file on the old setup's host, the one machine every controller of that setup reaches (an AWX
job, a shell on a jump host, a CI runner). It names its holder as a process on a machine: the controller's
boot id and PID namespace, the PID of the controller's process and that process's start time (a PID is reused, a PID with
its start time is not). Whether the holder still runs is decided on the controller that finds the lock:

- same boot and same PID namespace: the process is looked up; gone, or another process under its PID, and
  the lock is stale and taken over;
- another machine or another container: nothing here can see that process. The lock is not taken over on a
  guess; the message names the holder and how to release it once the operator knows it is gone.

The file is written atomically (a temporary file renamed over it) and every check-and-write happens under an
exclusive flock of its directory (no guard file is left behind), so two controllers that arrive at once are
served one after the other.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import fcntl
import hashlib
import json
import os

from ansible_collections.wabiz.migration.plugins.module_utils._files import write


def _read(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def process_start(pid):
    """The start time of ``pid`` in clock ticks since boot, or None when it does not run (a zombie does not)."""
    stat = _read('/proc/%d/stat' % pid)
    if stat is None:
        return None
    fields = stat.rsplit(b')', 1)[1].split()
    if fields[0] in (b'Z', b'X'):
        return None
    return int(fields[19])


def machine():
    """(boot id, PID namespace) of this process: two processes see each other's PIDs only when both match."""
    boot = (_read('/proc/sys/kernel/random/boot_id') or b'').decode().strip()
    try:
        namespace = os.readlink('/proc/self/ns/pid')
    except OSError:
        namespace = ''
    return boot, namespace


def owner(run=None):
    """This controller run as a lock holder: who it is (the lock's id) and what it does (``run``). Called in a
    worker process of the controller (an action plugin), which lives for one task: the holder is its parent, the
    controller's own process, however it was started (ansible-playbook, ansible-runner, the Python API)."""
    boot, namespace = machine()
    pid = os.getppid()
    started = process_start(pid)
    identity = '%s|%s|%s|%s' % (boot, namespace, pid, started)
    return {
        'id': hashlib.sha256(identity.encode()).hexdigest()[:16],
        'controller': os.uname()[1], 'boot_id': boot, 'pid_namespace': namespace, 'pid': pid,
        'process_start': started,
        'since': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'run': run or {},
    }


def alive(holder):
    """True when the holder still runs, False when it is gone, None when this controller cannot tell."""
    if (holder.get('boot_id'), holder.get('pid_namespace')) != machine() or not holder.get('boot_id'):
        return None
    started = process_start(int(holder.get('pid') or 0)) if holder.get('pid') else None
    return started is not None and started == holder.get('process_start')


def describe(holder):
    """One line naming a lock's holder for a person."""
    run = holder.get('run') or {}
    what = str(run.get('what', 'a run'))
    what = 'option %s' % what if what.isdigit() else what
    where = ' of %s -> %s' % (run['old'], run['new']) if run.get('old') and run.get('new') else ''
    extra = ''.join(', %s %s' % (label, run[key]) for key, label in (('journal', 'journal'), ('awx_job', 'AWX job'))
                    if run.get(key))
    return '%s%s from controller %s (controller pid %s, since %s%s; lock id %s)' % (
        what, where, holder.get('controller'), holder.get('pid'), holder.get('since'), extra, holder.get('id'))


class LockFile:
    """The lock file on the host it lives on: read, take (optionally over a given holder), give back."""

    def __init__(self, path):
        self.path = path

    def _guarded(self):
        directory = os.path.dirname(self.path)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory, 0o700)
        guard = os.open(directory or '.', os.O_RDONLY)
        fcntl.flock(guard, fcntl.LOCK_EX)
        return guard

    def holder(self):
        text = _read(self.path)
        try:
            return json.loads(text.decode()) if text else None
        except ValueError:
            return {'id': 'unreadable', 'run': {'unreadable lock file': self.path}}

    def take(self, record, over=None):
        """Write ``record`` unless another holder (not ``over``) has it; returns (taken, holder before)."""
        guard = self._guarded()
        try:
            before = self.holder()
            if before is not None and before.get('id') not in (record['id'], over):
                return False, before
            write(self.path, json.dumps(record, sort_keys=True))
            return True, before
        finally:
            os.close(guard)

    def give_back(self, lock_id):
        """Remove the lock if ``lock_id`` holds it; returns whether it did."""
        guard = self._guarded()
        try:
            before = self.holder()
            if before is None or before.get('id') != lock_id:
                return False
            os.unlink(self.path)
            return True
        finally:
            os.close(guard)
