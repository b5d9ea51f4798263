#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: client_containers
short_description: Find, stop, start or remove only the client containers of a setup
version_added: 1.0.0
description:
  - Finds the Webapp, Coreapp and Master containers of a compose project by their compose labels and
    service names (and plain containers by name), and stops, starts or removes them.
  - Every other container of the compose project (a database container above all) and the project's volumes
    are checked before and after; without O(project), every container and volume of the host. If a container
    that ran has stopped or a volume is gone, the module fails. Volumes are never removed. Containers and
    volumes of other projects are left out of the check, since other workloads of the host come and go.
  - Uses the C(docker) command of the host it runs on.
author:
  - wabiz.migration maintainers (@wabiz)
seealso:
  - module: community.docker.docker_compose_v2
  - ref: ansible_collections.wabiz.migration.docsite.runbook
    description: 'The operator''s guide: the option playbooks that use these modules, step by step.'
options:
  project:
    description: Compose project name (label C(com.docker.compose.project)).
    type: str
  services_regex:
    description: Compose service names that are client containers.
    type: str
    default: '^(waweb|wacore[0-9]*|master[0-9]*|coreapp[0-9]*)$'
  names:
    description:
      - Plain containers (not made by compose) that belong to the client, by name.
      - Unless O(state=absent), each must exist, must not be a compose service outside O(services_regex) and must
        not run a database server's image (C(mysql), C(mariadb), C(postgres), ...); otherwise the module fails
        before it stops or starts anything.
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
  expected_services:
    description:
      - With O(state=started), the compose services the containers must be exactly (the topology's). When the
        containers found are other services, nothing is started and RV(complete) is false, so the caller can
        create the right ones instead.
    type: list
    elements: str
  wait_for_port:
    description:
      - With O(state=started), wait until this TCP port on O(wait_for_host) accepts connections (the web app's
        port), checking every 0.1 s. The cut-over counts every tenth of a second.
    type: int
  wait_for_host:
    description: Where O(wait_for_port) is checked.
    type: str
    default: 127.0.0.1
  wait_timeout:
    description: Seconds O(wait_for_port) gets to open.
    type: int
    default: 120
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

- name: Start the new client's staged containers and wait for its web app's port
  wabiz.migration.client_containers:
    project: wa-new
    state: started
    wait_for_port: 9090
'''

RETURN = r'''
complete:
  description: Whether the containers found are exactly O(expected_services) (always true without it).
  returned: always
  type: bool
  sample: true
containers:
  description: The client containers, with C(id), C(name), C(service) and C(running) before and after.
  returned: always
  type: list
  elements: dict
  sample:
    - id: ad2f1aee7073
      name: wa-old_master1_1
      service: master1
      running_before: true
      running: false
    - id: fcb245a80aa6
      name: wa-old_wacore1_1
      service: wacore1
      running_before: true
      running: false
    - id: 2124736e353f
      name: wa-old_waweb_1
      service: waweb
      running_before: true
      running: false
others:
  description: Number of other containers on the host.
  returned: always
  type: int
  sample: 0
'''

import json
import re
import socket
import time

from ansible.module_utils.basic import AnsibleModule


def snapshot(module, project=None):
    """(every container by id, the volume names of the compose project when given, else of the host)."""
    scope = ['--filter', 'label=com.docker.compose.project=%s' % project] if project else []
    rc, out, err = module.run_command(['docker', 'ps', '--all', '--no-trunc', '--format', '{{json .}}'])
    if rc != 0:
        module.fail_json(msg='docker ps failed: %s' % err.strip())
    containers = {}
    for line in out.splitlines():
        item = json.loads(line)
        labels = dict(pair.split('=', 1) for pair in item.get('Labels', '').split(',') if '=' in pair)
        containers[item['ID']] = {'id': item['ID'][:12], 'name': item['Names'], 'running': item['State'] == 'running',
                                  'image': item.get('Image', ''),
                                  'project': labels.get('com.docker.compose.project'),
                                  'service': labels.get('com.docker.compose.service')}
    rc, out, err = module.run_command(['docker', 'volume', 'ls', '--quiet'] + scope)
    if rc != 0:
        module.fail_json(msg='docker volume ls failed: %s' % err.strip())
    return containers, sorted(out.split())


# Images of database servers: a container of one is never the client's, whatever name it was given.
DATABASE_IMAGE = re.compile(r'(^|/)(mysql|mariadb|postgres|postgresql|percona[a-z-]*|postgis)(:|@|$)')


def not_client_containers(containers, names, pattern):
    """Why ``names`` (plain containers the operator listed as the client's) do not all name client containers:
    one missing, one that is another compose service (a database above all), one of a database server's image."""
    by_name = dict((c['name'], c) for c in containers.values())
    problems = []
    for name in names:
        found = by_name.get(name)
        if found is None:
            problems.append('%s: no such container' % name)
        elif found['service'] and not pattern.match(found['service']):
            problems.append('%s: the compose service %s, which is not the client\'s' % (name, found['service']))
        elif DATABASE_IMAGE.search(found['image']):
            problems.append('%s: a container of the database server image %s' % (name, found['image']))
    return problems


def wait_for_port(module, host, port, timeout):
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except (IOError, OSError) as exc:
            if time.time() > deadline:
                module.fail_json(msg='%s:%d did not accept connections within %d s after the start (%s): see the '
                                     'containers\' logs (docker logs)' % (host, port, timeout, exc))
            time.sleep(0.1)


def main():
    module = AnsibleModule(argument_spec=dict(
        project=dict(type='str'),
        services_regex=dict(type='str', default='^(waweb|wacore[0-9]*|master[0-9]*|coreapp[0-9]*)$'),
        names=dict(type='list', elements='str', default=[]),
        state=dict(type='str', choices=['stopped', 'started', 'absent']),
        stop_timeout=dict(type='int', default=30), expected_services=dict(type='list', elements='str'),
        wait_for_port=dict(type='int'),
        wait_for_host=dict(type='str', default='127.0.0.1'), wait_timeout=dict(type='int', default=120)),
        required_one_of=[('project', 'names')], supports_check_mode=True)
    params = module.params
    pattern = re.compile(params['services_regex'])
    before, volumes_before = snapshot(module, params['project'])
    if params['state'] != 'absent':
        problems = not_client_containers(before, params['names'], pattern)
        if problems:
            module.fail_json(msg='wa_client_containers (names) must list the client\'s Webapp, Coreapp and Master '
                                 'containers only: %s. Nothing was stopped or started; fix the list.'
                             % '; '.join(problems))
    targets = dict((cid, c) for cid, c in before.items()
                   if (params['project'] and c['project'] == params['project'] and c['service']
                       and pattern.match(c['service'])) or c['name'] in params['names'])
    state = params['state']
    complete = params['expected_services'] is None or (
        sorted(c['service'] for c in targets.values()) == sorted(params['expected_services']))
    if state == 'started' and not complete:
        module.exit_json(changed=False, complete=False, others=len(before) - len(targets), containers=[
            dict(id=c['id'], name=c['name'], service=c['service'], running_before=c['running'], running=c['running'])
            for c in targets.values()])
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
    after, volumes_after = (snapshot(module, params['project']) if todo and not module.check_mode
                            else (before, volumes_before))
    # Other workloads may start and stop containers meanwhile; what must never happen is that a container of
    # the project that ran (a database above all) stopped, or that one of its volumes went away.
    stopped = sorted(after.get(cid, {'name': c['name']})['name'] for cid, c in before.items()
                     if cid not in targets and c['running'] and not after.get(cid, {}).get('running')
                     and (not params['project'] or c['project'] == params['project']))
    lost_volumes = sorted(set(volumes_before) - set(volumes_after))
    if stopped or lost_volumes:
        module.fail_json(msg='While acting on %s, other containers stopped (%s) or volumes went away (%s)'
                             % (', '.join(c['name'] for c in targets.values()), ', '.join(stopped) or 'none',
                                ', '.join(lost_volumes) or 'none'))
    if state == 'started' and params['wait_for_port'] and targets and not module.check_mode:
        wait_for_port(module, params['wait_for_host'], params['wait_for_port'], params['wait_timeout'])
    result = []
    for cid, c in sorted(targets.items(), key=lambda item: item[1]['name']):
        result.append(dict(id=c['id'], name=c['name'], service=c['service'], running_before=c['running'],
                           running=after[cid]['running'] if cid in after else False))
    module.exit_json(changed=bool(todo), complete=complete, containers=result, others=len(after) - len(targets))


if __name__ == '__main__':
    main()
