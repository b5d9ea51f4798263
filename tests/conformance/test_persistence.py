# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""All state lives in the databases: restarts keep it, a database copy carries it, the shard rule holds."""

import os
import subprocess
import tempfile
import time

import requests

SYSTEM_DATABASES = {"information_schema", "mysql", "performance_schema", "sys", "postgres", "template0",
                    "template1"}


def client_databases(lab, name):
    conn = lab.db(name)
    with conn.cursor() as cur:
        if lab.setup(name)["engine"] == "mysql":
            cur.execute("SHOW DATABASES")
        else:
            cur.execute("SELECT datname FROM pg_database")
        names = sorted(row[0] for row in cur.fetchall() if row[0] not in SYSTEM_DATABASES)
    conn.close()
    return names


def copy_databases(lab, databases):
    """Old server to new with the engine's own tools; passwords only in 0600 files."""
    old, new = lab.setup("old"), lab.setup("new")
    with tempfile.TemporaryDirectory() as tmp:
        if old["engine"] == "mysql":
            files = {}
            for name, setup in (("old", old), ("new", new)):
                path = files[name] = os.path.join(tmp, name + ".cnf")
                with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w", encoding="utf-8") as handle:
                    # Quoted: '#' would start a comment in an option file.
                    handle.write('[client]\nhost=127.0.0.1\nport=%d\nuser=root\npassword="%s"\n'
                                 % (setup["db_port"], setup["db_password"].replace("\\", "\\\\").replace('"', '\\"')))
            script = ('set -o pipefail; mariadb-dump --defaults-extra-file="$1" --single-transaction --quick '
                      '--hex-blob --databases "${@:3}" | mariadb --defaults-extra-file="$2"')
            subprocess.run(["bash", "-c", script, "copy", files["old"], files["new"]] + databases, check=True)
        else:
            passfile = os.path.join(tmp, "pgpass")
            with open(os.open(passfile, os.O_WRONLY | os.O_CREAT, 0o600), "w", encoding="utf-8") as handle:
                for setup in (old, new):
                    handle.write("127.0.0.1:%d:*:root:%s\n" % (setup["db_port"], setup["db_password"]))
            env = dict(os.environ, PGPASSFILE=passfile)
            for dbname in databases:
                script = ('set -o pipefail; pg_dump -h 127.0.0.1 -p "$1" -U root --create "$3" '
                          '| psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$2" -U root -d postgres >/dev/null')
                subprocess.run(["bash", "-c", script, "copy", str(old["db_port"]), str(new["db_port"]), dbname],
                               check=True, env=env)


def drop_databases(lab, name, databases):
    conn = lab.db(name)
    with conn.cursor() as cur:
        for dbname in databases:
            cur.execute("DROP DATABASE %s" % ("`%s`" % dbname if lab.setup(name)["engine"] == "mysql"
                                              else '"%s"' % dbname))
    conn.close()


def snapshot(lab, api):
    """What a migration must keep: registration, settings, message and callback counts."""
    settings = api.call("GET", "/v1/settings/application")["settings"]["application"]
    stats = api.call("GET", "/v1/stats/db")["stats"]["db"]
    if "messages_total" not in stats:
        (stats,) = stats.values()
    return {"wa_id": settings["wa_id"], "webhook": settings["webhooks"]["url"],
            "messages": stats["messages_total"]["data"][0]["value"],
            "contacts": stats["contacts_total"]["data"][0]["value"],
            "shards": api.call("GET", "/v1/account/shards")["account"]["shards"]}


def token_status(lab, name, token):
    return lab.client(name, login=False).request("GET", "/v1/health", token=token).status_code


def wait_serving(lab, name):
    """Log in as soon as the (re)started web app listens, then wait for health."""
    deadline = time.time() + 90
    while True:
        try:
            api = lab.client(name)
            break
        except requests.ConnectionError:
            assert time.time() < deadline, "the %s web app did not listen again within 90 s" % name
            time.sleep(0.3)
    api.wait_health(timeout=90, shards=lab.setup(name)["shards"] or None)
    return api


def test_restart_keeps_everything(lab):
    before = snapshot(lab, lab.client("old"))
    lab.compose("old", "restart")
    after = snapshot(lab, wait_serving(lab, "old"))
    assert after == before
    assert token_status(lab, "old", lab.state["api_user_token"]) == 200


def test_database_copy_carries_state_and_waweb_carries_tokens(lab):
    before = snapshot(lab, lab.client("old"))
    token = lab.state["api_user_token"]
    lab.run("client", "down", "old", "--keep-volumes")  # the old client stops; its database stays
    try:
        databases = client_databases(lab, "old")
        prefix = lab.setup("old")["db_prefix"]
        assert prefix + "waweb" in databases and prefix + "wacore" in databases

        # Without waweb (option 2): everything but users and tokens.
        without_web = [d for d in databases if d != prefix + "waweb"]
        copy_databases(lab, without_web)
        lab.run("client", "up", "new")
        fresh = lab.client("new", login=False)
        assert fresh.request("POST", "/v1/users/login", auth=("admin", "secret")).json()["errors"][0]["code"] == 1024
        assert token_status(lab, "new", token) == 401
        fresh.login("admin", "secret", new_password=lab.state["admin_password"])
        fresh.wait_health(timeout=60, shards=lab.setup("new")["shards"] or None)
        assert snapshot(lab, fresh) == before
        lab.run("client", "down", "new")
        drop_databases(lab, "new", client_databases(lab, "new"))

        # Everything (option 3): the old admin password and API tokens work on the new client.
        copy_databases(lab, databases)
        lab.run("client", "up", "new")
        api = wait_serving(lab, "new")
        assert snapshot(lab, api) == before
        assert token_status(lab, "new", token) == 200
        health = api.call("GET", "/v1/health")["health"]
        new_containers = lab.container_ids("new")
        if lab.setup("new")["shards"]:
            # The old nodes' rows were pruned: only the new containers appear.
            assert {node.split(":")[1] for node in health} <= set(new_containers)
    finally:
        lab.run("client", "down", "new", check=False)
        lab.run("client", "up", "old")


def test_other_shard_count_refuses_the_database(lab):
    """Copied databases under another topology: every node refuses with the shard-topology error."""
    shards = lab.setup("old")["shards"]
    other_shards = 4 if shards else 2
    lab.run("client", "down", "new", check=False)
    drop_databases(lab, "new", client_databases(lab, "new"))
    lab.run("client", "down", "old", "--keep-volumes")
    try:
        copy_databases(lab, client_databases(lab, "old"))
        lab.run("client", "up", "new", "--shards", str(other_shards))
        api = lab.client("new")
        nodes = len(lab.container_ids("new")) - 1  # every node but the web app
        deadline = time.time() + 90
        while True:  # until every node runs and the new primary master has pruned the old setup's node rows
            health = api.call("GET", "/v1/health")["health"]
            details = [node["errors"][0]["details"] for node in health.values()]
            if len(details) == nodes and all(d.startswith("Shard topology mismatch") for d in details) \
                    or time.time() > deadline:
                break
            time.sleep(0.5)
        assert len(details) == nodes, health
        assert all(d.startswith("Shard topology mismatch") for d in details), [d[:60] for d in details]
        assert api.request("POST", "/v1/messages", {"to": "4915100000001", "text": {"body": "x"}}).status_code == 500
    finally:
        lab.run("client", "down", "new", check=False)
        lab.run("client", "up", "old")
