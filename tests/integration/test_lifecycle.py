"""After the cut-over: rollback brings the old setup back; the old databases are dropped only as the guide says."""

import os

import json

from labsupport import (ROOT, ansible_playbook, checksums, databases, inventory_with, journal_of, leaks,
                        leaks_in_work_dirs, start_lab, stop_lab)

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


def playbook(name):
    return os.path.join(ROOT, "playbooks", name)


@pytest.mark.parametrize("migrated", [("mysql", 2)], indirect=True, ids=["mysql-2shards-option2"])
def test_rollback_brings_the_old_setup_back(migrated):
    lab, inventory = migrated
    old_before = checksums(lab, "old")
    rc, output = ansible_playbook(playbook("rollback.yml"), inventory, "-vvv")
    assert rc == 0, output[-3000:]
    assert leaks(lab, output) == [] and leaks_in_work_dirs(lab) == [], "secrets in the output or work directories"
    old = lab.client("old")
    old.wait_health(timeout=30, shards=lab.setup("old")["shards"] or None)
    settings = old.call("GET", "/v1/settings/application")["settings"]["application"]
    assert settings["webhooks"]["url"] == lab.state["webhook_url"]  # the webhook the migration turned off
    assert old.request("GET", "/v1/health", token=lab.state["api_user_token"]).status_code == 200
    assert lab.container_ids("new") == {}  # the new client is stopped
    # No message or contact is missing on the side that serves again.
    after = checksums(lab, "old")
    for dbname, tables in old_before.items():
        for table in ("messages", "contacts"):
            if table in tables:
                assert after[dbname][table] == tables[table], (dbname, table)


@pytest.mark.parametrize("migrated", [("pgsql", 3)], indirect=True, ids=["pgsql-single-option3"])
def test_drop_waits_checks_and_confirms(migrated):
    lab, inventory = migrated
    names = databases(lab, "old")
    confirm = ",".join(sorted(names))
    rc, output = ansible_playbook(playbook("drop_old_database.yml"), inventory, "-e", "wabiz_drop_confirm=" + confirm)
    assert rc != 0 and "less than 14" in output, output[-3000:]
    rc, output = ansible_playbook(playbook("drop_old_database.yml"), inventory, "-e", "wabiz_drop_force=true",
                                  "-e", "wabiz_drop_confirm=" + confirm.replace(",", ",x", 1))
    assert rc != 0 and "confirm must be exactly" in output and "nothing was dropped" in output, output[-3000:]
    assert databases(lab, "old") == names
    rc, output = ansible_playbook(playbook("drop_old_database.yml"), inventory, "-e", "wabiz_drop_force=true",
                                  "-e", "wabiz_drop_confirm=" + confirm, "-vvv")
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
        drop = ("-e", "wabiz_drop_force=true", "-e", "wabiz_drop_confirm=" + ",".join(sorted(names)))
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
    finally:
        stop_lab(lab)
