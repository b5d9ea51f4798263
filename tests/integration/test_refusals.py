# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Refusals before downtime: each bad precondition fails the run with its reason, and the old setup serves on."""

import json
import os
import re
import subprocess

import pytest

from labsupport import ROOT, ansible_playbook, lab_fixture, leaks, lock_path

lab = lab_fixture([("mysql", 2), ("pgsql", 0)], messages=100)


def inventory_with(lab, name, change=None, drop_group=None):
    with open(os.path.join(lab.workdir, "inventory.yml"), encoding="utf-8") as handle:
        inventory = json.load(handle)
    groups = inventory["all"]["children"]
    if change:
        for group, values in change.items():
            host = next(iter(groups[group]["hosts"].values()))
            host.update(values)
    if drop_group:
        del groups[drop_group]
    path = os.path.join(lab.workdir, "inventory-%s.yml" % name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        json.dump(inventory, handle)
    return path


def refused(lab, option, inventory, *extra):
    playbook = os.path.join(ROOT, "playbooks", "option%d.yml" % option)
    rc, output = ansible_playbook(playbook, inventory, "-vvv", *extra)
    assert rc != 0, output[-3000:]
    assert leaks(lab, output) == [], "a refusal printed a secret or an API token"
    # The old setup still serves, and no step of the migration began.
    api = lab.client("old")
    api.wait_health(timeout=30, shards=lab.setup("old")["shards"] or None)
    journal = os.path.join(lab.workdir, "runs", "old-setup__new-setup.json")
    if os.path.exists(journal):
        with open(journal, encoding="utf-8") as handle:
            assert json.load(handle)["order"] == []
    assert not [side for side in ("old", "new") if os.path.exists(lock_path(lab, side))], "a refusal kept a lock"
    return output


@pytest.fixture(scope="module")
def ready(lab):
    lab.run("inventory")
    return lab


def test_shard_count_mismatch(ready):
    shards = ready.setup("old")["shards"]
    other = {"shards": 4, "masters": 2, "coreapps": 5} if shards else {"shards": 2, "masters": 2, "coreapps": 3}
    output = refused(ready, 2, inventory_with(ready, "shards", {"new": {"wa_topology": other}}))
    assert "Shard count mismatch" in output and "give the new setup the old one's topology" in output


def test_engine_mismatch(ready):
    other = "pgsql" if ready.setup("old")["engine"] == "mysql" else "mysql"
    output = refused(ready, 2, inventory_with(ready, "engine", {"new": {"wa_db_engine": other}}))
    assert "Engine mismatch" in output


def test_unhealthy_old_client(ready):
    service = "wacore1" if ready.setup("old")["shards"] else "wacore"
    ready.compose("old", "stop", service)
    try:
        playbook = os.path.join(ROOT, "playbooks", "option3.yml")
        rc, output = ansible_playbook(playbook, os.path.join(ready.workdir, "inventory.yml"),
                                      "-e", "wabiz_preflight_timeout=4")
        assert rc != 0
        assert "did not become connected" in output or "Service not ready" in output, output[-3000:]
    finally:
        ready.compose("old", "start", service)
    ready.client("old").wait_health(timeout=60, shards=ready.setup("old")["shards"] or None)


def test_wrong_api_password(ready):
    output = refused(ready, 1, inventory_with(ready, "password", {"old": {"wa_api_password": "Wrong#Passw0rd1"}}))
    assert "returned HTTP 401" in output


def test_missing_backup_password(ready):
    output = refused(ready, 1, os.path.join(ready.workdir, "inventory.yml"), "-e", "wabiz_backup_password=''")
    assert "Invalid migration settings" in output and "wabiz_backup_password" in output


def test_resumed_run_with_another_backup_password(ready):
    inventory = os.path.join(ready.workdir, "inventory.yml")
    playbook = os.path.join(ROOT, "playbooks", "option1.yml")
    # A first run that only took the settings backup (as if it had stopped right after it) ...
    rc, output = ansible_playbook(playbook, inventory, "--tags", "settings_backup")
    assert rc == 0, output[-3000:]
    # ... and a second run with a mistyped password: refused before the old client stops.
    rc, output = ansible_playbook(playbook, inventory, "-e", "wabiz_backup_password=Mistyped#Passw0rd")
    assert rc != 0 and "not the one the backup" in output, output[-3000:]
    ready.client("old").wait_health(timeout=30, shards=ready.setup("old")["shards"] or None)
    with open(os.path.join(ready.workdir, "runs", "old-setup__new-setup.json"), encoding="utf-8") as handle:
        assert json.load(handle)["order"] == ["settings_backup"]
    os.unlink(os.path.join(ready.workdir, "runs", "old-setup__new-setup.json"))  # the other tests start afresh


def test_token_too_short_lived_for_option_3(ready):
    # The lab's tokens live 7 days, just issued: asking for all 7 days cannot be met by a token already ticking.
    output = refused(ready, 3, os.path.join(ready.workdir, "inventory.yml"), "-e", "wabiz_token_min_validity=604800")
    assert "sooner than min_validity 604800 s" in output


def test_unreachable_new_database(ready):
    output = refused(ready, 2, inventory_with(ready, "newdb", {"new": {"wa_db_port": 1}}))
    assert "Cannot connect" in output


def test_new_database_not_empty(ready):
    conn = ready.db("new")
    quote = "`%s`" if ready.setup("new")["engine"] == "mysql" else '"%s"'
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE " + quote % "wacore")
    try:
        output = refused(ready, 3, os.path.join(ready.workdir, "inventory.yml"))
        assert "already holds client databases (wacore)" in output
    finally:
        with conn.cursor() as cur:
            cur.execute("DROP DATABASE " + quote % "wacore")
        conn.close()


@pytest.mark.parametrize("group", ["old", "new"])
def test_missing_group(ready, group):
    output = refused(ready, 1, inventory_with(ready, "no-" + group, drop_group=group))
    assert "needs a group 'old' and a group 'new'" in output


@pytest.mark.parametrize("option", [1, 2, 3])
def test_check_mode_prints_the_plan_and_changes_nothing(ready, option):
    playbook = os.path.join(ROOT, "playbooks", "option%d.yml" % option)
    journal_files = journal_state(ready)
    rc, output = ansible_playbook(playbook, os.path.join(ready.workdir, "inventory.yml"), "--check")
    assert rc == 0, output[-3000:]
    # The steps in order, each marked inside or outside the downtime, with what it stops and copies.
    backup, stop = re.search(r"serving +settings_backup ", output), re.search(r"DOWNTIME +stop_old ", output)
    assert backup and stop and backup.start() < stop.start(), output[-3000:]
    assert re.search(r"stops .*(waweb|wacore)", output), output[-3000:]
    if option != 1:
        assert re.search(r"[0-9.]+ (MB|GB) of [0-9]+ databases: ", output), output[-3000:]
    ready.client("old").wait_health(timeout=10, shards=ready.setup("old")["shards"] or None)
    assert ready.container_ids("new") == {}
    conn = ready.db("new")
    with conn.cursor() as cur:
        cur.execute("SHOW DATABASES" if ready.setup("new")["engine"] == "mysql" else
                    "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'")
        system = ("mysql", "information_schema", "performance_schema", "sys")
        names = [row[0] for row in cur.fetchall() if row[0] not in system]
    conn.close()
    assert names == []
    assert journal_state(ready) == journal_files  # no journal written
    assert not os.path.exists(lock_path(ready))


def journal_state(lab):
    """The journal directory's files and contents."""
    runs = os.path.join(lab.workdir, "runs")
    state = {}
    for name in sorted(os.listdir(runs)) if os.path.isdir(runs) else []:
        with open(os.path.join(runs, name), "rb") as handle:
            state[name] = handle.read()
    return state


@pytest.mark.parametrize("change, extra, expected", [
    (None, ["-e", "wabiz_db_jobs=many"], ["wabiz_db_jobs", "int"]),
    (None, ["-e", "wabiz_transfer=ftp"], ["wabiz_transfer", "stream, file"]),
    ({"new": {"wa_db_engine": "oracle"}}, [], ["wa_db_engine", "mysql, pgsql"]),
    ({"old": {"wa_topology": {"shards": 3, "masters": 2, "coreapps": 4}}}, [], ["shards", "0, 1, 2, 4, 8, 16, 32"]),
], ids=["db-jobs-not-int", "unknown-transfer", "unknown-engine", "shards-not-a-power-of-two"])
def test_play_argument_specs_name_the_variable(ready, change, extra, expected):
    """playbooks/meta/argument_specs.yml is checked first, with the variable's name and what it should be."""
    output = refused(ready, 1, inventory_with(ready, "argspec", change), *extra)
    assert "Validating arguments against arg spec" in output or "argument_errors" in output, output[-3000:]
    assert all(text in output for text in expected), output[-3000:]
    assert "Open the journal" not in output


def engine_independent(lab):
    if lab.setup("old")["engine"] != "mysql":
        pytest.skip("does not depend on the engine: checked on the MariaDB lab")


SETTINGS_CASES = {
    # name: (option, extra vars, text the refusal must contain)
    "pin-five-digits": (1, ["-e", "wabiz_twostep_pin=12345"], "wabiz_twostep_pin must be exactly six digits"),
    "webhook-without-scheme": (1, ["-e", "wabiz_webhook_url=hooks.example.com/wa"],
                               "wabiz_webhook_url must start with https://"),
    "empty-test-recipient": (1, ["-e", "wabiz_test_recipient="], "wabiz_test_recipient must be a phone number"),
    "overlong-test-recipient": (1, ["-e", "wabiz_test_recipient=+4915100000001000000000000"],
                                "wabiz_test_recipient must be a phone number"),
    "negative-health-timeout": (1, ["-e", "wabiz_health_timeout=-5"], "wabiz_health_timeout must be positive"),
    "token-validity-beyond-7-days": (3, ["-e", "wabiz_token_min_validity=864000"],
                                     "wabiz_token_min_validity must be between 0 and 604800"),
    "db-jobs-zero": (2, ["-e", "wabiz_db_jobs=0"], "wabiz_db_jobs must be 1 or more"),
    "copy-ahead-with-file-transfer": (2, ["-e", "wabiz_copy_ahead=true", "-e", "wabiz_transfer=file"],
                                      "wabiz_copy_ahead needs wabiz_transfer=stream"),
    "change-capture-without-copy-ahead": (3, ["-e", "wabiz_change_capture=on", "-e", "wabiz_copy_ahead=false"],
                                          "wabiz_change_capture=on follows the changes after a copy ahead"),
}


@pytest.mark.parametrize("case", list(SETTINGS_CASES))
def test_bad_setting_names_the_variable_and_the_fix(ready, case):
    engine_independent(ready)
    number, extra, expected = SETTINGS_CASES[case]
    output = refused(ready, number, os.path.join(ready.workdir, "inventory.yml"), *extra)
    assert "Invalid migration settings" in output and expected in output, output[-3000:]


def test_change_capture_required_where_the_servers_cannot(ready):
    """wabiz_change_capture=on where the old MariaDB logs statements, not rows (binlog_format MIXED): refused
    before anything is created, naming the setting to change."""
    engine_independent(ready)
    old = ready.server("old")
    try:
        old.execute("SET GLOBAL binlog_format = 'MIXED'")
        output = refused(ready, 2, os.path.join(ready.workdir, "inventory.yml"), "-e", "wabiz_change_capture=on")
    finally:
        old.execute("SET GLOBAL binlog_format = 'ROW'")
        old.close()
    assert "Change capture is required (wabiz_change_capture=on) but cannot run" in output, output[-3000:]
    assert "binlog_format is MIXED on the mysql server" in output and "set binlog_format=ROW" in output, \
        output[-3000:]
    assert "wabiz_change_capture=auto" in output, output[-3000:]


def test_api_url_without_scheme(ready):
    engine_independent(ready)
    url = ready.setup("old")["url"].split("://", 1)[1]
    output = refused(ready, 1, inventory_with(ready, "url", {"old": {"wa_api_url": url}}))
    assert "wa_api_url" in output and "must be a URL with its scheme" in output, output[-3000:]


def test_overlong_database_prefix(ready):
    engine_independent(ready)
    output = refused(ready, 2, inventory_with(ready, "longprefix", {"new": {"wa_db_name_prefix": "p" * 60}}))
    assert "wa_db_name_prefix is 60 characters" in output, output[-3000:]


def test_old_and_new_are_the_same_setup(ready):
    engine_independent(ready)
    old = ready.setup("old")
    output = refused(ready, 1, inventory_with(ready, "same", {"new": {"wa_api_url": old["url"]}}))
    assert "old and new point at the same API" in output, output[-3000:]


def test_two_hosts_in_a_group(ready):
    engine_independent(ready)
    path = inventory_with(ready, "twohosts")
    with open(path, encoding="utf-8") as handle:
        inventory = json.load(handle)
    hosts = inventory["all"]["children"]["old"]["hosts"]
    hosts["second-old-setup"] = dict(next(iter(hosts.values())))
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(inventory, handle)
    output = refused(ready, 2, path)
    assert "exactly one host each" in output and "second-old-setup" in output, output[-3000:]


def test_port_that_is_not_a_number(ready):
    engine_independent(ready)
    output = refused(ready, 1, inventory_with(ready, "port", {"new": {"wa_db_port": "three-three-o-six"}}))
    assert "wa_db_port" in output and "int" in output, output[-3000:]


def test_database_staying_under_another_prefix(ready):
    engine_independent(ready)
    output = refused(ready, 3, inventory_with(ready, "otherprefix", {"new": {"wa_db_name_prefix": "biz2_"}}),
                     "-e", "wabiz_database_stays=true")
    assert "Database prefix mismatch" in output and "biz2_wacore" in output, output[-3000:]


def test_database_prefix_that_matches_nothing(ready):
    output = refused(ready, 2, inventory_with(ready, "prefix", {"old": {"wa_db_name_prefix": "nosuch_"}}))
    assert "matches\nwa_db_name_prefix" in output or "matches wa_db_name_prefix" in output, output[-3000:]
    assert "Set wa_db_name_prefix on the old" in output.replace("\n", " "), output[-3000:]


def test_dump_directory_not_writable(ready):
    # Under a regular file: no directory can be made there, whoever runs the playbook (root included).
    blocked = os.path.join(ready.workdir, "inventory.yml", "backups")
    output = refused(ready, 2, inventory_with(ready, "unwritable", {"new": {"wabiz_backup_dir": blocked}}))
    assert "Cannot write to %s" % blocked in output and "Set wabiz_backup_dir" in output, output[-3000:]


def test_dump_directory_too_small(ready):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    small = os.path.join(ready.workdir, "small-disk")
    os.makedirs(small, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", small], check=True)
    try:
        output = refused(ready, 2, inventory_with(ready, "smalldisk", {"new": {"wabiz_backup_dir": small}}))
    finally:
        subprocess.run(["umount", small], check=False)
    assert "Not enough disk for the dump" in output and "wabiz_backup_dir" in output, output[-3000:]


def test_modules_refuse_bad_input(ready):
    """19 bad inputs to the modules (types, choices, empty values, PINs, URLs, files), at -vvv: no secret shown."""
    engine_independent(ready)
    playbook = os.path.join(ROOT, "tests", "integration", "playbooks", "bad_input.yml")
    rc, output = ansible_playbook(playbook, os.path.join(ready.workdir, "inventory.yml"), "-vvv")
    assert rc == 0, output[-5000:]
    assert output.count("(item=") >= 19
    assert leaks(ready, output) == [], "secrets or API tokens in the -vvv output"


class Forwarder:
    """A TCP forwarder on a port of its own to another 127.0.0.1 port: the old database server under another port."""

    def __init__(self, port):
        import socket
        import threading
        self.target = port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.open = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import socket
        import threading
        while True:
            try:
                client = self.listener.accept()[0]
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            self.open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(2)
                except OSError:
                    pass

    def close(self):
        self.listener.close()
        for end in self.open:
            end.close()


@pytest.mark.parametrize("route", ["localhost", "forwarder"])
def test_the_old_server_under_another_name_or_port_is_refused(ready, route):
    """The new host's wa_db_* name the old server: as localhost against the old 127.0.0.1, or through a forwarder on
    another port. Strings differ; the server's identity does not. wabiz_db_overwrite=true, so that only the identity
    stands between the copy and the old client's own databases."""
    old = ready.setup("old")
    forwarder = Forwarder(old["db_port"]) if route == "forwarder" else None
    try:
        host, port = ("localhost", old["db_port"]) if forwarder is None else ("127.0.0.1", forwarder.port)
        output = refused(ready, 3, inventory_with(ready, "sameserver-" + route, {"new": {
            "wa_db_host": host, "wa_db_port": port, "wa_db_password": old["db_password"],
            "wa_db_user": old["client_db_user"]}}), "-e", "wabiz_db_overwrite=true")
    finally:
        if forwarder:
            forwarder.close()
    assert "is the old one" in output and "under another name or port" in output, output[-3000:]


INPUT_CASES = {
    # name: (option, inventory change, extra vars, text of the refusal)
    "topology-disagrees": (2, {"old": {"wa_topology": {"shards": 0, "masters": 2, "coreapps": 1}},
                               "new": {"wa_topology": {"shards": 0, "masters": 2, "coreapps": 1}}}, [],
                           "a single instance is {shards: 0, masters: 0, coreapps: 1}"),
    "empty-db-password": (1, {"new": {"wa_db_password": ""}}, [], "wa_db_password is empty, which hides WA_DB_NEW_PASSWORD"),
    "database-stays-in-option-2": (2, {}, ["-e", "wabiz_database_stays=true"], "wabiz_database_stays=true is a variant of option 3"),
    "http-api-url": (1, {"new": {"wa_api_url": "http://127.0.0.1:1"}}, [], "wa_api_url is http://"),
    "api-url-with-space": (1, {"new": {"wa_api_url": "https://a b"}}, [], "without spaces or control characters"),
    "api-url-with-credentials": (1, {"new": {"wa_api_url": "https://admin:pw@127.0.0.1:1"}}, [],
                                 "must not carry credentials"),
    "prefix-no-plain-name": (2, {"old": {"wa_db_name_prefix": "acme-"}}, [], "letters, digits and _"),
}


@pytest.mark.parametrize("case", list(INPUT_CASES))
def test_inputs_that_would_reach_the_wrong_thing_are_refused(ready, case):
    engine_independent(ready)
    option, change, extra, expected = INPUT_CASES[case]
    output = refused(ready, option, inventory_with(ready, "input-" + case, change), *extra)
    assert expected in output.replace("\n", " "), output[-3000:]


def test_a_topology_that_is_not_the_old_clients_is_refused(ready):
    """Both inventories agree with each other and with the rules, and not with the old client that runs."""
    shards = ready.setup("old")["shards"]
    other = {"shards": 4, "masters": 2, "coreapps": 5} if shards else {"shards": 1, "masters": 2, "coreapps": 2}
    output = refused(ready, 2, inventory_with(ready, "topology-old", {"old": {"wa_topology": other},
                                                                      "new": {"wa_topology": other}}))
    assert "a migration needs the same number of Masters and Coreapps" in output.replace("\n", " "), output[-3000:]


def test_a_negative_wait_before_the_drop_is_refused(ready):
    engine_independent(ready)
    rc, output = ansible_playbook(os.path.join(ROOT, "playbooks", "drop_old_database.yml"),
                                  os.path.join(ready.workdir, "inventory.yml"), "-e", "wabiz_drop_after_days=-1")
    assert rc != 0 and "wabiz_drop_after_days is -1: it must be 0 or more days" in output, output[-3000:]


def test_a_database_container_among_the_docker_runtimes_names_is_refused(ready):
    """wa_client_containers names the client's containers for the docker runtime; a database server's container
    listed there would be stopped with them."""
    engine_independent(ready)
    name = "wabiz-test-db-%s" % ready.setup("old")["project"]
    image = "mariadb:wabiz-refusal-test"
    web = ready.state["images"]["web"]
    subprocess.run(["docker", "tag", web, image], check=True)
    subprocess.run(["docker", "create", "--name", name, "--network", "none", image, "true"], check=True,
                   stdout=subprocess.DEVNULL)
    try:
        output = refused(ready, 1, inventory_with(ready, "docker-db", {"old": {
            "wa_client_runtime": "docker", "wa_client_containers": [name]}}))
    finally:
        subprocess.run(["docker", "rm", "--force", name], check=False, stdout=subprocess.DEVNULL)
        subprocess.run(["docker", "rmi", image], check=False, stdout=subprocess.DEVNULL)
    assert "a container of the database server image mariadb" in output.replace("\n", " "), output[-3000:]
