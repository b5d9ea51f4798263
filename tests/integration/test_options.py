# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The three options end to end on the lab: both engines, single instance and 2 shards, what each carries."""

import json
import os
import shutil
import subprocess

import pytest

from labsupport import (ROOT, TOPOLOGIES, BackgroundPlaybook, Traffic, ansible_playbook, checksums, colours_of,
                        databases, journal_of, leaks, leaks_in_work_dirs, loose_files, open_in_browser, rows,
                        stale_credentials, start_lab, stop_lab)

CARRIED = ("messages", "contacts", "callbacks")  # option 2 and 3: "messages, callbacks, contacts"
# The steps (by position, 1 for the first) after which the controller is killed on the 2-shard labs.
KILLED_AFTER = {"mysql": ("odd", set(range(1, 40, 2))), "pgsql": ("even", set(range(2, 40, 2)))}


@pytest.fixture
def fresh_lab(request, docker_engine):  # pylint: disable=unused-argument
    engine, shards = request.param
    instance = start_lab(engine, shards, messages=400)
    instance.run("inventory")
    yield instance
    stop_lab(instance)


def compose_v2(lab):
    """A Docker CLI configuration with a Compose v2 plugin (this machine has only v1's docker-compose): the plugin
    answers the CLI's metadata call as v2 does, writes each call to a log and runs it with v1. Returns (the
    environment that makes the CLI use it, the log's path)."""
    config = os.path.join(lab.workdir, "docker-config")
    log = os.path.join(config, "compose-v2.log")
    os.makedirs(os.path.join(config, "cli-plugins"), exist_ok=True)
    plugin = os.path.join(config, "cli-plugins", "docker-compose")
    with open(plugin, "w", encoding="utf-8") as handle:
        handle.write("#!/bin/sh\n"
                     "if [ \"$1\" = docker-cli-plugin-metadata ]; then\n"
                     "  echo '{\"SchemaVersion\": \"0.1.0\", \"Vendor\": \"wabiz.migration tests\", "
                     "\"Version\": \"v2.99.0\"}'\n"
                     "  exit 0\n"
                     "fi\n"
                     "shift\n"  # the plugin's own name, "compose"
                     "echo \"$*\" >> %s\n"
                     "exec %s \"$@\"\n" % (log, shutil.which("docker-compose")))
    os.chmod(plugin, 0o755)
    return {"DOCKER_CONFIG": config}, log


RUNTIME_TASKS = os.path.join(ROOT, "tests", "integration", "playbooks", "runtime")


def with_host_vars(lab, sides, host_vars):
    """The lab's inventory with ``host_vars`` added to the hosts of ``sides`` (old, new)."""
    path = os.path.join(lab.workdir, "inventory.yml")
    with open(path, encoding="utf-8") as handle:
        inventory = json.load(handle)
    for side in sides:
        for hostvars in inventory["all"]["children"][side]["hosts"].values():
            hostvars.update(host_vars)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(inventory, handle)


def tasks_runtime(lab):
    """Both setups run their client with the tasks runtime, through the task files of RUNTIME_TASKS, which drive
    the lab's containers as an orchestrator would; the new client's "deployment" is made, scaled to zero."""
    lab.run("client", "create", "new")
    with_host_vars(lab, ("old", "new"), {
        "wa_client_runtime": "tasks", "lab_orchestrator": os.path.join(RUNTIME_TASKS, "orchestrator"),
        "wa_client_tasks": {hook: os.path.join(RUNTIME_TASKS, hook + ".yml") for hook in ("stop", "start", "status")}})


