# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""db_drop: nothing happens without the exact list."""

from ansible_collections.wabiz.migration.plugins.modules import db_drop


def test_wrong_confirmation_drops_nothing(run_module):
    result = run_module(db_drop, {"engine": "mysql", "login_password": "x", "databases": ["b", "a"],
                                  "confirm": "b,a"})
    assert result["failed"] and "confirm must be exactly 'a,b'" in result["msg"]


def test_a_name_that_is_not_the_clients_is_never_dropped(run_module):
    result = run_module(db_drop, {"engine": "mysql", "login_password": "x", "name_prefix": "acme_",
                                  "databases": ["acme_wacore", "acme_eu_wacore"], "confirm": "acme_eu_wacore,acme_wacore"})
    assert result["failed"] and '"acme_eu_wacore": not one of the client' in result["msg"], result
