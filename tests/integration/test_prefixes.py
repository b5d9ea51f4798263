# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Old and new clients with different database prefixes (WA_DB_NAME_PREFIX): the copy takes the new client's
names, the new client finds every message under them, and a rollback carries its writes back to the old names."""

import json
import os
import time

import pytest

from labsupport import (ROOT, Traffic, ansible_playbook, checksums, databases, inventory_with, journal_of, leaks_in_work_dirs,
                        loose_files, messages, rows, start_lab, stop_lab)

NEW_PREFIX = "biz2_"


@pytest.fixture
def prefixed_lab(request, docker_engine):  # pylint: disable=unused-argument
    instance = start_lab(*request.param, messages=300)
    instance.run("inventory")
    yield instance
    stop_lab(instance)


def under_new_prefix(lab):
    """The new server's client databases by the old client's names: biz2_wacore as wacore."""
    now = checksums(lab, "new", NEW_PREFIX)
    return {d[len(NEW_PREFIX):]: t for d, t in now.items() if d.startswith(NEW_PREFIX)}, sorted(now)


@pytest.mark.parametrize("prefixed_lab, extra", [
    (("mysql", 2), []),  # copy ahead (mydumper, myloader per database) and the sync in the downtime
    (("mysql", 0), ["-e", "wabiz_copy_ahead=false", "-e", "wabiz_db_method=mysqldump"]),  # mariadb-dump | load
    (("pgsql", 0), ["-e", "wabiz_copy_ahead=false", "-e", "wabiz_transfer=file"]),  # pg_dump, then db_restore
], indirect=["prefixed_lab"], ids=["mysql-2shards-copy-ahead", "mysql-single-mysqldump-stream",
                                   "pgsql-single-file-transfer"])
def test_new_client_with_another_prefix(prefixed_lab, extra):
    lab = prefixed_lab
    inventory = inventory_with(lab, "prefix", {"wa_db_name_prefix": NEW_PREFIX})
    rc, output = ansible_playbook(os.path.join(ROOT, "playbooks", "option3.yml"), inventory, *extra)
    assert rc == 0, output[-4000:]
    new_client = lab.client("new")
    new_client.wait_health(timeout=60, shards=lab.setup("new")["shards"] or None)
    # Every database is on the new server under the new client's names, and only there, with what the old one
    # had: every message (plus the test message), every contact and API user.
    old = checksums(lab, "old")
    renamed, present = under_new_prefix(lab)
    assert present == sorted(NEW_PREFIX + d for d in old), present
    assert databases(lab, "new") == [], "client databases under the old names on the new server"
    for dbname, tables in old.items():
        for table in ("contacts", "users"):
            if table in tables:
                assert renamed[dbname][table] == tables[table], (dbname, table)
    old_messages = messages(lab, "old")
    carried = {d: rows(lab, "new", NEW_PREFIX + d, "messages") for d in old_messages}
    assert all(old_messages[d] <= carried[d] for d in old_messages)
    assert sum(len(carried[d]) - len(old_messages[d]) for d in old_messages) == 1  # the test message
    assert sum(len(r) for r in old_messages.values()) > 0
    # The manifest and the journal record both names.
    sync = os.path.join(lab.workdir, "new", "backups", "sync", "manifest.json")
    if os.path.exists(sync):
        with open(sync, encoding="utf-8") as handle:
            assert json.load(handle)["target_names"] == {d: NEW_PREFIX + d for d in old}
    assert journal_of(lab)["events"]["setups"]["info"]["new"]["database_prefix"] == NEW_PREFIX
    assert leaks_in_work_dirs(lab) == [] and loose_files(lab) == []


@pytest.mark.parametrize("prefixed_lab", [("pgsql", 0)], indirect=True, ids=["pgsql-single"])
def test_rollback_carries_back_from_the_new_prefix(prefixed_lab):
    lab = prefixed_lab
    inventory = inventory_with(lab, "prefix", {"wa_db_name_prefix": NEW_PREFIX})
    rc, output = ansible_playbook(os.path.join(ROOT, "playbooks", "option2.yml"), inventory)
    assert rc == 0, output[-4000:]
    old_users = rows(lab, "old", "waweb", "users")
    traffic = Traffic(lab, "new").start()
    time.sleep(2)
    rc, output = ansible_playbook(os.path.join(ROOT, "playbooks", "rollback.yml"), inventory)
    accepted = traffic.stop()
    assert rc == 0, output[-4000:]
    assert accepted
    lab.client("old").wait_health(timeout=60)
    # Option 2 never copied waweb: the new client's own API users stay behind, the old client keeps its own.
    assert rows(lab, "old", "waweb", "users") == old_users
    old = messages(lab, "old")
    assert set(accepted) <= {row[0] for rows in old.values() for row in rows}
    renamed, _present = under_new_prefix(lab)
    now_old = checksums(lab, "old")
    for dbname in journal_of(lab)["steps"]["copy_databases"]["info"]["databases"]:
        for table in ("messages", "contacts"):
            if table in renamed[dbname]:
                assert now_old[dbname][table] == renamed[dbname][table], (dbname, table)
