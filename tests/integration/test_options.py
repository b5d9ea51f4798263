"""The three options end to end on the lab: both engines, single instance and 2 shards, what each carries."""

import json
import os

import pytest

from labsupport import ROOT, TOPOLOGIES, ansible_playbook, known_secrets, start_lab, stop_lab
from test_modules import TOKEN, where

from ansible_collections.wabiz.migration.plugins.module_utils._db import inventory_of

CARRIED = ("messages", "contacts", "callbacks")  # option 2 and 3: "messages, callbacks, contacts"


@pytest.fixture
def fresh_lab(request, docker_engine):  # pylint: disable=unused-argument
    engine, shards = request.param
    instance = start_lab(engine, shards, messages=400)
    instance.run("inventory")
    yield instance
    stop_lab(instance)


def databases(lab, name):
    srv = lab.server(name)
    try:
        return srv.select(lab.setup(name)["db_prefix"])
    finally:
        srv.close()


def rows(lab, name, dbname, table):
    srv = lab.server(name)
    try:
        if srv.engine == "mysql":
            return set(srv.query("SELECT * FROM %s.%s" % (srv.quote(dbname), table)))
        return set(srv.query("SELECT * FROM %s" % table, dbname=dbname))
    finally:
        srv.close()


def checksums(lab, name):
    """Per database and table: exact rows and content checksum (sizes are statistics, left out)."""
    srv = lab.server(name)
    try:
        return {d: i["tables"] for d, i in inventory_of(srv, srv.select(lab.setup(name)["db_prefix"]), True).items()}
    finally:
        srv.close()


def run_option(lab, option):
    inventory = os.path.join(lab.workdir, "inventory.yml")
    playbook = os.path.join(ROOT, "playbooks", "option%d.yml" % option)
    rc, output = ansible_playbook(playbook, inventory, "-vvv")
    assert rc == 0, output[-5000:]
    leaks = [where(output, output.index(s)) for s in known_secrets(lab) if s in output]
    leaks += [where(output, match.start()) for match in TOKEN.finditer(output)]
    assert leaks == [], "secrets or API tokens in the -vvv output"
    report_path = os.path.join(lab.workdir, "runs", "old-setup__new-setup-report.json")
    with open(report_path, encoding="utf-8") as handle:
        report = json.load(handle)
    return report, inventory, playbook


def status_with_token(lab, name, token):
    return lab.client(name, login=False).request("GET", "/v1/health", token=token).status_code


@pytest.mark.parametrize("option", [1, 2, 3])
@pytest.mark.parametrize("fresh_lab", TOPOLOGIES, indirect=True,
                         ids=["%s-%s" % (e, "single" if s == 0 else "%dshards" % s) for e, s in TOPOLOGIES])
def test_option(fresh_lab, option):
    lab = fresh_lab
    prefix = lab.setup("old")["db_prefix"]
    report, inventory, playbook = run_option(lab, option)
    old_after = checksums(lab, "old")

    # Downtime report: from the old client's stop to the test message on the new client.
    assert 0 < report["downtime_seconds"] < 120
    assert report["events"]["downtime_end"]["info"]["test_message_id"].startswith("gBEG")
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