def docker_runtime_for_the_old_client(lab):
    """The old setup's client as plain containers, known by their names only (the compose labels they also carry
    are not used)."""
    names = subprocess.run(["docker", "ps", "--filter", "label=com.docker.compose.project=%s"
                            % lab.setup("old")["project"], "--format", "{{.Names}}"],
                           stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    assert names
    with_host_vars(lab, ("old",), {"wa_client_runtime": "docker", "wa_client_containers": names})


def run_option(lab, option, kill_after, env=None):
    """Run the option at -vvv; with kill_after (a set of step positions, 1 for the first step), kill the
    controller as soon as each of those steps is done and re-run. ``env``: more environment of the run."""
    inventory = os.path.join(lab.workdir, "inventory.yml")
    playbook = os.path.join(ROOT, "playbooks", "option%d.yml" % option)
    if kill_after:
        rc, outputs, killed_after = run_killed_after_steps(lab, option, kill_after)
        assert rc == 0, outputs[-1][-5000:]
        # Killed once after each of those steps; the last run found them done and resumed from there.
        order = journal_of(lab)["order"]
        assert killed_after == [step for n, step in enumerate(order, 1) if n in kill_after], killed_after
    else:
        rc, output = ansible_playbook(playbook, inventory, "-vvv", env=env)
        assert rc == 0, output[-5000:]
        outputs = [output]
    assert [hit for text in outputs for hit in leaks(lab, text)] == [], "secrets or API tokens in the -vvv output"
    assert leaks_in_work_dirs(lab) == [], "secrets in the journal, report or backups"
    assert loose_files(lab) == [], "backup files not 0600 or directories not 0700"
    assert stale_credentials(lab) == [], "credential files left behind"
    report_path = os.path.join(lab.workdir, "runs", "old-setup__new-setup-report.json")
    with open(report_path, encoding="utf-8") as handle:
        report = json.load(handle)
    return report, inventory, playbook


def run_killed_after_steps(lab, option, kill_after):
    """Start the option, SIGKILL the controller as soon as a step whose position is in kill_after is done, re-run;
    until a run ends."""
    outputs, killed_after = [], []
    while True:
        run = BackgroundPlaybook(lab, "option%d.yml" % option, "-vvv")
        done_before = len(done_steps(lab))
        run.wait_until(lambda: any(n in kill_after for n in range(done_before + 1, len(done_steps(lab)) + 1))
                       or run.proc.poll() is not None, "the end of the next step to kill after")
        if run.proc.poll() is not None:
            rc, output = run.finish()
            return rc, outputs + [output], killed_after
        run.kill()
        killed_after.append(done_steps(lab)[-1])
        outputs.append(run.output())


def done_steps(lab):
    journal = journal_of(lab)
    return [s for s in journal["order"] if journal["steps"][s].get("finished")] if journal else []


def status_with_token(lab, name, token):
    return lab.client(name, login=False).request("GET", "/v1/health", token=token).status_code


@pytest.mark.parametrize("option", [1, 2, 3])
@pytest.mark.parametrize("fresh_lab", TOPOLOGIES, indirect=True,
                         ids=["%s-%s" % (e, "single" if s == 0 else "%dshards-killed-after-%s-steps" % (
                             s, KILLED_AFTER[e][0])) for e, s in TOPOLOGIES])
def test_option(fresh_lab, option):
    """Each option on each topology. On the multiconnect ones the controller is killed after every other step and
    the playbook re-run: after the odd-numbered steps on MariaDB, the even-numbered on PostgreSQL, so that every
    step boundary of every option is a crash and a resume on one engine."""
    lab = fresh_lab
    prefix = lab.setup("old")["db_prefix"]
    # Options 2 and 3 copy ahead while the old client serves: it keeps taking messages until it stops.
    traffic = Traffic(lab, pause=0.05).start() if option in (2, 3) else None
    # On a single instance, option 2 runs with the old client as plain containers (the docker runtime) and the new
    # one where the Docker CLI has Compose v2, options 1 and 3 with the tasks runtime (the operator's task files);
    # the 2-shard runs have Compose v1 only.
    single = not lab.setup("old")["shards"]
    env, compose_log = compose_v2(lab) if single and option == 2 else (None, None)
    if single and option == 2:
        docker_runtime_for_the_old_client(lab)
    elif single:
        tasks_runtime(lab)
    try:
        kill_after = KILLED_AFTER[lab.setup("old")["engine"]][1] if lab.setup("old")["shards"] else set()
        report, inventory, playbook = run_option(lab, option, kill_after, env)
    finally:
        accepted = traffic.stop() if traffic else []
    if compose_log:
        with open(compose_log, encoding="utf-8") as handle:
            calls = handle.read().splitlines()
        assert "version --short" in calls and any(" up --no-color" in c for c in calls), calls
    old_after = checksums(lab, "old")

    # Downtime report: from the old client's stop to the test message on the new client.
    assert 0 < report["downtime_seconds"] < 120
    # The report's timeline as a person opens it: every step and the downtime rendered in headless Chromium.
    shot = os.path.join(lab.workdir, "timeline-option%d.png" % option)
    text = open_in_browser(os.path.join(lab.workdir, "runs", "old-setup__new-setup-report.html"), shot)
    assert all(step["step"] in text for step in report["steps"]), text
    assert "downtime %s s" % report["downtime_seconds"] in text, text
    colours = colours_of(shot)  # the steps' bars and the downtime band, drawn, not a blank page
    assert colours.get((59, 111, 182), 0) > 1000 and colours.get((246, 211, 211), 0) > 1000, sorted(colours.items())[:20]
    verify = [s for s in report["steps"] if s["step"] == "verify_new"][0]
    assert verify["info"]["message_id"].startswith("gBEG")
    # The downtime ends when the test message is accepted, with the last step inside it.
    assert report["downtime_ended"] == verify["finished"]
    assert [s["step"] for s in report["steps"] if s["finished"] is None] == []

    new = lab.client("new", login=False)
    new.login("admin", lab.state["admin_password"])
    new.wait_health(timeout=30, shards=lab.setup("new")["shards"] or None)
    settings = new.call("GET", "/v1/settings/application")["settings"]["application"]
    assert settings["wa_id"] == "16315550123"
    assert settings["webhooks"]["url"] == lab.state["webhook_url"]

    # Registration and keys (identity key, signed prekey) are the old client's, in every option.
    assert rows(lab, "new", prefix + "wacore", "registration") == rows(lab, "old", prefix + "wacore", "registration")

    new_dbs = databases(lab, "new")
    old_dbs = databases(lab, "old")
    messages_dbs = [d for d in old_dbs if d.startswith(prefix + "wamessages_")]
    if option == 1:
        # Settings, registration and keys only: no messages but the test message, no old users.
        assert sum(len(rows(lab, "new", d, "messages")) for d in messages_dbs) == 1
        assert status_with_token(lab, "new", lab.state["api_user_token"]) == 401
    else:
        carried = [(prefix + "wacore", "contacts", 0), (prefix + "wacore", "callbacks", 2)] + [
            (dbname, "messages", 1) for dbname in messages_dbs]
        for dbname, table, added_by_test_message in carried:
            before, after = rows(lab, "old", dbname, table), rows(lab, "new", dbname, table)
            if table == "callbacks":  # the running new client retries delivery: compare without that state
                before, after = ({row[:6] for row in side} for side in (before, after))
            assert before <= after, (dbname, table)
            assert len(after - before) <= added_by_test_message, (dbname, table)
        # Every message the old client accepted while the copy ahead ran is on the new one.
        assert accepted, "no message reached the old client during the run"
        assert set(accepted) <= {row[0] for d in messages_dbs for row in rows(lab, "new", d, "messages")}
        if option == 2:
            assert prefix + "waweb" in new_dbs  # made fresh by the new web app, not copied
            assert status_with_token(lab, "new", lab.state["api_user_token"]) == 401
            assert [user[1] for user in rows(lab, "new", prefix + "waweb", "users")] == ["admin"]
        else:
            assert status_with_token(lab, "new", lab.state["api_user_token"]) == 200
            user = lab.client("new", login=False)
            user.login(lab.state["api_user"], lab.state["api_user_password"])

    # The old databases did not change after the old client stopped: against the dump's manifest ...
    if option in (2, 3):
        manifest_path = os.path.join(lab.workdir, "new", "backups", "dump", "manifest.json")
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
        assert {d: old_after[d] for d in manifest["databases"]} == {
            d: t["tables"] for d, t in manifest["databases"].items()}
    # ... and a second run of the finished migration changes nothing, old databases included.
    rc, output = ansible_playbook(playbook, inventory)
    assert rc == 0 and "changed=0" in output, output[-3000:]
    assert checksums(lab, "old") == old_after
