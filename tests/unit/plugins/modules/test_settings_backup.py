# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""settings_backup: atomic 0600 file, checksum, force, check mode."""

import hashlib
import os
import stat

from ansible_collections.wabiz.migration.plugins.modules import settings_backup

BASE = {"api_url": "https://wa:9090", "api_token": "t", "password": "Backup#1"}
DATA = "V0FCMWVuY3J5cHRlZA=="


def test_writes_a_private_file_and_its_checksum(server, run_module, tmp_path):
    server.add("POST", "/v1/settings/backup", 200, {"settings": {"data": DATA}})
    dest = str(tmp_path / "settings.backup")
    result = run_module(settings_backup, dict(BASE, dest=dest))
    assert not result["failed"] and result["changed"]
    assert open(dest).read() == DATA
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600
    assert result["checksum"] == hashlib.sha256(DATA.encode()).hexdigest() and "data" not in result
    assert sorted(os.listdir(str(tmp_path))) == ["settings.backup", "settings.backup.check"]  # no temporary file
    assert stat.S_IMODE(os.stat(dest + ".check").st_mode) == 0o600
    assert server.requests[0]["body"] == {"password": "Backup#1"}


def test_force_false_keeps_an_existing_backup(server, run_module, tmp_path):
    dest = tmp_path / "settings.backup"
    dest.write_text(DATA)
    result = run_module(settings_backup, dict(BASE, dest=str(dest), force=False))
    assert not result["failed"] and not result["changed"] and server.requests == []
    assert result["checksum"] == hashlib.sha256(DATA.encode()).hexdigest()


def test_a_kept_backup_needs_its_own_password(server, run_module, tmp_path):
    server.add("POST", "/v1/settings/backup", 200, {"settings": {"data": DATA}})
    dest = str(tmp_path / "settings.backup")
    run_module(settings_backup, dict(BASE, dest=dest))
    kept = run_module(settings_backup, dict(BASE, dest=dest, force=False))
    assert not kept["failed"] and not kept["changed"]
    wrong = run_module(settings_backup, dict(BASE, dest=dest, force=False, password="Other#1"))
    assert wrong["failed"] and "not the one the backup" in wrong["msg"]
    with open(dest + ".check", encoding="ascii") as handle:
        assert "Backup#1" not in handle.read()


def test_check_mode_writes_nothing(server, run_module, tmp_path):
    dest = tmp_path / "settings.backup"
    result = run_module(settings_backup, dict(BASE, dest=str(dest), _ansible_check_mode=True))
    assert result["changed"] and not dest.exists() and server.requests == []


def test_return_content_and_unusable_data(server, run_module):
    server.add("POST", "/v1/settings/backup", 200, {"settings": {"data": DATA}})
    result = run_module(settings_backup, dict(BASE, return_content=True))
    assert result["data"] == DATA
    server.add("POST", "/v1/settings/backup", 200, {"settings": {"data": "not base64!"}})
    result = run_module(settings_backup, dict(BASE, return_content=True))
    assert result["failed"] and "no usable data" in result["msg"]


def test_missing_directory_is_made_private(server, run_module, tmp_path):
    server.add("POST", "/v1/settings/backup", 200, {"settings": {"data": DATA}})
    result = run_module(settings_backup, dict(BASE, dest=str(tmp_path / "nope" / "x")))
    assert not result["failed"] and open(str(tmp_path / "nope" / "x")).read() == DATA
    assert stat.S_IMODE(os.stat(str(tmp_path / "nope")).st_mode) == 0o700


def test_directory_that_cannot_be_made(server, run_module, tmp_path):
    (tmp_path / "a-file").write_text("")
    result = run_module(settings_backup, dict(BASE, dest=str(tmp_path / "a-file" / "x")))
    assert result["failed"] and "Cannot create the directory" in result["msg"] and server.requests == []
