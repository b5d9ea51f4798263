# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""settings_restore: only onto an unregistered client unless forced; a clear wrong-password message."""

from ansible_collections.wabiz.migration.plugins.modules import settings_restore

DATA = "V0FCSVotYmFja3VwLXRlc3QtZGF0YQ=="
BASE = {"api_url": "https://wa:9090", "api_token": "t", "password": "Backup#1", "data": DATA}
UNREGISTERED = {"health": {"h:1": {"gateway_status": "unregistered", "role": "coreapp"}}}


def test_restores_onto_an_unregistered_client(server, run_module):
    server.add("GET", "/v1/health", 200, UNREGISTERED).add("POST", "/v1/settings/restore", 200, {})
    result = run_module(settings_restore, BASE)
    assert not result["failed"] and result["changed"] and not result["restart_required"]
    assert server.requests[1]["body"] == {"password": "Backup#1", "data": DATA}


def test_leaves_a_registered_client_alone(server, run_module):
    server.add("GET", "/v1/health", 200, {"health": {"gateway_status": "connected"}})
    result = run_module(settings_restore, BASE)
    assert not result["failed"] and not result["changed"] and len(server.requests) == 1


def test_wrong_password_explains(server, run_module):
    server.add("GET", "/v1/health", 200, UNREGISTERED)
    server.add("POST", "/v1/settings/restore", 400, {"errors": [{"code": 1009, "title": "Parameter value is not valid",
                                                                 "details": "Unable to decrypt backup data"}]})
    result = run_module(settings_restore, dict(BASE, retries=0))
    assert result["failed"] and "password does not match" in result["msg"] and result["errors"][0]["code"] == 1009


def test_reads_src_and_check_mode(server, run_module, tmp_path):
    src = tmp_path / "b"
    src.write_text(DATA + "\n")
    server.add("GET", "/v1/health", 200, UNREGISTERED)
    args = {k: v for k, v in BASE.items() if k != "data"}
    result = run_module(settings_restore, dict(args, src=str(src), _ansible_check_mode=True))
    assert not result["failed"] and result["changed"] and len(server.requests) == 1


def test_a_file_that_is_no_backup_is_refused_before_any_request(server, run_module, tmp_path):
    src = tmp_path / "notes.txt"
    src.write_text("these are my notes, not a backup\n")
    args = {k: v for k, v in BASE.items() if k != "data"}
    result = run_module(settings_restore, dict(args, src=str(src)))
    assert result["failed"] and "is not a settings backup" in result["msg"] and server.requests == []
