"""Fixtures of the suites that need a running lab; the helpers live in labsupport.py."""

import shutil
import tempfile

import pytest

from labsupport import TOPOLOGIES, lab_fixture


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
