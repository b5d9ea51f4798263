# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every ansible-core minor version the collection claims is tested: ansible-test sanity and unit tests on each
(no ignore files), the whole suite on the oldest (.venv), and a full migration on the newest."""

import glob
import json
import os
import re
import subprocess

import pytest
import yaml

from labsupport import ROOT, ansible_playbook, start_lab, stop_lab


def claimed_cores():
    """[(version, python)] from tests/ansible-cores.txt, oldest first."""
    with open(os.path.join(ROOT, "tests", "ansible-cores.txt"), encoding="utf-8") as handle:
        return [tuple(line.split()) for line in handle if line.strip() and not line.startswith("#")]


CORES = [entry[0] for entry in claimed_cores()]


def venv_of(core):
    return os.path.join(ROOT, ".venv" if core == CORES[0] else ".venv-core" + core)


def test_the_claim_is_what_is_tested():
    with open(os.path.join(ROOT, "meta", "runtime.yml"), encoding="utf-8") as handle:
        assert yaml.safe_load(handle)["requires_ansible"] == ">=%s.0" % CORES[0]
    with open(os.path.join(ROOT, "requirements.txt"), encoding="utf-8") as handle:
        pinned = re.search(r"^ansible-core(.*)$", handle.read(), re.M).group(1).strip()
    major, minor = CORES[-1].split(".")
    assert pinned == ">=%s,<%s.%d" % (CORES[0], major, int(minor) + 1)
    minors = [int(core.split(".")[1]) for core in CORES]
    assert minors == list(range(minors[0], minors[-1] + 1)), "every minor version between is claimed, so tested"
    for core in CORES:
        version = subprocess.run([os.path.join(venv_of(core), "bin", "ansible"), "--version"], stdout=subprocess.PIPE,
                                 text=True, check=True).stdout
        assert "[core %s." % core in version, version


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("command", ["sanity", "units"])
def test_ansible_test_passes_without_ignore_files(command, core):
    assert glob.glob(os.path.join(ROOT, "tests", "sanity", "ignore-*.txt")) == []
    result = subprocess.run([os.path.join(ROOT, "tools", "ansible_test"), "--core", core, command],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert result.returncode == 0, result.stdout[-8000:]


@pytest.fixture
def small_lab(docker_engine):  # pylint: disable=unused-argument
    lab = start_lab("pgsql", 0, messages=200)
    lab.run("inventory")
    yield lab
    stop_lab(lab)


def test_newest_core_migrates_the_lab_from_the_tarball(small_lab, tmp_path):
    """The Galaxy tarball installed into an empty collections path, then `ansible-playbook wabiz.migration.option3`
    with the newest ansible-core's controller (its own Python); the lab's hosts keep the suite's interpreter, as
    managed nodes do. (The oldest core runs every other test, the AWX runs by FQCN among them.)"""
    venv = venv_of(CORES[-1])
    galaxy = os.path.join(venv, "bin", "ansible-galaxy")
    subprocess.run([galaxy, "collection", "build", "--output-path", str(tmp_path), ROOT], stdout=subprocess.PIPE,
                   check=True)
    tarball = glob.glob(str(tmp_path / "wabiz-migration-*.tar.gz"))[0]
    path = tmp_path / "collections"
    subprocess.run([galaxy, "collection", "install", "-p", str(path), tarball], stdout=subprocess.PIPE, check=True)
    rc, output = ansible_playbook("wabiz.migration.option3", os.path.join(small_lab.workdir, "inventory.yml"),
                                  venv=venv, env={"ANSIBLE_COLLECTIONS_PATH": str(path)})
    assert rc == 0, output[-5000:]
    assert "[DEPRECATION WARNING]" not in output, output  # what the next ansible-core would break
    with open(os.path.join(small_lab.workdir, "runs", "old-setup__new-setup-report.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    assert report["downtime_seconds"] > 0 and report["migration"]["option"] == "3"
