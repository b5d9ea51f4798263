# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""After the cut-over: rollback brings the old setup back; the old databases are dropped only as the guide says."""

import json
import os
import time

from labsupport import (ROOT, Traffic, ansible_playbook, checksums, databases, inventory_with, journal_of, leaks,
                        leaks_in_work_dirs, lock_path, loose_files, rows, start_lab, stop_lab)

import pytest


@pytest.fixture
def migrated(request, docker_engine):  # pylint: disable=unused-argument
    engine, option = request.param
    instance = start_lab(engine, 2 if engine == "mysql" else 0, messages=300)
    instance.run("inventory")
    inventory = os.path.join(instance.workdir, "inventory.yml")
    rc, output = ansible_playbook(os.path.join(ROOT, "playbooks", "option%d.yml" % option), inventory,
                                  "-e", "wabiz_old_webhook_disable=true")
    assert rc == 0, output[-3000:]
    yield instance, inventory
    stop_lab(instance)


# What the clients accepted from their users: messages, contacts, API users.
CLIENT_DATA = {"messages", "contacts", "users"}


def playbook(name):
    return os.path.join(ROOT, "playbooks", name)


@pytest.mark.parametrize("migrated", [("mysql", 2), ("pgsql", 3)], indirect=True,
                         ids=["mysql-2shards-option2", "pgsql-single-option3"])
def test_rollback_after_the_cut_over_carries_the_new_clients_messages_back(migrated):
    lab, inventory = migrated
    old_before = checksums(lab, "old")
    # The new client accepts messages before the rollback and while it runs, until the rollback stops it.
    traffic = Traffic(lab, "new").start()
    time.sleep(3)
    rc, output = ansible_playbook(playbook("rollback.yml"), inventory, "-vvv")
    accepted = traffic.stop()
    assert rc == 0, output[-3000:]
    assert "was carried back into the old databases" in output, output[-3000:]
    assert leaks(lab, output) == [] and leaks_in_work_dirs(lab) == [], "secrets in the output or work directories"
    assert loose_files(lab) == [], "the kept dump is not private"
    assert accepted, "the new client accepted no message before the rollback"
    old = lab.client("old")
    old.wait_health(timeout=30, shards=lab.setup("old")["shards"] or None)
    settings = old.call("GET", "/v1/settings/application")["settings"]["application"]
    assert settings["webhooks"]["url"] == lab.state["webhook_url"]  # the webhook the migration turned off
    assert old.request("GET", "/v1/health", token=lab.state["api_user_token"]).status_code == 200
    assert lab.container_ids("new") == {}  # the new client is stopped
    # Every database the migration copied went back to the old server row for row as the new client left it:
    # the carry-back's record of the old databases (verified equal to the source by db_sync) equals the new
    # databases, stopped since. On the old server now, the client's data equals them too (the old client has
    # since written its own runtime tables: heartbeats, lease, shard map, webhook deliveries, a login's token).
    copied = journal_of(lab)["steps"]["copy_databases"]["info"]["databases"]
    now_old, now_new = checksums(lab, "old"), checksums(lab, "new")
    with open(os.path.join(lab.workdir, "new", "backups", "carry-back", "manifest.json"), encoding="utf-8") as handle:
        assert {d: t["tables"] for d, t in json.load(handle)["databases"].items()} == {d: now_new[d] for d in copied}
    for dbname in copied:
        for table in CLIENT_DATA & set(now_new[dbname]):
            assert now_old[dbname][table] == now_new[dbname][table], (dbname, table)
    carried = {row[0] for d in copied if "wamessages" in d for row in rows(lab, "old", d, "messages")}
    assert set(accepted) <= carried
    for dbname, tables in old_before.items():
        assert set(tables) <= set(now_old[dbname])
        assert tables.get("messages", {}).get("rows", 0) <= now_old[dbname].get("messages", {}).get("rows", 0)
    kept = os.path.join(lab.workdir, "new", "backups", "rollback-dump", "manifest.json")
    with open(kept, encoding="utf-8") as handle:
        assert {d: t["tables"] for d, t in json.load(handle)["databases"].items()} == {d: now_new[d] for d in copied}


@pytest.mark.parametrize("migrated", [("mysql", 2)], indirect=True, ids=["mysql-2shards-option2"])
def test_rollback_refuses_to_carry_back_a_changed_schema(migrated):
    """A newer new client migrated its schema (a column added to messages): carrying its rows back would give the
    old client a schema it cannot read. Refused while the new client still serves, nothing stopped or written;
    then, asked to, the rollback goes without the carry-back and keeps the new databases in a dump."""
    lab, inventory = migrated
    old_before = checksums(lab, "old")
    srv = lab.server("new")
    try:
        srv.execute("ALTER TABLE %s.messages ADD COLUMN reaction VARCHAR(16) NULL" % srv.quote("wamessages_0"))
    finally:
        srv.close()
    rc, output = ansible_playbook(playbook("rollback.yml"), inventory)
    assert rc != 0 and "Not rolling back" in output and "wamessages_0" in output, output[-3000:]
    assert "nothing was stopped" in output and "wabiz_rollback_carry_back=false" in output, output[-3000:]
    assert lab.container_ids("new") != {} and lab.container_ids("old") == {}
    lab.client("new").wait_health(timeout=30, shards=lab.setup("new")["shards"] or None)
    assert checksums(lab, "old") == old_before
    assert not os.path.exists(lock_path(lab)) and not os.path.exists(lock_path(lab, "new"))

    rc, output = ansible_playbook(playbook("rollback.yml"), inventory, "-e", "wabiz_rollback_carry_back=false")
    assert rc == 0 and "was NOT carried back" in output, output[-3000:]
    lab.client("old").wait_health(timeout=30, shards=lab.setup("old")["shards"] or None)
    after = checksums(lab, "old")
    for dbname, tables in old_before.items():
        for table in CLIENT_DATA & set(tables):
            assert after[dbname][table] == tables[table], (dbname, table)
    kept = os.path.join(lab.workdir, "new", "backups", "rollback-dump", "manifest.json")
    with open(kept, encoding="utf-8") as handle:
        assert "wamessages_0" in json.load(handle)["databases"]


