# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Database servers that take TLS only (lab up --tls: MariaDB's require_secure_transport, PostgreSQL's hostssl
lines only), as managed services can: option 2 verifies their certificates and carries everything, and a
connection without TLS is refused, by the servers and, before the downtime, by the migration."""

import os

import pytest

from labsupport import ROOT, ansible_playbook, inventory_with, messages, start_lab, step_state, stop_lab


@pytest.fixture(scope="module", params=[("mysql", 0), ("pgsql", 2)], ids=["mysql-single", "pgsql-2shards"])
def tls_lab(request, docker_engine):  # pylint: disable=unused-argument
    instance = start_lab(*request.param, messages=2000, tls=True)
    instance.run("inventory")
    yield instance
    stop_lab(instance)


def option2(lab, inventory=None):
    return ansible_playbook(os.path.join(ROOT, "playbooks", "option2.yml"),
                            inventory or os.path.join(lab.workdir, "inventory.yml"))


def plaintext_login(lab, name):
    """root's login to a setup's server over TCP without TLS; returns the server's refusal."""
    setup = lab.setup(name)
    try:
        if setup["engine"] == "mysql":
            import pymysql
            pymysql.connect(host="127.0.0.1", port=setup["db_port"], user="root", password=setup["db_password"],
                            ssl_disabled=True).close()
        else:
            import psycopg2
            psycopg2.connect(host="127.0.0.1", port=setup["db_port"], user="root", password=setup["db_password"],
                             dbname="postgres", sslmode="disable").close()
    except Exception as exc:  # pylint: disable=broad-except
        return str(exc)
    return None


def test_without_tls_the_servers_and_the_migration_refuse(tls_lab):
    for name in ("old", "new"):
        # MariaDB refuses a plaintext login as it refuses a wrong password; the same password over TLS works.
        refusal = plaintext_login(tls_lab, name)
        assert refusal and ("Access denied" in refusal or "no encryption" in refusal), refusal
        tls_lab.db(name).close()
    before = messages(tls_lab, "old")

    # The migration told not to use TLS: its preflight cannot log in, and says what to set.
    rc, output = option2(tls_lab, inventory_with(tls_lab, "plaintext", {"wa_db_ssl_mode": "disable"}))
    assert rc != 0, output[-3000:]
    assert "TLS connections only" in output and "wa_db_ssl_mode" in output, output[-3000:]

    # TLS for the migration, but none for the new client's containers: refused before the old client stops.
    rc, output = option2(tls_lab, inventory_with(tls_lab, "client-plaintext", {"wa_extra_env": {}}))
    assert rc != 0, output[-3000:]
    assert "the client containers are given no TLS settings" in output, output[-3000:]
    assert step_state(tls_lab, "stop_old") is None, output[-3000:]
    tls_lab.client("old").wait_health(timeout=30, shards=tls_lab.setup("old")["shards"] or None)
    assert messages(tls_lab, "old") == before


def test_prefer_takes_the_tls_the_servers_offer(tls_lab):
    # ssl_mode=prefer (the default): every connection of the preflight negotiates TLS, on MariaDB through the
    # TLS context the collection's connections share; the servers refuse any without it.
    rc, output = ansible_playbook(os.path.join(ROOT, "playbooks", "option2.yml"),
                                  inventory_with(tls_lab, "prefer", {"wa_db_ssl_mode": "prefer"}), "--check")
    assert rc == 0, output[-3000:]
    assert "check mode changes nothing" in output, output[-3000:]


def test_option2_over_tls_carries_everything(tls_lab):
    rc, output = option2(tls_lab)
    assert rc == 0, output[-4000:]
    tls_lab.client("new").wait_health(timeout=60, shards=tls_lab.setup("new")["shards"] or None)
    old, new = messages(tls_lab, "old"), messages(tls_lab, "new")
    assert all(old[d] <= new.get(d, set()) for d in old)
    assert sum(len(new[d] - old.get(d, set())) for d in new) <= 1  # the test message
