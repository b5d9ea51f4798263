# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the playbooks: settings with the argument specs' defaults, and the steps a run carries out."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.wabiz.migration.plugins.module_utils._checks import problem


# Compose's own rule for project names; the lock file of a setup is named after it (never a path).
COMPOSE_PROJECT = re.compile(r'\A[a-z0-9][a-z0-9_-]*\Z')
STEP_KEYS = frozenset(('name', 'title', 'guide', 'downtime', 'when'))


def with_defaults(variables, options, blank_is_unset=False):
    """Every option of an argument spec: the value given in variables, of the spec's type (an extra var's
    "false" is False), else the spec's default, else None. With blank_is_unset, an empty string (a survey's
    blank answer) counts as not given."""
    given = dict((name, variables[name]) for name in options
                 if name in variables and not (blank_is_unset and variables[name] == ''))
    checked = ArgumentSpecValidator(options).validate(given)
    if checked.error_messages:
        raise AnsibleFilterError('; '.join(checked.error_messages))
    return checked.validated_parameters


def invalid(value, kind, name):
    """Why a setting is not what the module that takes it accepts (module_utils/_checks), or an empty string."""
    return problem(value, kind, name) or ''


def port_number(value):
    try:
        return 0 < int(value) < 65536
    except (TypeError, ValueError):
        return False


def setup_problems(setup, side):
    """What is missing or invalid in one setup (playbooks/templates/setup.j2) beyond what its argument spec says,
    each with its fix, as one sentence naming the host; an empty string when nothing is."""
    env = side.upper()
    checks = [
        problem(setup['api']['api_url'], 'url' if setup['api'].get('allow_http') else 'api_url', 'wa_api_url',
                opt_in='wa_api_allow_http'),
        None if setup['api']['api_password'] else 'wa_api_password is missing (or set WA_API_%s_PASSWORD)' % env,
        None if port_number(setup['db']['login_port']) else 'wa_db_port must be a port number (1-65535)',
        None if setup['db']['login_password'] is not None
        else 'wa_db_password is missing (or set WA_DB_%s_PASSWORD)' % env,
        None if setup['db']['login_password'] != '' else
        'wa_db_password is empty, which hides WA_DB_%s_PASSWORD (an AWX credential injects it): remove the variable, '
        'or give the password' % env,
        topology_problem(setup.get('topology')),
        None if setup['client']['project'] else 'wa_compose_project is empty; name the compose project of the client containers',
        None if not setup['client']['project'] or COMPOSE_PROJECT.match(setup['client']['project']) else
        'wa_compose_project %s is no compose project name (lowercase letters, digits, - and _, starting with a letter or '
        'digit)' % json.dumps(setup['client']['project']),
        None if len(setup['db']['name_prefix'] or '') <= 50 else
        'wa_db_name_prefix is %d characters; database names hold 63 at most, so the prefix (WA_DB_NAME_PREFIX of the '
        'client) can have 50 before wamessages_NN' % len(setup['db']['name_prefix']),
    ]
    found = [c for c in checks if c]
    return 'The %s setup is incomplete or invalid: %s. See docs/docsite/rst/inventory.rst.' % (setup['host'], '; '.join(found)) \
        if found else ''


def topology_problem(topology):
    """Why shards, masters and coreapps do not describe one client (the reference: a single instance is one
    coreapp; multiconnect has at least 2 masters and shards + 1 coreapps), or None."""
    if not topology:
        return None
    shards, masters, coreapps = (int(topology[key]) for key in ('shards', 'masters', 'coreapps'))
    if shards == 0 and (masters, coreapps) != (0, 1):
        return ('wa_topology has no shards (a single instance) but %d master(s) and %d coreapp(s): a single instance '
                'is {shards: 0, masters: 0, coreapps: 1}' % (masters, coreapps))
    if shards and (masters < 2 or coreapps != shards + 1):
        return ('wa_topology has %d shard(s), %d master(s) and %d coreapp(s): multiconnect with %d shard(s) has at least '
                '2 masters and %d coreapps (shards + 1)' % (shards, masters, coreapps, shards, shards + 1))
    return None


def steps_to_run(steps, done, run_tags=('all',), skip_tags=()):
    """The steps of an option playbook this run carries out, in their order.

    A step is a dict with name (its task file and tag), title, guide (the guide's step number, or null for a
    step the guide does not have), downtime (inside the downtime window) and when (false leaves it out).
    Steps the journal has done are left out (a resumed run starts after them); with --tags or --skip-tags,
    a step runs when its name is selected.
    """
    selected = []
    for step in steps:
        missing, unknown = set(('name', 'title', 'downtime')) - set(step), set(step) - STEP_KEYS
        if missing or unknown:
            raise AnsibleFilterError('step %r: %s' % (step.get('name'), '; '.join(
                ['lacks ' + ', '.join(sorted(missing))] * bool(missing) + ['unknown ' + ', '.join(sorted(unknown))] * bool(unknown))))
        if not boolean(step.get('when', True), strict=False) or step['name'] in done:
            continue
        if step['name'] in skip_tags or not ('all' in run_tags or step['name'] in run_tags):
            continue
        selected.append(step)
    return selected


class FilterModule(object):
    def filters(self):
        return {'with_defaults': with_defaults, 'steps_to_run': steps_to_run, 'invalid': invalid,
                'setup_problems': setup_problems}
