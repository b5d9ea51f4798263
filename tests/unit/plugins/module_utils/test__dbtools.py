"""Credentials files, tool choice and the manifest comparison."""

import os
import stat

import pytest

from ansible_collections.wabiz.migration.plugins.module_utils import _dbtools
from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import (
    Credentials, Endpoint, compare, sweep_credentials)


def test_credentials_are_private_quoted_and_removed():
    with Credentials() as credentials:
        args, env = credentials.for_endpoint(Endpoint("mysql", "db", 3306, "root", 'p#a"ss\\w'))
        assert env == {}
        with open(args["extra_file"], encoding="utf-8") as handle:
            text = handle.read()
        assert 'password="p#a\\"ss\\\\w"' in text and "[mydumper]" in text and "[client]" in text
        assert stat.S_IMODE(os.stat(args["extra_file"]).st_mode) == 0o600
        args, env = credentials.for_endpoint(Endpoint("pgsql", "db", 5432, "root", "a:b\\c"))
        with open(env["PGPASSFILE"], encoding="utf-8") as handle:
            assert handle.read() == "db:5432:*:root:a\\:b\\\\c\n"
        directory = credentials.dir
    assert not os.path.exists(directory)


class NoToolsModule:
    """A module on a machine without any database client tools."""

    @staticmethod
    def get_bin_path(name, opt_dirs=None):  # pylint: disable=unused-argument
        return None


def test_choose_tools_explains_what_is_missing():
    module = NoToolsModule()
    with pytest.raises(_dbtools.ToolError, match="install the database client tools"):
        _dbtools.choose_tools(module, "pgsql", "auto")
    with pytest.raises(_dbtools.ToolError, match="mydumper and myloader are not installed"):
        _dbtools.choose_tools(module, "mysql", "mydumper")
    with pytest.raises(_dbtools.ToolError, match="not for PostgreSQL"):
        _dbtools.choose_tools(module, "pgsql", "mydumper")


def test_compare_names_every_difference():
    want = {"a": {"tables": {"t": {"rows": 2, "checksum": "x"}, "u": {"rows": 1}}}, "b": {"tables": {}}}
    have = {"a": {"tables": {"t": {"rows": 2, "checksum": "y"}, "v": {"rows": 0}}}}
    assert compare(want, have) == [
        "a: tables missing: u", "a: unexpected tables: v",
        "a.t: checksum x on the source, y after the restore", "database b is missing"]
    assert compare(want, {"a": {"tables": {"t": {"rows": 2, "checksum": "x"}, "u": {"rows": 1}}},
                          "b": {"tables": {}}}) == []


def test_credentials_of_a_killed_run_are_swept(tmp_path):
    dead = tmp_path / ("wabiz-cred-%d-abc" % (2 ** 22 + 7))  # above pid_max: no such process
    live = tmp_path / ("wabiz-cred-%d-def" % os.getpid())
    for directory in (dead, live):
        directory.mkdir()
        (directory / "my-1.cnf").write_text("password=x\n")
    sweep_credentials(str(tmp_path))
    assert not dead.exists() and live.exists()


def test_a_second_dump_of_a_directory_waits_for_the_first(tmp_path):
    path = str(tmp_path / "backups" / "dump.lock")
    first = _dbtools.WorkLock(path, 0).acquire()
    try:
        with pytest.raises(_dbtools.ToolError, match="still held by an earlier run.*process %d" % os.getpid()):
            _dbtools.WorkLock(path, 0).acquire()
    finally:
        first.release()
    second = _dbtools.WorkLock(path, 0).acquire()
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    second.release()
