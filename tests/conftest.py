"""Fixtures of the suites that need a running lab; the helpers live in labsupport.py."""

import shutil
import tempfile

import pytest

from labsupport import FAULT_MATRIX, TOPOLOGIES, lab_fixture


@pytest.fixture(scope="session")
def docker_engine():
    """One Docker engine for the whole session: started here (and stopped by PID) only if none runs."""
    from lablib import procs
    logdir = tempfile.mkdtemp(prefix="wabiz-dockerd-", dir="/var/tmp")
    pid = procs.ensure_dockerd(logdir)
    yield
    if pid:
        procs.stop_pid(pid)
    shutil.rmtree(logdir, ignore_errors=True)


lab = lab_fixture(TOPOLOGIES)


def pytest_terminal_summary(terminalreporter):
    """The fault matrix of tests/integration/test_faults.py: each fault, engine, outcome and messages lost."""
    if not FAULT_MATRIX:
        return
    terminalreporter.section("fault matrix")
    for row in FAULT_MATRIX:
        terminalreporter.write_line("%-52s %-18s %-50s lost %d"
                                    % (row["fault"], row["engine"], row["outcome"], row["messages_lost"]))
    terminalreporter.write_line("faults survived: %d, messages lost: %d" % (
        sum(1 for row in FAULT_MATRIX if row["messages_lost"] == 0), sum(r["messages_lost"] for r in FAULT_MATRIX)))
