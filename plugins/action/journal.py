# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.wabiz.migration.plugins.module_utils._journal import (
    ARGUMENT_SPEC, REQUIRED_IF, JournalError, apply)


class ActionModule(ActionBase):
    """Runs the journal in the controller's process: the journal is a controller file, and its writes inside
    the downtime window would otherwise each pay a module's start-up."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # no remote temporary directory is used
        validation, dummy = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF)
        try:
            result.update(apply(validation.validated_parameters, self._task.check_mode))
        except JournalError as exc:
            result.update(failed=True, msg=str(exc))
        return result
