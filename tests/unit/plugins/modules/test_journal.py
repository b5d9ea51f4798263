# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""journal: steps, events, the report, and journals of other migrations."""

import json
import os

from ansible_collections.wabiz.migration.plugins.modules import journal

MIGRATION = {"option": 2, "old": "old-host", "new": "new-host"}


def test_steps_events_and_report(run_module, tmp_path):
    path = str(tmp_path / "j.json")
    opened = run_module(journal, {"path": path, "state": "open", "migration": MIGRATION})
    assert opened["done"] == [] and oct(os.stat(path).st_mode & 0o777) == "0o600"
    # Bookkeeping of the run, not a change of either setup: never "changed".
    begun = run_module(journal, {"path": path, "state": "begin", "step": "stop_old", "event": "downtime_start"})
    assert not begun["changed"] and begun["journal"]["order"] == ["stop_old"]
    first = begun["journal"]["events"]["downtime_start"]["at"]
    # An event is recorded once; a finished step is not begun again.
    again = run_module(journal, {"path": path, "state": "event", "event": "downtime_start"})
    assert again["journal"]["events"]["downtime_start"]["at"] == first
    done = run_module(journal, {"path": path, "state": "done", "step": "stop_old", "info": {"n": 1},
                                "then": {"step": "verify_new", "info": {"intent": "x"}}})
    assert done["done"] == ["stop_old"] and done["info"] == {"stop_old": {"n": 1}}
    assert done["journal"]["steps"]["verify_new"]["info"] == {"intent": "x"}
    rebegun = run_module(journal, {"path": path, "state": "begin", "step": "stop_old"})
    assert rebegun["journal"]["steps"]["stop_old"] == done["journal"]["steps"]["stop_old"]
    run_module(journal, {"path": path, "state": "done", "step": "verify_new", "event": "downtime_end"})
    report = run_module(journal, {"path": path, "state": "report"})
    assert report["report"]["downtime_seconds"] >= 0 and report["report"]["steps"][0]["step"] == "stop_old"
    with open(report["report_path"], encoding="utf-8") as handle:
        assert json.load(handle)["migration"]["option"] == "2"
    with open(report["timeline_path"], encoding="utf-8") as handle:
        page = handle.read()
    assert "stop_old" in page and "verify_new" in page and 'class="downtime"' in page
    assert oct(os.stat(report["timeline_path"]).st_mode & 0o777) == "0o600"


def test_setups_are_recorded_and_a_resume_elsewhere_refused(run_module, tmp_path):
    path = str(tmp_path / "j.json")
    setups = {"old": {"host": "a", "database_server": "mysql:x"}, "new": {"host": "b", "database_server": "mysql:y"}}
    moved = {"old": setups["old"], "new": dict(setups["new"], database_server="mysql:z")}
    # Before any step, a run refused by the preflight leaves no record that binds the next one.
    run_module(journal, {"path": path, "state": "open", "migration": MIGRATION, "setups": setups})
    assert not run_module(journal, {"path": path, "state": "open", "migration": MIGRATION, "setups": moved})["failed"]
    run_module(journal, {"path": path, "state": "begin", "step": "stage_new"})
    refused = run_module(journal, {"path": path, "state": "open", "migration": MIGRATION, "setups": setups})
    assert refused["failed"] and "was written for" in refused["msg"] and "mysql:y" in refused["msg"]
    assert run_module(journal, {"path": path, "state": "read", "setups": setups})["failed"]
    assert not run_module(journal, {"path": path, "state": "read", "setups": moved})["failed"]


def test_another_migration_is_refused_only_once_it_has_steps(run_module, tmp_path):
    path = str(tmp_path / "j.json")
    run_module(journal, {"path": path, "state": "open", "migration": MIGRATION})
    other = dict(MIGRATION, option=3)
    assert not run_module(journal, {"path": path, "state": "open", "migration": other})["failed"]
    run_module(journal, {"path": path, "state": "begin", "step": "stage_new"})
    refused = run_module(journal, {"path": path, "state": "open", "migration": MIGRATION})
    assert refused["failed"] and "belongs to another migration" in refused["msg"]


def test_check_mode_writes_nothing(run_module, tmp_path):
    path = str(tmp_path / "j.json")
    result = run_module(journal, {"path": path, "state": "open", "migration": MIGRATION, "_ansible_check_mode": True})
    assert not result["failed"] and os.listdir(str(tmp_path)) == []


def test_a_rolled_back_migration_is_set_aside_and_begun_afresh(run_module, tmp_path):
    path = str(tmp_path / "j.json")
    run_module(journal, {"path": path, "state": "open", "migration": MIGRATION})
    for state in ("begin", "done"):
        run_module(journal, {"path": path, "state": state, "step": "stop_old"})
    run_module(journal, {"path": path, "state": "event", "event": "rolled_back"})
    checked = run_module(journal, {"path": path, "state": "open", "migration": MIGRATION, "_ansible_check_mode": True})
    assert checked["done"] == [] and "previous_journal" not in checked
    reopened = run_module(journal, {"path": path, "state": "open", "migration": MIGRATION})
    assert reopened["done"] == [] and reopened["journal"]["order"] == []
    with open(reopened["previous_journal"], encoding="utf-8") as handle:
        assert json.load(handle)["order"] == ["stop_old"]
