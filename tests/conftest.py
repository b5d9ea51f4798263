# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of the suites that need a running lab; the helpers live in labsupport.py."""

import json
import os
import shutil
import sys
import tempfile

import pytest

# ansible-test units (tools/ansible_test) imports this file as a package module, not from its folder.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labsupport import TOPOLOGIES, lab_fixture  # noqa: E402 pylint: disable=wrong-import-position


@pytest.fixture(scope="session")
def docker_engine():
    """The machine's shared Docker engine for the session (lablib.procs.use_dockerd): started if none runs, stopped
    by its last user only, never while another lab or session still uses it."""
    from lablib import procs
    user = tempfile.mkdtemp(prefix="wabiz-docker-user-", dir="/var/tmp")
    procs.use_dockerd(user)
    yield
    procs.release_dockerd(user)
    shutil.rmtree(user, ignore_errors=True)


lab = lab_fixture(TOPOLOGIES)


# Module-scoped fixtures: the tests that use one (a shared lab, an installed tarball) stay together.
SHARED_FIXTURES = {"lab", "installed", "pair"}


# The longest tests (a minute and more each, measured on CI) start first, so that the two workers end together
# instead of one waiting for the other's last long test.
LONG_FIRST = ("steps-2]", "steps-3]", "test_molecule.py::", "steps-1]",
              "test_bench.py::", "test_cores.py::test_ansible_test_passes_without_ignore_files[sanity",
              "test_options.py::test_option[pgsql-single")


def _rank(item):
    return next((rank for rank, part in enumerate(LONG_FIRST) if part in item.nodeid), len(LONG_FIRST))


# The tiers of tools/test, fastest first: unit (no server), servers (two bare database servers, Compose's config
# check and the lab's engine registry: no Docker engine, no emulator), quality (linters, ansible-test, docs), lab
# (Docker, the emulator, real ansible-playbook runs of whole options). A test is in the tier of its file.
SERVER_MODULES = ("test_verification.py", "test_capture_matrix.py", "test_credentials.py", "test_inputs.py",
                  "test_lab_engine.py")


def tier(path):
    parts = str(path).split(os.sep)
    if "unit" in parts:
        return "unit"
    if "quality" in parts:
        return "quality"
    return "servers" if parts[-1] in SERVER_MODULES else "lab"


def pytest_collection_modifyitems(config, items):
    """Only the tier WABIZ_TEST_TIER names, when set (tools/test); tests that share a module-scoped fixture run on
    one pytest-xdist worker (--dist loadgroup), and the longest start first."""
    wanted = os.environ.get("WABIZ_TEST_TIER")
    if wanted:
        deselected = [item for item in items if tier(item.path) != wanted]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [item for item in items if tier(item.path) == wanted]
    for item in items:
        if SHARED_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    items.sort(key=_rank)


def pytest_configure(config):
    """The fault matrix's file, named once by the main process; pytest-xdist workers inherit the variable."""
    if not hasattr(config, "workerinput") and "WABIZ_FAULT_MATRIX" not in os.environ:
        handle, path = tempfile.mkstemp(prefix="wabiz-fault-matrix-", suffix=".jsonl", dir="/var/tmp")
        os.close(handle)
        os.environ["WABIZ_FAULT_MATRIX"] = path
        config.add_cleanup(lambda: os.unlink(path))


def pytest_terminal_summary(terminalreporter):
    """The machine time of each tier (its tests' setup, call and teardown summed over the workers), and the fault
    matrix of tests/integration/test_faults.py: each fault, engine, outcome and messages lost."""
    spent = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) in ("setup", "call", "teardown") and getattr(report, "fspath", None):
                name = tier(report.fspath)
                spent[name] = spent.get(name, 0.0) + report.duration
    if spent:
        terminalreporter.section("machine time per tier")
        for name in ("unit", "servers", "quality", "lab"):
            if name in spent:
                terminalreporter.write_line("%-8s %7.0f s" % (name, spent[name]))
    path = os.environ.get("WABIZ_FAULT_MATRIX")
    if not path or not os.path.exists(path) or not os.path.getsize(path):
        return
    with open(path, encoding="utf-8") as handle:
        rows = sorted((json.loads(line) for line in handle), key=lambda row: (row["fault"], row["engine"]))
    terminalreporter.section("fault matrix")
    for row in rows:
        terminalreporter.write_line("%-76s %-16s %-46s lost %d"
                                    % (row["fault"], row["engine"], row["outcome"], row["messages_lost"]))
    terminalreporter.write_line("faults survived: %d, messages lost: %d" % (
        sum(1 for row in rows if row["messages_lost"] == 0), sum(row["messages_lost"] for row in rows)))
