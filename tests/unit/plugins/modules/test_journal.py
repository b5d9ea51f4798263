"""journal: steps, events, the report, and journals of other migrations."""

import json
import os

from ansible_collections.wabiz.migration.plugins.modules import journal

MIGRATION = {"option": 2, "old": "old-host", "new": "new-host"}


def test_steps_events_and_report(run_module, tmp_path):
    path = str(tmp_path / "j.json")
    opened = run_module(journal, {"path": path, "state": "open", "migration": MIGRATION})
    assert opened["changed"] and opened["done"] == [] and oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert run_module(journal, {"path": path, "state": "begin", "step": "stop_old"})["changed"]
    assert run_module(journal, {"path": path, "state": "event", "event": "downtime_start"})["changed"]
    assert not run_module(journal, {"path": path, "state": "event", "event": "downtime_start"})["changed"]
    done = run_module(journal, {"path": path, "state": "done", "step": "stop_old", "info": {"n": 1}})
    assert done["done"] == ["stop_old"]
    assert not run_module(journal, {"path": path, "state": "begin", "step": "stop_old"})["changed"]
    run_module(journal, {"path": path, "state": "event", "event": "downtime_end"})
    report = run_module(journal, {"path": path, "state": "report"})
    assert report["report"]["downtime_seconds"] >= 0 and report["report"]["steps"][0]["step"] == "stop_old"
    with open(report["report_path"], encoding="utf-8") as handle:
        assert json.load(handle)["migration"]["option"] == "2"


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
    assert reopened["done"] == [] and reopened["changed"]
    with open(reopened["previous_journal"], encoding="utf-8") as handle:
        assert json.load(handle)["order"] == ["stop_old"]
