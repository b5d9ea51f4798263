# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""db_info: missing drivers and database selection, without a server."""

import pytest

from ansible_collections.wabiz.migration.plugins.module_utils import _db
from ansible_collections.wabiz.migration.plugins.modules import db_info


def test_missing_driver(run_module, monkeypatch):
    monkeypatch.setattr(_db, "pymysql", None)
    result = run_module(db_info, {"engine": "mysql", "login_password": "x"})
    assert result["failed"] and "PyMySQL" in result["msg"]


class Listing(_db.Server):
    def __init__(self, names):
        super().__init__("mysql", "127.0.0.1", None, "root", "pw")
        self.names = names

    def databases(self):
        return self.names


def test_select_by_prefix_include_exclude():
    server = Listing(["p_waweb", "p_wacore", "p_wamessages_0", "other"])
    assert server.select("p_") == ["p_waweb", "p_wacore", "p_wamessages_0"]
    assert server.select("p_", exclude=["p_waweb"]) == ["p_wacore", "p_wamessages_0"]
    assert server.select("p_", include=["p_wacore"]) == ["p_wacore"]
    with pytest.raises(_db.DbError, match="p_missing not found"):
        server.select("p_", include=["p_wacore", "p_missing"])
    assert server.port == 3306 and server.quote("a`b") == "`a``b`"
