"""Molecule scenarios (extensions/molecule): each option between two real hosts, with the idempotence stage."""

import os
import subprocess
import sys

import pytest

from labsupport import COLLECTIONS_PATH, ROOT


@pytest.mark.parametrize("scenario", ["option1", "option2", "option3"])
def test_molecule_scenario(scenario, docker_engine):  # pylint: disable=unused-argument
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
               MOLECULE_COLLECTIONS_PATH=COLLECTIONS_PATH, ANSIBLE_NOCOLOR="1", PY_COLORS="0")
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "molecule"), "test", "-s", scenario],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout[-6000:]
    assert "idempotence" in result.stdout
