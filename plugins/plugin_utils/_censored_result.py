# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""An action that runs its module and hides a successful result that carries a secret.

The secret (an API token, backup data) is what later tasks need, so the module cannot mask it: a value in
``no_log_values`` is replaced in the returned data too. Marking the whole result no_log keeps the registered
variable intact while every callback shows it censored. Failures stay visible; they never carry the secret.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.plugins.action import ActionBase


class CensoredResultAction(ActionBase):
    SECRET_KEY = None  # the result key whose presence makes the whole result secret

    def run(self, tmp=None, task_vars=None):
        result = super(CensoredResultAction, self).run(tmp, task_vars)
        result.update(self._execute_module(task_vars=task_vars))
        if not result.get('failed') and result.get(self.SECRET_KEY):
            result['_ansible_no_log'] = True
        return result
