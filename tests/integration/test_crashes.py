"""A killed run resumes: the controller dies in the dump, the restore and the settings restore; a re-run completes
with nothing lost."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from labsupport import COLLECTIONS, ROOT, ansible_playbook, start_lab, stop_lab
from test_options import databases, rows

CASES = {
    # name: (engine, shards, option, extra vars, when to kill)
    "dump": ("mysql", 0, 2, ["-e", "wabiz_transfer=file"], ("begun", "copy_databases")),
    "restore": ("pgsql", 2, 3, [], ("new_databases", None)),
    "settings-restore": ("mysql", 2, 1, [], ("begun", "settings_restore")),
}


def journal_of(lab):
    path = os.path.join(lab.workdir, "runs", "old-setup__new-setup.json")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def moment_reached(lab, moment):
    kind, step = moment
    if kind == "begun":
        journal = journal_of(lab)
        return bool(journal) and step in journal["steps"] and journal["steps"][step].get("finished") is None
    return bool(databases(lab, "new"))


def run_and_kill(lab, option, extra, moment):
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i",
               os.path.join(lab.workdir, "inventory.yml"), os.path.join(ROOT, "playbooks", "option%d.yml" % option)]
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    proc = subprocess.Popen(command + extra, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    deadline = time.time() + 180
    try:
        while not moment_reached(lab, moment):
            assert proc.poll() is None, "the run ended before the moment to kill it"
            assert time.time() < deadline, "the moment to kill never came"
            time.sleep(0.02)
    finally:
        ended = proc.poll()
        if ended is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the controller and everything it started, mid-step
            proc.wait()
    assert ended is None, "the run ended by itself (exit %s) before it could be killed" % ended


@pytest.fixture
def crash_lab(request, docker_engine):  # pylint: disable=unused-argument
    engine, shards = CASES[request.param][:2]
    instance = start_lab(engine, shards, messages=20000)
    instance.run("inventory")
    yield instance
    stop_lab(instance)


@pytest.mark.parametrize("crash_lab", list(CASES), indirect=True)
def test_killed_run_resumes_with_nothing_lost(crash_lab, request):
    lab = crash_lab
    engine, shards, option, extra, moment = CASES[request.node.callspec.params["crash_lab"]]
    run_and_kill(lab, option, extra, moment)
    journal = journal_of(lab)
    unfinished = [s for s in journal["order"] if journal["steps"][s].get("finished") is None]
    assert unfinished, "the kill came after every step had finished"

    rc, output = ansible_playbook(os.path.join(ROOT, "playbooks", "option%d.yml" % option),
                                  os.path.join(lab.workdir, "inventory.yml"), *extra)
    assert rc == 0, output[-4000:]
    new = lab.client("new")
    new.wait_health(timeout=30, shards=shards or None)
    assert new.call("GET", "/v1/settings/application")["settings"]["application"]["wa_id"] == "16315550123"
    if option != 1:
        prefix = lab.setup("old")["db_prefix"]
        for dbname in [d for d in databases(lab, "old") if d.startswith(prefix + "wamessages_")]:
            before, after = rows(lab, "old", dbname, "messages"), rows(lab, "new", dbname, "messages")
            assert before <= after and len(after - before) <= 1, dbname
        assert rows(lab, "old", prefix + "wacore", "contacts") == rows(lab, "new", prefix + "wacore", "contacts")
