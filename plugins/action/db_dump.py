# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import json
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.wabiz.migration.plugins.module_utils._progress import describe, progress_path

display = Display()

# What the async job adds to the module's own result.
ASYNC_KEYS = ('ansible_job_id', 'started', 'finished', 'results_file', 'stdout', 'stderr', 'stdout_lines',
              'stderr_lines')


class ActionModule(ActionBase):
    """With progress_interval, db_dump runs as an async job watched from here: every interval (the first after
    half a second, doubling up to it) the job's status, and the module's progress file shown as one line, in the
    terminal and in an AWX job's output. Without it, or in check mode or an async task, it runs as any module."""

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # _execute_module makes the remote temporary directory the async job needs
        interval = int(self._task.args.get('progress_interval') or 0)
        if interval <= 0 or self._task.check_mode or self._task.async_val:
            result.update(self._execute_module(task_vars=task_vars))
            return result
        # The job's time limit (the module's lock_timeout and its tools end it first); only for the launch, so the
        # task executor does not poll a job this plugin watches itself.
        self._task.async_val = 86400
        try:
            launched = self._execute_module(task_vars=task_vars, wrap_async=True)
        finally:
            self._task.async_val = 0
        if launched.get('failed') or 'ansible_job_id' not in launched:
            result.update(launched)
            return result
        status = dict(jid=launched['ansible_job_id'], _async_dir=self.get_shell_option('async_dir', default='~/.ansible_async'))
        where = progress_path(self._task.args['dest'])
        wait = 0.5
        while True:
            time.sleep(wait)
            wait = min(wait * 2, interval)
            polled = self._execute_module(module_name='ansible.builtin.async_status', module_args=status,
                                          task_vars=task_vars)
            if polled.get('finished') or 'finished' not in polled:
                break
            shown = self._execute_module(module_name='ansible.builtin.slurp', module_args=dict(src=where),
                                         task_vars=task_vars)
            if 'content' in shown:
                display.display('    ' + describe(json.loads(base64.b64decode(shown['content']))))
        self._execute_module(module_name='ansible.builtin.async_status', module_args=dict(status, mode='cleanup'),
                             task_vars=task_vars)
        self._remove_tmp_path(self._connection._shell.tmpdir)
        result.update((key, value) for key, value in polled.items() if key not in ASYNC_KEYS)
        return result
