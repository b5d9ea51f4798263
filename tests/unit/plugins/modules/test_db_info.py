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
    with pytest.raises(_db.DbError, match="p_wamessages_7 not found"):
        server.select("p_", include=["p_wacore", "p_wamessages_7"])
    assert server.port == 3306 and server.quote("a`b") == "`a``b`"


# A shared server as a solution provider has it: the client acme_, a client with a longer prefix, another
# application, names that a tool would read as an option, a path or a pattern.
SHARED = ["acme_wacore", "acme_waweb", "acme_wamessages", "acme_wamessages_1", "acme_wamessages_12",
          "acme_eu_wacore", "acme_eu_wamessages_1", "acme_reports", "acme_wacore_old", "acme_wacorex",
          "acme_wamessages_", "acme_wamessages_1a", "wacore", "waweb", "billing", "--result-file=x", "../etc",
          "acme_wa%", "acme_wacore\n", "Acme_wacore"]


def test_only_the_clients_own_names_are_selected_whatever_the_neighbours():
    server = Listing(SHARED)
    assert server.select("acme_") == ["acme_wacore", "acme_waweb", "acme_wamessages", "acme_wamessages_1",
                                      "acme_wamessages_12"]
    assert server.strangers("acme_") == ["acme_eu_wacore", "acme_eu_wamessages_1", "acme_reports", "acme_wacore_old",
                                         "acme_wacorex", "acme_wamessages_", "acme_wamessages_1a", "acme_wa%",
                                         "acme_wacore\n"]
    # The vendor's default empty prefix takes the unprefixed client only, never acme_'s or another application's.
    assert server.select("") == ["wacore", "waweb"]
    assert "billing" in server.strangers("") and "acme_wacore" in server.strangers("")
    for include in (["acme_eu_wacore"], ["acme_reports"], ["--result-file=x"], ["../etc"]):
        with pytest.raises(_db.DbError, match="not one of the client's"):
            server.select("acme_", include=include)


@pytest.mark.parametrize("prefix", ["acme-", "a.b_", "x;", "%", "_%", "a b", "a\nb", "--x", "../", None])
def test_a_prefix_that_is_no_plain_name_is_refused(prefix):
    with pytest.raises(_db.DbError, match="letters, digits and _"):
        Listing(SHARED).select(prefix)


def test_db_info_reports_the_neighbours_and_takes_none(run_module, monkeypatch):
    monkeypatch.setattr(_db.Server, "databases", lambda self: SHARED)
    monkeypatch.setattr(_db.Server, "inventory", lambda self, name, rows, checksums: {"size_bytes": 1, "tables": {}})
    for method, value in (("version", "10.11"), ("identity", "mysql:h:3306:/d"), ("grant_to_create", "")):
        monkeypatch.setattr(_db.Server, method, lambda self, value=value: value)
    monkeypatch.setattr(_db.Server, "close", lambda self: None)
    result = run_module(db_info, {"engine": "mysql", "login_password": "x", "name_prefix": "acme_"})
    assert result["names"] == ["acme_wacore", "acme_waweb", "acme_wamessages", "acme_wamessages_1",
                               "acme_wamessages_12"], result
    assert "acme_eu_wacore" in result["not_the_clients"] and set(result["databases"]) == set(result["names"])
