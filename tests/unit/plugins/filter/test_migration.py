# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The playbooks' filters: settings of the spec's types and defaults, the steps a run carries out, the checks."""

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.wabiz.migration.plugins.filter.migration import (
    invalid, setup_problems, steps_to_run, with_defaults)

SPEC = {"wabiz_drop_force": {"type": "bool", "default": False, "description": "x"},
        "wabiz_db_jobs": {"type": "int", "default": 2},
        "wabiz_twostep_pin": {"type": "str", "no_log": True}}


def test_extra_vars_take_the_spec_types_and_defaults():
    # -e wabiz_drop_force=false arrives as the string "false": it must not count as true.
    assert with_defaults({"wabiz_drop_force": "false", "wabiz_db_jobs": "4", "other": 1}, SPEC) == {
        "wabiz_drop_force": False, "wabiz_db_jobs": 4, "wabiz_twostep_pin": None}
    assert with_defaults({"wabiz_twostep_pin": ""}, SPEC, blank_is_unset=True)["wabiz_twostep_pin"] is None
    with pytest.raises(AnsibleFilterError, match="wabiz_db_jobs"):
        with_defaults({"wabiz_db_jobs": "many"}, SPEC)


STEPS = [{"name": "stage_new", "title": "stage", "guide": 5, "downtime": False},
         {"name": "twostep_off", "title": "off", "guide": 1, "downtime": False, "when": False},
         {"name": "stop_old", "title": "stop", "guide": 2, "downtime": True},
         {"name": "verify_new", "title": "verify", "guide": 7, "downtime": True, "when": "True"}]


def test_the_steps_to_run_leave_out_the_done_the_unwanted_and_the_unselected():
    assert [s["name"] for s in steps_to_run(STEPS, [])] == ["stage_new", "stop_old", "verify_new"]
    assert [s["name"] for s in steps_to_run(STEPS, ["stage_new"])] == ["stop_old", "verify_new"]
    assert [s["name"] for s in steps_to_run(STEPS, [], ("stop_old",))] == ["stop_old"]
    assert [s["name"] for s in steps_to_run(STEPS, [], ("all",), ("stop_old",))] == ["stage_new", "verify_new"]


def test_a_mistyped_step_is_refused():
    with pytest.raises(AnsibleFilterError, match="unknown tilte"):
        steps_to_run([{"name": "x", "tilte": "t", "title": "t", "downtime": False}], [])
    with pytest.raises(AnsibleFilterError, match="lacks downtime"):
        steps_to_run([{"name": "x", "title": "t"}], [])


def test_the_rules_the_modules_apply_name_the_variable():
    assert invalid("123456", "pin", "wabiz_twostep_pin") == ""
    assert invalid("12345", "pin", "wabiz_twostep_pin") == "wabiz_twostep_pin must be exactly six digits"
    assert invalid("hooks.example.com", "url", "wabiz_webhook_url").startswith("wabiz_webhook_url must start with https://")
    assert "(it is empty)" in invalid(None, "recipient", "wabiz_test_recipient")


def test_a_setup_is_checked_for_what_its_spec_cannot_say():
    setup = {"host": "old-host", "api": {"api_url": "https://wa:9090", "api_password": "p"},
             "db": {"login_port": "3306", "login_password": "p", "name_prefix": ""}, "client": {"project": "wa"}}
    assert setup_problems(setup, "old") == ""
    setup["db"].update(login_port=70000, login_password=None)
    problems = setup_problems(setup, "old")
    assert problems.startswith("The old-host setup is incomplete or invalid: ")
    assert "wa_db_port must be a port number" in problems and "WA_DB_OLD_PASSWORD" in problems


def test_a_topology_that_disagrees_with_itself_and_an_empty_password_are_named():
    setup = {"host": "old-host", "api": {"api_url": "https://wa:9090", "api_password": "p"},
             "db": {"login_port": 3306, "login_password": "", "name_prefix": ""}, "client": {"project": "wa"},
             "topology": {"shards": 2, "masters": 2, "coreapps": 5}}
    problems = setup_problems(setup, "old")
    assert "wa_db_password is empty, which hides WA_DB_OLD_PASSWORD" in problems
    assert "2 shard(s), 2 master(s) and 5 coreapp(s)" in problems and "3 coreapps (shards + 1)" in problems
    for topology, fine in (({"shards": 0, "masters": 0, "coreapps": 1}, True),
                           ({"shards": 0, "masters": 2, "coreapps": 1}, False),
                           ({"shards": 1, "masters": 2, "coreapps": 2}, True),
                           ({"shards": 4, "masters": 1, "coreapps": 5}, False),
                           ({"shards": 32, "masters": 3, "coreapps": 33}, True)):
        setup.update(topology=topology, db=dict(setup["db"], login_password="p"))
        assert (setup_problems(setup, "old") == "") == fine, topology


@pytest.mark.parametrize("url, https_only, fine", [
    ("https://wa.example.com:9090", True, True), ("https://[::1]:9090/", True, True),
    ("http://wa.example.com", False, True), ("http://wa.example.com", True, False),
    ("https://a b", False, False), ("https://wa\n.example.com", False, False), ("https://", False, False),
    ("https://wa.example.com:99999", False, False), ("https://admin:pw@wa.example.com", False, False),
    ("ftp://wa.example.com", False, False), ("wa.example.com:9090", False, False), ("https:///path", False, False),
])
def test_urls_are_parsed_not_prefix_matched(url, https_only, fine):
    assert (invalid(url, "api_url" if https_only else "url", "wa_api_url") == "") == fine, url
