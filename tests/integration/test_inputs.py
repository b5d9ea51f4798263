# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Inventory values where they cross into other syntaxes and selections: the files the collection generates, read
back by the tools that consume them, and the runtime task files' refusals of an empty selection.

The compose file is rendered by a real ansible-playbook run of the client role's template and read by Compose
itself (``docker-compose config``: v1, the one this machine has; v2 reads the same YAML and the same $$ escape).
No server or Docker engine is needed.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from labsupport import ROOT, ansible_playbook

# Values an inventory or a vault can hold, each of which broke the text template: YAML syntax, Compose's
# interpolation, a line that adds a key of its own.
HOSTILE = {
    "WA_DB_PASSWORD": 'p#a"ss\\w $HOME ${PATH} $$ it\'s',
    "WA_DB_USERNAME": "user: {privileged: true}",
    "WA_DB_NAME_PREFIX": "acme_",
    "EXTRA_NEWLINE": "first\n    privileged: true\nlast",
    "EXTRA_YAML": "- [a, b]\n&anchor *alias ! %TAG",
    "EXTRA_UNICODE": "ü€😀 trailing space ",
    "EXTRA_EMPTY": "",
}


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="Compose v1 (docker-compose) is not installed")
def test_the_compose_file_carries_hostile_values_exactly(tmp_path):
    extra = {key: value for key, value in HOSTILE.items() if key.startswith("EXTRA_")}
    variables = {
        "client_db": {"engine": "mysql", "login_host": "db.example.com", "login_port": 3306,
                      "login_user": HOSTILE["WA_DB_USERNAME"], "login_password": HOSTILE["WA_DB_PASSWORD"],
                      "name_prefix": HOSTILE["WA_DB_NAME_PREFIX"]},
        "client_shards": 1, "client_network_mode": "host", "client_web_port": 9090, "client_node_port_base": 6250,
        "client_images": {"web": "registry.example.com/web:v2.53.2", "coreapp": "registry.example.com/coreapp:v2.53.2"},
        "client_extra_env": extra, "client_web_volumes": ["/srv/certs:/certs:ro"],
        "client_volumes": ["/srv/ca dir/$x #1:/ca:ro"],
        "__client_node_services": ["master1", "master2", "wacore1", "wacore2"],
    }
    playbook = tmp_path / "render.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "ansible.builtin.template": {
            "src": os.path.join(ROOT, "roles", "client", "templates", "docker-compose.yml.j2"),
            "dest": str(tmp_path / "docker-compose.yml"), "mode": "0600"}}]}]))
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}}))
    variables_file = tmp_path / "vars.json"
    variables_file.write_text(json.dumps(variables))
    rc, output = ansible_playbook(str(playbook), str(inventory), "-e", "@%s" % variables_file)
    assert rc == 0, output[-3000:]

    config = subprocess.run(["docker-compose", "--project-directory", str(tmp_path), "-f",
                             str(tmp_path / "docker-compose.yml"), "config"], capture_output=True, text=True,
                            check=False, env=dict(os.environ, HOME="/nonexistent", PATH=os.environ["PATH"]))
    assert config.returncode == 0, config.stderr
    services = yaml.safe_load(config.stdout)["services"]
    assert sorted(services) == ["master1", "master2", "wacore1", "wacore2", "waweb"], services
    for name, service in services.items():
        # Compose prints a literal $ of an environment value as $$ (its own escape).
        environment = {key: value.replace("$$", "$") for key, value in service["environment"].items()}
        for key, value in HOSTILE.items():
            assert environment[key] == value, (name, key, environment[key])
        assert "privileged" not in service, service
        assert "/srv/ca dir/$x #1:/ca:ro" in service["volumes"], service["volumes"]


RUNTIME_SELECTIONS = {
    # runtime: (host variables, text of the refusal)
    "ecs-empty": ("ecs", {"wabiz_ecs_cluster": "prod", "wabiz_ecs_services": []}, "wabiz_ecs_services must list"),
    "ecs-unnamed": ("ecs", {"wabiz_ecs_cluster": "prod", "wabiz_ecs_services": [{"desired_count": 1}]},
                    "wabiz_ecs_services must list"),
    "ecs-twice": ("ecs", {"wabiz_ecs_cluster": "prod", "wabiz_ecs_services": [{"name": "web"}, {"name": "web"}]},
                  "wabiz_ecs_services must list"),
    "ecs-no-cluster": ("ecs", {"wabiz_ecs_services": [{"name": "web"}]}, "wabiz_ecs_cluster must name"),
    "k8s-empty": ("kubernetes", {"wabiz_k8s_namespace": "wa", "wabiz_k8s_workloads": []}, "wabiz_k8s_workloads must list"),
    "k8s-bad-kind": ("kubernetes", {"wabiz_k8s_namespace": "wa", "wabiz_k8s_workloads": [{"kind": "Pod", "name": "web"}]},
                     "wabiz_k8s_workloads must list"),
    "k8s-no-namespace": ("kubernetes", {"wabiz_k8s_workloads": [{"name": "web"}]}, "wabiz_k8s_namespace must name"),
}


@pytest.mark.parametrize("case", list(RUNTIME_SELECTIONS))
@pytest.mark.parametrize("action", ["stop", "start", "status"])
def test_runtime_task_files_refuse_an_empty_or_ambiguous_selection_before_any_call(tmp_path, case, action):
    """With nothing listed, ECS would describe (and the stop scale to 0) every service of the cluster, and the
    Kubernetes stop would do nothing while the status said "stopped". Refused before the cloud's API is called:
    no AWS account or cluster is reached here, so a call would fail differently."""
    runtime, host_vars, expected = RUNTIME_SELECTIONS[case]
    playbook = tmp_path / "runtime.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "ansible.builtin.import_tasks": os.path.join(ROOT, "playbooks", "runtimes", runtime, action + ".yml")}]}]))
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"hosts": {
        "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "old-setup": dict(host_vars, ansible_connection="local")}}}))
    rc, output = ansible_playbook(str(playbook), str(inventory), "-e",
                                  json.dumps({"wabiz_client": {"host": "old-setup", "side": "old"}}))
    assert rc != 0 and expected in output and "Nothing was called" in output, output[-3000:]
    assert "ecs_service_info" not in output.split("Nothing was called")[0].split("TASK")[-1]
