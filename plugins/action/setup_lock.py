# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.wabiz.migration.plugins.module_utils._lock import alive, describe, owner


class ActionModule(ActionBase):
    """Who holds the lock is decided where the holder may be seen, on the controller; the file is the target's."""

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # the module needs no remote temporary directory of its own
        args = dict(self._task.args)
        release = args.pop('release', None)
        args['owner'] = owner(args.get('run'))
        found = self._execute_module(module_name='wabiz.migration.setup_lock', module_args=args, task_vars=task_vars)
        holder = found.get('holder')
        if found.get('failed') or args.get('state') == 'absent' or found.get('taken') or not holder \
                or holder.get('id') == args['owner']['id']:
            result.update(found)
            return result
        state = alive(holder)
        if state is False or (state is None and release and release == holder.get('id')):
            if self._task.check_mode:
                result.update(found, msg='The lock would be taken over from %s (%s).' % (
                    describe(holder), 'gone' if state is False else 'released by wabiz_lock_release'))
                return result
            found = self._execute_module(module_name='wabiz.migration.setup_lock',
                                         module_args=dict(args, over=holder['id']), task_vars=task_vars)
            result.update(found, taken_over=holder)
            return result
        path = args.get('path')
        if state:
            msg = ('Another run holds the lock of this setup: %s. It still runs on this controller: wait for it to '
                   'end. (Lock file %s.)' % (describe(holder), path))
        else:
            msg = ('Another run holds the lock of this setup: %s. That controller is another machine or container, '
                   'so whether the run still goes cannot be seen from here. If it does, wait for it. If it is gone '
                   '(its job ended, its machine died), run again with -e wabiz_lock_release=%s to take the lock '
                   'over. (Lock file %s on the old host.)' % (describe(holder), holder.get('id'), path))
        result.update(found, failed=True, msg=msg)
        return result
