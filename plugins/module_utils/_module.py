# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What every API module shares: the argument spec, error reporting, check mode and diff in one place."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wabiz.migration.plugins.module_utils._api import ApiError, WaApi, api_argument_spec
from ansible_collections.wabiz.migration.plugins.module_utils._checks import problem


class ApiModule(object):
    def __init__(self, argument_spec=None, **kwargs):
        spec = api_argument_spec()
        spec.update(argument_spec or {})
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        wrong = problem(self.params['api_url'], 'url' if self.params['allow_http'] else 'api_url', 'api_url',
                        opt_in='allow_http')
        if wrong:
            self.module.fail_json(msg=wrong)
        self.api = WaApi.from_module(self.module)

    def call(self, method, path, body=None, expect=(200,), hints=None):
        """One API request; a failure ends the module with the request, the status and the API's errors.

        ``hints`` maps an API error code to a sentence that tells the operator what to do.
        """
        try:
            return self.api.request(method, path, body, expect)
        except ApiError as exc:
            self.fail(exc, hints)

    def fail(self, exc, hints=None):
        hint = (hints or {}).get(exc.code)
        self.module.fail_json(**exc.fail_kwargs(hint))

    def secret(self, value):
        """Never print ``value`` (a token, backup data) in any output of this module."""
        if value:
            self.module.no_log_values.add(value)
        return value

    def change(self, before, after, apply):
        """Check mode and diff for a state change: ``apply()`` runs only outside check mode."""
        changed = before != after
        result = {'changed': changed}
        if changed and not self.module.check_mode:
            apply()
        if self.module._diff:
            result['diff'] = {'before': before, 'after': after}
        return result

    def exit(self, **result):
        result.setdefault('changed', False)
        self.module.exit_json(**result)
