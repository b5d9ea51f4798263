# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults injected on the lab, on both engines, then the playbook re-run or rollback.yml run.

Each case ends with one side serving. The checks are the same everywhere: that side has every message the old
client had when it stopped, and the old databases are what they were after the fault (the migration only
reads them). The outcome of each case goes into the matrix printed at the end of the session.
"""

import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from labsupport import (BackgroundPlaybook, ProcessWatch, ROOT, ansible_playbook, checksums, databases, inventory_with,
                        journal_of, leaks, lock_path, messages, record_fault, rows, stale_credentials, start_lab,
                        step_state, stop_lab)

# The run that copies everything in the downtime, as without a copy ahead (and with wabiz_transfer=file).
NO_COPY_AHEAD = ("-e", "wabiz_copy_ahead=false")
# Both engines; the topologies differ so that single instance and multiconnect are both covered.
ON_BOTH_ENGINES = pytest.mark.parametrize("fault_lab", [("mysql", 2), ("pgsql", 0)], indirect=True,
                                          ids=["mysql-2shards", "pgsql-single"])


@pytest.fixture
def fault_lab(request, docker_engine):  # pylint: disable=unused-argument
    instance = start_lab(*request.param, messages=20000)
    instance.run("inventory")
    instance.seeded = messages(instance, "old")
    yield instance
    stop_lab(instance)


def run(lab, playbook, *extra, inventory=None):
    return ansible_playbook(os.path.join(ROOT, "playbooks", playbook),
                            inventory or os.path.join(lab.workdir, "inventory.yml"), *extra)


def new_serves_with_everything(lab):
    """The new client serves and holds every message of the old one (plus at most the test message)."""
    new = lab.client("new")
    new.wait_health(timeout=60, shards=lab.setup("new")["shards"] or None)
    old, carried = messages(lab, "old"), messages(lab, "new")
    lost = sum(len(old[d] - carried.get(d, set())) for d in old)
    assert sum(len(carried[d] - old.get(d, set())) for d in carried) <= 1
    prefix = lab.setup("old")["db_prefix"]
    assert rows(lab, "old", prefix + "wacore", "contacts") == rows(lab, "new", prefix + "wacore", "contacts")
    return lost


def old_serves_with_everything(lab):
    """The old client serves again and still has every message it had before the migration began."""
    lab.client("old").wait_health(timeout=60, shards=lab.setup("old")["shards"] or None)
    now = messages(lab, "old")
    return sum(len(lab.seeded[d] - now.get(d, set())) for d in lab.seeded)


def failed_with_the_way_on(output, step):
    assert "Step %s failed" % step in output, output[-4000:]
    assert "re-run this playbook" in output, output[-4000:]


def dump_dirs(lab):
    """Where the dump goes: the new host's backup directory (stream), or the old host's (file transfer)."""
    return [os.path.join(lab.workdir, side, "backups", "dump") for side in ("new", "old")]


def dump_started(lab):
    return any(os.path.isdir(dump) and any(os.path.getsize(os.path.join(dump, f)) > 0 for f in os.listdir(dump)
                                           if not f.startswith(".")) for dump in dump_dirs(lab))


def assert_old_untouched(lab, reference):
    """The old databases equal the reference (None: the old client served on after the fault, until the re-run
    stopped it), and the dump's manifest recorded that same content."""
    now = checksums(lab, "old")
    assert reference is None or now == reference
    manifest_path = next(os.path.join(d, "manifest.json") for d in dump_dirs(lab)
                         if os.path.exists(os.path.join(d, "manifest.json")))
    with open(manifest_path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    assert {d: now[d] for d in manifest["databases"]} == {d: t["tables"] for d, t in manifest["databases"].items()}


def resumed_to_success(lab, playbook, old_after_fault, *extra):
    """Re-run the playbook after the fault: it completes, the new client has everything, the old databases are
    as they were after the fault. Returns the messages lost."""
    rc, output = run(lab, playbook, *extra)
    assert rc == 0, output[-4000:]
    lost = new_serves_with_everything(lab)
    assert_old_untouched(lab, old_after_fault)
    return lost


def finish_failed(background):
    rc, output = background.finish()
    assert rc != 0, output[-4000:]
    return output


@ON_BOTH_ENGINES
def test_old_database_dies_during_the_dump(fault_lab):
    lab = fault_lab
    # The whole copy in the downtime (no copy ahead): the old client is stopped when its server dies.
    background = BackgroundPlaybook(lab, "option3.yml", *NO_COPY_AHEAD)
    background.wait_until(lambda: dump_started(lab), "the dump's first bytes")
    lab.run("db", "kill", "old")
    failed_with_the_way_on(finish_failed(background), "copy_databases")

    lab.run("db", "start", "old")
    after_fault = checksums(lab, "old")
    lost = resumed_to_success(lab, "option3.yml", after_fault, *NO_COPY_AHEAD)
    record_fault(lab, "old database killed in the dump in the downtime (option 3)", "re-run resumed to success",
                 lost)


@ON_BOTH_ENGINES
def test_new_database_dies_during_the_restore(fault_lab):
    lab = fault_lab
    background = BackgroundPlaybook(lab, "option2.yml", *NO_COPY_AHEAD)
    background.wait_until(lambda: step_state(lab, "copy_databases") and databases(lab, "new"),
                          "the first restored database")
    # Frozen at once, so that a small restore cannot end in the moment the kill takes (CI saw it end first).
    os.kill(lab.setup("new")["db_pid"], signal.SIGSTOP)
    lab.run("db", "kill", "new")
    failed_with_the_way_on(finish_failed(background), "copy_databases")
    after_fault = checksums(lab, "old")

    rc, output = run(lab, "rollback.yml")
    assert rc == 0, output[-4000:]
    lost = old_serves_with_everything(lab)
    # Then the operator mends the new server and migrates afresh (the rolled-back journal is set aside).
    lab.run("db", "start", "new")
    rc, output = run(lab, "option2.yml", "-e", "wabiz_db_overwrite=true")
    assert rc == 0, output[-4000:]
    lost += new_serves_with_everything(lab)
    assert [f for f in os.listdir(os.path.join(lab.workdir, "runs")) if ".rolled-back-" in f]
    assert set(after_fault) == set(checksums(lab, "old"))
    record_fault(lab, "new database killed in the restore in the downtime (option 2)",
                 "rollback served; then migrated afresh", lost)


@ON_BOTH_ENGINES
def test_new_database_dies_during_the_copy_ahead(fault_lab):
    lab = fault_lab
    background = BackgroundPlaybook(lab, "option3.yml")
    background.wait_until(lambda: step_state(lab, "copy_ahead") and databases(lab, "new"),
                          "the first database copied ahead")
    lab.run("db", "kill", "new")
    output = finish_failed(background)
    failed_with_the_way_on(output, "copy_ahead")
    assert "The old client still serves" in output, output[-4000:]
    assert "stop_old" not in journal_of(lab)["steps"]
    lost = old_serves_with_everything(lab)

    lab.run("db", "start", "new")
    lost += resumed_to_success(lab, "option3.yml", None)
    record_fault(lab, "new database killed in the copy ahead (option 3)",
                 "refused before downtime; re-run resumed to success", lost)


@ON_BOTH_ENGINES
def test_new_database_dies_during_the_sync(fault_lab):
    lab = fault_lab
    background = BackgroundPlaybook(lab, "option2.yml")
    background.wait_until(lambda: step_state(lab, "stop_old") == "done", "the old client's stop")
    # Frozen first, so that the sync is sure to be waiting on it when it dies.
    os.kill(lab.setup("new")["db_pid"], signal.SIGSTOP)
    background.wait_until(lambda: step_state(lab, "copy_databases") == "begun", "the sync")
    time.sleep(1)
    lab.run("db", "kill", "new")
    failed_with_the_way_on(finish_failed(background), "copy_databases")
    after_fault = checksums(lab, "old")

    lab.run("db", "start", "new")
    lost = resumed_to_success(lab, "option2.yml", after_fault)
    record_fault(lab, "new database killed in the sync in the downtime (option 2)", "re-run resumed to success",
                 lost)


@pytest.mark.parametrize("fault_lab", [("pgsql", 2), ("mysql", 2)], indirect=True,
                         ids=["pgsql-2shards", "mysql-2shards"])
def test_change_capture_survives_what_it_cannot_follow(fault_lab):
    """Option 2 with change capture, three faults in one run: a schema change on the old server after the copy
    ahead, before or while the capture runs (wacore); what followed a database lost after the capture (PostgreSQL:
    the replication slot of wamessages_0; MariaDB: the old server's binary log purged, every database's position
    with it); and a transaction rewriting 2000 messages of a shard, open until the stop (wamessages_1). Each
    database is still carried exactly; nothing of the capture is left on either server."""
    lab = fault_lab
    prefix = lab.setup("old")["db_prefix"]
    pgsql = lab.setup("old")["engine"] == "pgsql"
    old = lab.server("old")
    background = BackgroundPlaybook(lab, "option2.yml")
    try:
        # Once the copy holds the old schema: the capture then finds the schemas differ (not followed), or, if
        # it began first, the sync finds the schema changed since.
        background.wait_until(lambda: step_state(lab, "copy_ahead") == "done", "the copy ahead", timeout=300)
        old.execute("ALTER TABLE app_state ADD COLUMN note TEXT", dbname=prefix + "wacore")
        background.wait_until(lambda: step_state(lab, "capture_changes") == "done", "the capture", timeout=300)
        if pgsql:
            slots = dict(old.query("SELECT database, slot_name FROM pg_replication_slots"))
            assert {prefix + "wamessages_0", prefix + "wamessages_1"} <= set(slots), slots
            old.query("SELECT pg_drop_replication_slot(%s)", (slots[prefix + "wamessages_0"],))
        else:
            captured_in = journal_of(lab)["steps"]["capture_changes"]["info"]["captured"][prefix + "wamessages_0"]
            for dummy in range(50):  # a file a transaction still needs is kept until it ends: again until it went
                old.execute("FLUSH BINARY LOGS")
                old.execute("PURGE BINARY LOGS TO '%s'" % old.query("SHOW MASTER STATUS")[0][0])
                if captured_in.split(":")[0] not in [row[0] for row in old.query("SHOW BINARY LOGS")]:
                    break
                time.sleep(0.1)
        old.close()  # the test's own sessions go before the stop (the fence would refuse them)
        writer = lab.server("old")
        held = writer.connection(prefix + "wamessages_1")
        if pgsql:
            held.autocommit = False
        else:
            held.autocommit(False)
        writer.execute("UPDATE messages SET status = 'read' WHERE id IN (SELECT id FROM (SELECT id FROM messages "
                       "ORDER BY id LIMIT 2000) AS first)", dbname=prefix + "wamessages_1")
        background.wait_until(lambda: step_state(lab, "stop_old") == "begun", "the stop")
        writer.connection(prefix + "wamessages_1").commit()
        writer.close()
        rc, output = background.finish()
    finally:
        old.close()
    assert rc == 0, output[-4000:]
    carried = journal_of(lab)["steps"]["copy_databases"]["info"]
    if pgsql:
        assert list(carried["copied_whole"]) == [prefix + "wacore"], carried
        assert list(carried["capture_fallbacks"]) == [prefix + "wamessages_0"], carried
        assert "is gone from the pgsql server" in carried["capture_fallbacks"][prefix + "wamessages_0"]
        assert carried["compared_in_full"] == {} and carried["decoded"][prefix + "wamessages_1"]["source"] >= 2000, \
            carried
    else:
        assert sorted(carried["capture_fallbacks"]) == [prefix + "wamessages_0", prefix + "wamessages_1"], carried
        assert all("is gone from the mysql server" in why for why in carried["capture_fallbacks"].values()), carried
        # Compared in full, the 2000 rewritten messages are more row groups than pay to mend: copied whole.
        assert carried["copied_whole"] == {prefix + "wacore": "its schema differs from the source",
                                           prefix + "wamessages_1": "more than 1024 of 4096 row groups of table "
                                                                    "messages changed"}, carried
    for name in ("old", "new"):
        server = lab.server(name)
        try:
            assert not pgsql or server.query("SELECT slot_name FROM pg_replication_slots") == [], name
        finally:
            server.close()
    lost = new_serves_with_everything(lab)
    assert_old_untouched(lab, None)
    record_fault(lab, "schema changed on the old server after the copy ahead (option 2, change capture)",
                 "database not followed, copied whole in the downtime", lost)
    record_fault(lab, "replication slot lost after the capture (option 2)" if pgsql else
                 "binary log purged after the capture (option 2)", "database compared in full in the downtime", lost)
    record_fault(lab, "transaction rewriting 2000 messages open until the stop (option 2, change capture)",
                 "its rows followed and verified in the downtime" if pgsql else
                 "compared in full (the log was purged), copied whole in the downtime", lost)


@pytest.fixture
def small_disk(fault_lab):
    """The new host's backup directory on a 96 MB tmpfs (the dump fits; the preflight passes)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    path = os.path.join(fault_lab.workdir, "new", "backups")
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m,mode=0700", "tmpfs", path], check=True)
    yield path
    subprocess.run(["umount", path], check=False)


@ON_BOTH_ENGINES
def test_second_writer_on_the_old_databases_stops_the_cut_over(fault_lab):
    lab = fault_lab
    # Another node of the old setup, or a script, connected as the client's own user: it could write at any
    # moment, after the sync has read what it writes to.
    writer = lab.db("old", lab.setup("old")["db_prefix"] + "wacore")
    try:
        rc, output = run(lab, "option2.yml")
        assert rc != 0, output[-4000:]
        failed_with_the_way_on(output, "copy_databases")
        assert "Sessions other than the migration's are connected to the old databases" in output, output[-4000:]
        assert "root@127.0.0.1:" in output and "The new client was not started" in output, output[-4000:]
        assert "start_new" not in journal_of(lab)["steps"]
    finally:
        writer.close()
    rc, output = run(lab, "rollback.yml")
    assert rc == 0, output[-4000:]
    lost = old_serves_with_everything(lab)
    record_fault(lab, "a second writer connected to the old databases after the stop (option 2)",
                 "write fence stopped it before the new client; rollback served", lost)


@ON_BOTH_ENGINES
def test_disk_fills_during_the_copy_ahead(fault_lab, small_disk):
    lab = fault_lab
    background = BackgroundPlaybook(lab, "option2.yml")
    background.wait_until(lambda: step_state(lab, "copy_ahead"), "the copy ahead")
    filler = os.path.join(small_disk, "filler")
    with open(filler, "wb") as handle:  # another writer takes all but 64 KiB
        stats = os.statvfs(small_disk)
        os.posix_fallocate(handle.fileno(), 0, stats.f_bavail * stats.f_frsize - 65536)
    output = finish_failed(background)
    failed_with_the_way_on(output, "copy_ahead")
    assert "No space left on device" in output and "The old client still serves" in output, output[-4000:]
    assert "stop_old" not in journal_of(lab)["steps"]

    os.unlink(filler)
    lost = resumed_to_success(lab, "option2.yml", None)
    record_fault(lab, "disk full in the copy ahead (option 2)", "refused before downtime; space freed, re-run "
                 "resumed to success", lost)


@ON_BOTH_ENGINES
def test_new_web_app_dies_after_the_start(fault_lab):
    lab = fault_lab
    background = BackgroundPlaybook(lab, "option3.yml", "-e", "wabiz_health_timeout=15")
    background.wait_until(lambda: step_state(lab, "start_new") == "done", "the new client's start")
    web = [cid for cid, service in lab.container_ids("new").items() if service == "waweb"]
    subprocess.run(["docker", "kill"] + web, check=True, stdout=subprocess.DEVNULL)
    output = finish_failed(background)
    assert "failed" in output and "re-run this playbook" in output, output[-4000:]
    after_fault = checksums(lab, "old")

    # The re-run starts the new client's containers again, then goes on.
    lost = resumed_to_success(lab, "option3.yml", after_fault)
    record_fault(lab, "new web app killed after its start (option 3)", "re-run restarted it, resumed to success", lost)


@ON_BOTH_ENGINES
def test_overload_storm_on_the_new_client(fault_lab):
    lab = fault_lab
    overload = os.path.join(lab.setup("new")["export_dir"], "overload")
    inventory = inventory_with(lab, "overload", {"wa_extra_env": {"WA_EMU_OVERLOAD_FILE": "/export/overload"}})
    with ProcessWatch() as processes:  # and what `ps` shows during the dump: the tools, never a password
        background = BackgroundPlaybook(lab, "option2.yml", inventory=inventory)
        background.wait_until(lambda: step_state(lab, "start_new") == "done", "the new client's start")
        open(overload, "w", encoding="utf-8").close()  # every request: 503 with error 1016, for 3 seconds
        threading.Timer(3, os.unlink, [overload]).start()
        rc, output = background.finish()
    assert rc == 0, output[-4000:]
    assert processes.tools_seen, "no dump or load tool was seen running"
    assert leaks(lab, "\n".join(processes.command_lines)) == [], "a secret on a command line"
    lost = new_serves_with_everything(lab)
    assert_old_untouched(lab, checksums(lab, "old"))
    record_fault(lab, "3 s of 503/1016 on the new client (option 2)", "retries rode it out", lost)


@ON_BOTH_ENGINES
def test_bad_image_tag_refused_before_downtime(fault_lab):
    lab = fault_lab
    images = dict(lab.state["images"], web=lab.state["images"]["web"].rsplit(":", 1)[0] + ":no-such-tag")
    rc, output = run(lab, "option3.yml", inventory=inventory_with(lab, "badimage", {"wa_images": images}))
    assert rc != 0 and "no-such-tag" in output, output[-4000:]
    assert "The old client still serves" in output, output[-4000:]
    assert "stop_old" not in journal_of(lab)["steps"]
    lost = old_serves_with_everything(lab)

    # A resume whose inventory names another new setup than the journal was written for: refused, naming both.
    rc, output = run(lab, "option3.yml", inventory=inventory_with(lab, "otherproject",
                                                                  {"wa_compose_project": "another-project"}))
    assert rc != 0 and "was written for" in output and "another-project" in output, output[-4000:]
    assert "stop_old" not in journal_of(lab)["steps"]

    rc, output = run(lab, "option3.yml")  # the tag put right: the run resumes at the staging step
    assert rc == 0, output[-4000:]
    lost += new_serves_with_everything(lab)
    record_fault(lab, "new client's image tag missing (option 3)", "refused before downtime; fixed, migrated", lost)


@ON_BOTH_ENGINES
def test_two_migrations_at_once(fault_lab):
    lab = fault_lab
    # Two controllers: the second has its own work directory (its own journal) and runs in a PID namespace of
    # its own, as an AWX job does; neither can see the other's processes. The lock on the old host excludes them.
    first = BackgroundPlaybook(lab, "option2.yml")
    second = BackgroundPlaybook(lab, "option2.yml", "-e", "wabiz_work_dir=%s/runs-elsewhere" % lab.workdir,
                                container=True)
    # A rollback started meanwhile takes the same lock: refused, and the migration goes on. (Either run may be
    # the one that holds the lock.)
    lock = lock_path(lab)
    deadline = time.time() + 180
    while not os.path.exists(lock):
        assert time.time() < deadline, "no run took the lock"
        time.sleep(0.05)
    rc, output = run(lab, "rollback.yml")
    assert rc != 0 and "Another run holds the lock of this setup: option 2 of old-setup -> new-setup from controller " in output, output[-4000:]
    results = sorted([first.finish(), second.finish()], key=lambda result: result[0])
    (rc_won, output_won), (rc_lost, output_lost) = results
    assert rc_won == 0, output_won[-4000:]
    assert rc_lost != 0 and "Another run holds the lock of this setup: option 2 of old-setup -> new-setup from controller " in output_lost, output_lost[-4000:]
    # The refusal names the other run: its journal, its controller and process, and (seen from the other
    # namespace) how to release it if it were gone.
    assert "controller pid" in output_lost and "journal " in output_lost, output_lost[-4000:]
    assert "wabiz_lock_release=" in output_lost, output_lost[-4000:]
    assert not os.path.exists(lock), "the winner kept the lock after it finished"
    lost = new_serves_with_everything(lab)
    assert_old_untouched(lab, checksums(lab, "old"))  # as the winner's dump recorded them
    record_fault(lab, "two controllers at once (own work dirs, PID namespaces), and a rollback meanwhile (option 2)",
                 "second run and rollback refused by the lock on the old host; first completed", lost)


# Killed inside a step (every step boundary is covered by test_options): (engine, shards, option, extra
# arguments, the moment, whether the machine crashes with it). A crash kills the modules and tools too; else
# they run on as orphans while the re-run starts, and the re-run's dump must wait for them.
KILLED_INSIDE = {
    "the dump": ("mysql", 0, 2, ["-e", "wabiz_transfer=file"], dump_started, True),
    "the restore": ("pgsql", 2, 3, [], lambda lab: step_state(lab, "copy_databases") and databases(lab, "new"),
                    False),
    "the settings restore": ("mysql", 2, 1, [], lambda lab: step_state(lab, "settings_restore") == "begun", False),
}


@pytest.mark.parametrize("fault_lab, case", [(v[:2], k) for k, v in KILLED_INSIDE.items()], indirect=["fault_lab"],
                         ids=["%s-%s" % (k.split()[-1], "crash" if v[5] else "orphans") for k, v in KILLED_INSIDE.items()])
def test_controller_killed_inside_a_step(fault_lab, case):
    lab = fault_lab
    number, extra, moment, crash = KILLED_INSIDE[case][2:]
    background = BackgroundPlaybook(lab, "option%d.yml" % number, *extra)
    background.wait_until(lambda: moment(lab), "the moment inside the step")
    background.kill(crash)
    if crash:  # killed inside a database module: its credential files are still there ...
        assert stale_credentials(lab), "no credential files of the killed module (the check below would be idle)"
    journal = journal_of(lab)
    assert [s for s in journal["order"] if journal["steps"][s].get("finished") is None], "killed after the last step"
    after_fault = checksums(lab, "old") if number != 1 else None

    rc, output = run(lab, "option%d.yml" % number, *extra)
    assert rc == 0, output[-4000:]
    if number == 1:
        lab.client("new").wait_health(timeout=60, shards=lab.setup("new")["shards"] or None)
        lost = 0
    else:
        lost = new_serves_with_everything(lab)
        assert_old_untouched(lab, after_fault)
    assert lab.client("new").call("GET", "/v1/settings/application")["settings"]["application"]["wa_id"] == \
        "16315550123"
    # ... and the re-run's database modules removed them.
    assert stale_credentials(lab) == [], "the killed run's credential files outlived the re-run"
    what = "machine crashed" if crash else "controller killed, modules orphaned"
    record_fault(lab, "%s inside %s (option %d)" % (what, case, number), "re-run resumed to success", lost)


@pytest.mark.parametrize("fault_lab", [("mysql", 2)], indirect=True, ids=["mysql-2shards"])
def test_machine_crash_inside_stop_old(fault_lab):
    lab = fault_lab
    running = len(lab.container_ids("old"))
    # The run that crashes is a container's (an AWX job's): its lock cannot be judged from this controller.
    background = BackgroundPlaybook(lab, "option2.yml", container=True)
    background.wait_until(lambda: step_state(lab, "stop_old") == "begun" and len(lab.container_ids("old")) < running,
                          "the first old container stopped")
    background.kill(crash=True)
    # The journal has the stop begun, not done: the re-run must not ask the half-stopped old client for its
    # health again (the checks before the downtime), but finish the stop and go on.
    assert step_state(lab, "stop_old") == "begun"
    left = len(lab.container_ids("old"))
    rc, output = run(lab, "option2.yml")
    assert rc != 0 and "whether the run still goes cannot be seen from here" in output, output[-4000:]
    lock_id = re.search(r"wabiz_lock_release=([0-9a-f]+)", output).group(1)
    rc, output = run(lab, "option2.yml", "-e", "wabiz_lock_release=" + lock_id)
    assert rc == 0, output[-4000:]
    assert lab.container_ids("old") == {}
    lost = new_serves_with_everything(lab)
    record_fault(lab, "machine crashed inside stop_old, %d of %d old containers still running" % (left, running),
                 "lock released by its id; re-run finished the stop and resumed to success", lost)


@pytest.mark.parametrize("fault_lab", [("pgsql", 0)], indirect=True, ids=["pgsql-single"])
def test_capture_slots_go_without_the_journal_or_the_new_server(fault_lab):
    """Change capture's replication slots hold the old server's WAL. The journal lost after the capture (an AWX
    job's work directory is not kept), then a re-run (which starts a journal of its own, whatever it then does),
    then a rollback: the slots are found by their names and the client's databases, and dropped on both servers.
    Then a second migration whose new database server dies after the stop, then a rollback: the old client serves
    without it, its slots on the old server are dropped, and what is left on the dead server is listed with the
    statement that drops it."""
    lab = fault_lab

    def slots(name):
        server = lab.server(name)
        try:
            return [row[0] for row in server.query("SELECT slot_name FROM pg_replication_slots")]
        finally:
            server.close()

    background = BackgroundPlaybook(lab, "option2.yml")
    background.wait_until(lambda: step_state(lab, "capture_changes") == "done", "the capture", timeout=300)
    background.kill()
    assert slots("old") and slots("new")
    os.unlink(os.path.join(lab.workdir, "runs", "old-setup__new-setup.json"))
    # The plan names them; a new run (over its own leftovers) drops them and says so, and makes its own.
    rc, output = run(lab, "option2.yml", "--check", "-e", "wabiz_db_overwrite=true")
    assert rc == 0 and "Replication slots an earlier capture left" in output, output[-4000:]
    background = BackgroundPlaybook(lab, "option2.yml", "-e", "wabiz_db_overwrite=true")
    background.wait_until(lambda: step_state(lab, "capture_changes") == "done", "the capture again", timeout=300)
    background.kill()
    assert "An earlier capture's replication slots were found and dropped" in background.output(), \
        background.output()[-4000:]
    assert slots("old") and slots("new")
    os.unlink(os.path.join(lab.workdir, "runs", "old-setup__new-setup.json"))  # lost again
    run(lab, "option2.yml")  # refused (the new server holds the copy): a journal of its own, with no step
    rc, output = run(lab, "rollback.yml")
    assert rc == 0, output[-4000:]
    assert "replication slots on the old server were dropped" in output, output[-4000:]
    assert slots("old") == [] and slots("new") == []
    lost = old_serves_with_everything(lab)
    record_fault(lab, "journal lost after the capture, then a rollback (option 2)",
                 "rollback served; the capture's slots found and dropped on both servers", lost)

    background = BackgroundPlaybook(lab, "option2.yml", "-e", "wabiz_db_overwrite=true")
    background.wait_until(lambda: step_state(lab, "stop_old") == "done", "the old client's stop", timeout=300)
    lab.run("db", "kill", "new")
    assert finish_failed(background)
    rc, output = run(lab, "rollback.yml")
    assert rc == 0, output[-4000:]
    assert "Left on the new database server, which could not be reached" in output, output[-4000:]
    assert "pg_drop_replication_slot" in output, output[-4000:]
    assert slots("old") == []
    lost = old_serves_with_everything(lab)
    lab.run("db", "start", "new")
    assert slots("new"), "the dead server's slots were listed, not dropped"
    record_fault(lab, "new database killed after the stop, then a rollback (option 2)",
                 "rollback served without it; its slots listed with the statement to drop them", lost)
