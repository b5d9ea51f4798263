# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""client_containers: picks the client's containers by compose labels, and fails if anything else stops."""

import json

from ansible.module_utils import basic

from ansible_collections.wabiz.migration.plugins.modules import client_containers


def container(cid, name, running, project=None, service=None):
    pairs = (("com.docker.compose.project", project), ("com.docker.compose.service", service))
    labels = ",".join("%s=%s" % pair for pair in pairs if pair[1])
    return json.dumps({"ID": cid * 8, "Names": name, "State": "running" if running else "exited", "Labels": labels})


class FakeDocker:
    def __init__(self, containers, stops_db=False):
        self.containers = containers
        self.stops_db = stops_db
        self.commands = []

    def __call__(self, args, **kwargs):  # set on the class, so it is not bound to the module
        self.commands.append(args)
        if args[:2] == ["docker", "ps"]:
            return 0, "\n".join(self.containers), ""
        if args[:3] == ["docker", "volume", "ls"]:
            return 0, "whatsappMedia\nmysqlData\n", ""
        if args[:2] == ["docker", "stop"]:
            self.containers = [c.replace('"running"', '"exited"') if any(i * 8 in c for i in args[4:]) or self.stops_db
                               else c for c in self.containers]
        return 0, "", ""


def setup(monkeypatch, **kwargs):
    fake = FakeDocker([container("a", "wa_waweb_1", True, "wa", "waweb"),
                       container("b", "wa_wacore_1", True, "wa", "wacore"),
                       container("c", "wa_db_1", True, "wa", "db"),
                       container("d", "other_web_1", True, "other", "waweb")], **kwargs)
    monkeypatch.setattr(basic.AnsibleModule, "run_command", fake)
    return fake


def test_stops_only_the_client_services_of_the_project(run_module, monkeypatch):
    fake = setup(monkeypatch)
    result = run_module(client_containers, {"project": "wa", "state": "stopped"})
    assert not result["failed"] and result["changed"]
    assert sorted(c["name"] for c in result["containers"]) == ["wa_wacore_1", "wa_waweb_1"]
    stop = next(c for c in fake.commands if c[:2] == ["docker", "stop"])
    assert sorted(stop[4:]) == ["aaaaaaaa", "bbbbbbbb"]


def test_fails_when_a_database_container_stops(run_module, monkeypatch):
    setup(monkeypatch, stops_db=True)
    result = run_module(client_containers, {"project": "wa", "state": "stopped"})
    # other_web_1 (another project) stopped too: not this module's business, another workload's
    assert result["failed"] and "other containers stopped (wa_db_1)" in result["msg"]


def test_info_and_check_mode_touch_nothing(run_module, monkeypatch):
    fake = setup(monkeypatch)
    assert not run_module(client_containers, {"project": "wa"})["changed"]
    assert run_module(client_containers, {"project": "wa", "state": "stopped", "_ansible_check_mode": True})["changed"]
    assert not [c for c in fake.commands if c[:2] == ["docker", "stop"]]


def test_other_services_than_expected_start_nothing(run_module, monkeypatch):
    fake = setup(monkeypatch)
    result = run_module(client_containers, {"project": "wa", "state": "started",
                                            "expected_services": ["waweb", "master1", "master2", "wacore1"]})
    assert not result["failed"] and not result["complete"] and not result["changed"]
    assert not [c for c in fake.commands if c[:2] == ["docker", "start"]]


def test_waits_for_the_web_port_after_the_start(run_module, monkeypatch):
    import socket
    setup(monkeypatch)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        result = run_module(client_containers, {"project": "wa", "state": "started", "expected_services":
                                                ["waweb", "wacore"], "wait_for_port": listener.getsockname()[1]})
    assert not result["failed"] and result["complete"]
    closed = run_module(client_containers, {"project": "wa", "state": "started", "wait_for_port": 1,
                                            "wait_timeout": 0})
    assert closed["failed"] and "did not accept connections within 0 s" in closed["msg"]


def test_a_named_container_that_is_not_the_clients_is_refused_before_anything_stops(run_module, monkeypatch):
    fake = setup(monkeypatch)
    fake.containers.append(json.dumps({"ID": "e" * 8, "Names": "wa-mysql", "State": "running", "Labels": "",
                                       "Image": "mariadb:10.11"}))
    for names, expected in ((["wa_waweb_1", "wa_db_1"], "wa_db_1: the compose service db"),
                            (["wa_waweb_1", "wa-mysql"], "wa-mysql: a container of the database server image mariadb"),
                            (["wa_waweb_1", "gone"], "gone: no such container")):
        result = run_module(client_containers, {"names": names, "state": "stopped"})
        assert result["failed"] and expected in result["msg"], result
        assert "Nothing was stopped" in result["msg"]
    assert not [c for c in fake.commands if c[:2] == ["docker", "stop"]]
