# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Managed database services (lab up --managed): the client and the migration log in with only the rights a
managed service's admin user has (on MariaDB no SUPER and no FILE; on PostgreSQL no superuser, with CREATEDB),
and option 3 carries everything; a user without the rights to create the copy is refused before the downtime,
with the grant to add."""

import os
from contextlib import closing

import pytest

from labsupport import ROOT, ansible_playbook, inventory_with, messages, start_lab, step_state, stop_lab


@pytest.fixture(scope="module", params=["mysql", "pgsql"])
def managed_lab(request, docker_engine):  # pylint: disable=unused-argument
    instance = start_lab(request.param, 0, messages=2000, managed=True)
    instance.run("inventory")
    yield instance
    stop_lab(instance)


def option3(lab, inventory=None):
    return ansible_playbook(os.path.join(ROOT, "playbooks", "option3.yml"),
                            inventory or os.path.join(lab.workdir, "inventory.yml"))


def test_the_lab_users_have_no_more_than_a_managed_admin(managed_lab):
    with closing(managed_lab.db("new")) as conn:
        with conn.cursor() as cur:
            if managed_lab.setup("new")["engine"] == "mysql":
                cur.execute("SHOW GRANTS FOR 'wa_admin'@'127.0.0.1'")
                grants = " ".join(row[0] for row in cur.fetchall())
                assert "SUPER" not in grants and " FILE" not in grants and "ALL PRIVILEGES" not in grants, grants
            else:
                cur.execute("SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = 'wa_admin'")
                assert cur.fetchone() == (False, True)


def test_a_user_that_cannot_create_the_copy_is_refused_with_the_grant(managed_lab):
    engine = managed_lab.setup("new")["engine"]
    with closing(managed_lab.db("new")) as conn:
        with conn.cursor() as cur:
            if engine == "mysql":
                cur.execute("CREATE USER 'reader'@'127.0.0.1' IDENTIFIED BY 'Reader-only-1'")
                cur.execute("GRANT SELECT, SHOW DATABASES ON *.* TO 'reader'@'127.0.0.1'")
            else:
                cur.execute("CREATE ROLE reader LOGIN PASSWORD 'Reader-only-1'")
    before = messages(managed_lab, "old")
    rc, output = option3(managed_lab, inventory_with(managed_lab, "reader", {
        "wa_db_user": "reader", "wa_db_password": "Reader-only-1"}))
    assert rc != 0, output[-3000:]
    expected = "GRANT INSERT, UPDATE, DELETE, CREATE" if engine == "mysql" else "ALTER ROLE \"reader\" CREATEDB"
    assert expected in output, output[-3000:]
    assert step_state(managed_lab, "stop_old") is None
    assert messages(managed_lab, "old") == before


def test_option3_with_a_managed_admins_rights(managed_lab):
    rc, output = option3(managed_lab)
    assert rc == 0, output[-4000:]
    managed_lab.client("new").wait_health(timeout=60)
    old, new = messages(managed_lab, "old"), messages(managed_lab, "new")
    assert all(old[d] <= new.get(d, set()) for d in old)
