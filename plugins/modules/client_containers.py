#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: client_containers
short_description: Find, stop, start or remove the client containers of an On-Premises setup, and nothing else
version_added: 0.1.0
description:
  - Finds the Webapp, Coreapp and Master containers of a compose project by their compose labels and
    service names (and plain containers by name), and stops, starts or removes them.
  - Every other container (a database container above all) and every volume is checked before and after.
    If a container that ran has stopped or a volume is gone, the module fails. Volumes are never removed.
  - Uses the C(docker) command of the host it runs on.
author:
  - wabiz.migration maintainers (@wabiz)
options:
  project:
    description: Compose project name (label C(com.docker.compose.project)).
    type: str
  services_regex:
    description: Compose service names that are client containers.
    type: str
    default: '^(waweb|wacore[0-9]*|master[0-9]*|coreapp[0-9]*)$'
  names:
    description: Plain containers (not made by compose) that belong to the client, by name.
    type: list
    elements: str
    default: []
  state:
    description: What to make of them. Without it, the module only finds them.
    type: str
    choices: [stopped, started, absent]
  stop_timeout:
    description: Seconds a container gets to stop before it is killed.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
    details: Finds the containers and reports what would change.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
notes:
  - At least one of O(project) and O(names) is needed.
'''

EXAMPLES = r'''
- name: Stop the old client (its database keeps running)
  wabiz.migration.client_containers:
    project: wa-old
    state: stopped
'''

RETURN = r'''
containers:
  description: The client containers, with C(id), C(name), C(service) and C(running) before and after.
  returned: always
  type: list
  elements: dict
others:
  description: Number of other containers on the host.
  returned: always
  type: int
'''

import json
import re

from ansible.module_utils.basic import AnsibleModule


def snapshot(module):
    rc, out, err = module.run_command(['docker', 'ps', '--all', '--no-trunc', '--format', '{{json .}}'])
    if rc != 0:
        module.fail_json(msg='docker ps failed: %s' % err.strip())
    containers = {}
    for line in out.splitlines():
        item = json.loads(line)
        labels = dict(pair.split('=', 1) for pair in item.get('Labels', '').split(',') if '=' in pair)
        containers[item['ID']] = {'id': item['ID'][:12], 'name': item['Names'], 'running': item['State'] == 'running',
                                  'project': labels.get('com.docker.compose.project'),
                                  'service': labels.get('com.docker.compose.service')}
    rc, out, err = module.run_command(['docker', 'volume', 'ls', '--quiet'])
    if rc != 0:
        module.fail_json(msg='docker volume ls failed: %s' % err.strip())
    return containers, sorted(out.split())


def main():
    module = AnsibleModule(argument_spec=dict(
        project=dict(type='str'),
        services_regex=dict(type='str', default='^(waweb|wacore[0-9]*|master[0-9]*|coreapp[0-9]*)$'),
        names=dict(type='list', elements='str', default=[]),
        state=dict(type='str', choices=['stopped', 'started', 'absent']),
        stop_timeout=dict(type='int', default=30)),
        required_one_of=[('project', 'names')], supports_check_mode=True)
    params = module.params
    pattern = re.compile(params['services_regex'])
    before, volumes_before = snapshot(module)
    targets = dict((cid, c) for cid, c in before.items()
                   if (params['project'] and c['project'] == params['project'] and c['service']
                       and pattern.match(c['service'])) or c['name'] in params['names'])
    state = params['state']
    if state == 'stopped':
        todo = [cid for cid, c in targets.items() if c['running']]
        command = ['docker', 'stop', '--time', str(params['stop_timeout'])]
    elif state == 'started':
        todo = [cid for cid, c in targets.items() if not c['running']]
        command = ['docker', 'start']
    elif state == 'absent':
        todo = list(targets)
        command = ['docker', 'rm', '--force']
    else:
        todo, command = [], None
    if todo and not module.check_mode:
        if state == 'absent':
            rc, out, err = module.run_command(['docker', 'stop', '--time', str(params['stop_timeout'])] + todo)
            if rc != 0:
                module.fail_json(msg='docker stop failed: %s' % err.strip())
        rc, out, err = module.run_command(command + todo)
        if rc != 0:
            module.fail_json(msg='%s failed: %s' % (' '.join(command[:2]), err.strip()))
    after, volumes_after = snapshot(module) if todo and not module.check_mode else (before, volumes_before)
    # Other workloads may start containers meanwhile; what must never happen is that a container that ran
    # (a database above all) stopped, or that a volume went away.
    stopped = sorted(after.get(cid, {'name': c['name']})['name'] for cid, c in before.items()
                     if cid not in targets and c['running'] and not after.get(cid, {}).get('running'))
    lost_volumes = sorted(set(volumes_before) - set(volumes_after))
    if stopped or lost_volumes:
        module.fail_json(msg='While acting on %s, other containers stopped (%s) or volumes went away (%s)'
                             % (', '.join(c['name'] for c in targets.values()), ', '.join(stopped) or 'none',
                                ', '.join(lost_volumes) or 'none'))
    result = []
    for cid, c in sorted(targets.items(), key=lambda item: item[1]['name']):
        result.append(dict(id=c['id'], name=c['name'], service=c['service'], running_before=c['running'],
                           running=after[cid]['running'] if cid in after else False))
    module.exit_json(changed=bool(todo), containers=result, others=len(after) - len(targets))


if __name__ == '__main__':
    main()