@pytest.mark.parametrize("migrated", [("pgsql", 1)], indirect=True, ids=["pgsql-single-option1"])
def test_rollback_after_option1_keeps_the_new_clients_databases(migrated):
    """Option 1 carries no database: the new client's messages cannot be merged into the old client's. The
    rollback keeps them in a dump and says so; the old databases are not written."""
    lab, inventory = migrated
    old_before = checksums(lab, "old")
    traffic = Traffic(lab, "new").start()
    time.sleep(2)
    traffic.stop()
    rc, output = ansible_playbook(playbook("rollback.yml"), inventory)
    assert rc == 0, output[-3000:]
    assert "was NOT carried back" in output, output[-3000:]
    kept = os.path.join(lab.workdir, "new", "backups", "rollback-dump", "manifest.json")
    with open(kept, encoding="utf-8") as handle:
        assert sorted(json.load(handle)["databases"]) == sorted(databases(lab, "new"))
    assert loose_files(lab) == []
    lab.client("old").wait_health(timeout=30)
    after = checksums(lab, "old")
    for dbname, tables in old_before.items():
        for table in CLIENT_DATA & set(tables):
            assert after[dbname][table] == tables[table], (dbname, table)


@pytest.mark.parametrize("migrated", [("pgsql", 3)], indirect=True, ids=["pgsql-single-option3"])
def test_drop_waits_checks_and_confirms(migrated):
    lab, inventory = migrated
    names = databases(lab, "old")
    confirm = ",".join(sorted(names))
    # The lab's client databases have no prefix: generic names, refused until confirmed as this client's.
    rc, output = ansible_playbook(playbook("drop_old_database.yml"), inventory, "-e", "wabiz_drop_force=true",
                                  "-e", "wabiz_drop_confirm=" + confirm)
    assert rc != 0 and "wa_db_name_prefix of the old setup is empty" in output, output[-3000:]
    assert databases(lab, "old") == names
    rc, output = ansible_playbook(playbook("drop_old_database.yml"), inventory, "-e", "wabiz_drop_unprefixed=true",
                                  "-e", "wabiz_drop_confirm=" + confirm)
    assert rc != 0 and "less than 14" in output, output[-3000:]
    rc, output = ansible_playbook(playbook("drop_old_database.yml"), inventory, "-e", "wabiz_drop_force=true",
                                  "-e", "wabiz_drop_unprefixed=true", "-e",
                                  "wabiz_drop_confirm=" + confirm.replace(",", ",x", 1))
    assert rc != 0 and "confirm must be exactly" in output and "nothing was dropped" in output, output[-3000:]
    assert databases(lab, "old") == names
    rc, output = ansible_playbook(playbook("drop_old_database.yml"), inventory, "-e", "wabiz_drop_force=true",
                                  "-e", "wabiz_drop_unprefixed=true", "-e", "wabiz_drop_confirm=" + confirm, "-vvv")
    assert rc == 0, output[-3000:]
    assert leaks(lab, output) == [] and leaks_in_work_dirs(lab) == [], "secrets in the output or work directories"
    assert databases(lab, "old") == []
    lab.client("new").wait_health(timeout=30)


@pytest.mark.parametrize("engine", ["mysql", "pgsql"])
def test_drop_refuses_the_database_the_new_client_kept(engine, docker_engine):  # pylint: disable=unused-argument
    """Option 3 where only the client moves: the old database server is the new client's. The drop refuses with
    no extra variable, by the journal's record of the variant, and by the servers' identities where the record
    says nothing (a journal of an earlier version)."""
    lab = start_lab(engine, 0, messages=300)
    try:
        lab.run("inventory")
        old = lab.setup("old")
        inventory = inventory_with(lab, "stays", {"wa_db_port": old["db_port"], "wa_db_password": old["db_password"],
                                                  "wa_db_name_prefix": old["db_prefix"]})
        rc, output = ansible_playbook(playbook("option3.yml"), inventory, "-e", "wabiz_database_stays=true")
        assert rc == 0, output[-3000:]
        names = databases(lab, "old")
        drop = ("-e", "wabiz_drop_force=true", "-e", "wabiz_drop_unprefixed=true",
                "-e", "wabiz_drop_confirm=" + ",".join(sorted(names)))
        rc, output = ansible_playbook(playbook("drop_old_database.yml"), inventory, *drop)
        assert rc != 0 and "the new client uses these databases" in output, output[-3000:]
        assert databases(lab, "old") == names

        journal_path = os.path.join(lab.workdir, "runs", "old-setup__new-setup.json")
        journal = journal_of(lab)
        del journal["migration"]["database_stays"]
        with open(journal_path, "w", encoding="utf-8") as handle:
            json.dump(journal, handle)
        rc, output = ansible_playbook(playbook("drop_old_database.yml"), inventory, *drop)
        assert rc != 0 and "is the one the new client uses" in output, output[-3000:]
        assert databases(lab, "old") == names
        lab.client("new").wait_health(timeout=30)

        # A rollback has nothing to carry: the old client starts on the databases the new one wrote into.
        rc, output = ansible_playbook(playbook("rollback.yml"), inventory)
        assert rc == 0 and "wrote into the old databases themselves" in output, output[-3000:]
        lab.client("old").wait_health(timeout=30)
        assert databases(lab, "old") == names
    finally:
        stop_lab(lab)
