# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Molecule scenarios (extensions/molecule): each option between two real hosts, with the idempotence stage."""

import os
import re
import subprocess
import sys

import pytest
import yaml

from labsupport import COLLECTIONS_PATH, ROOT, TOKEN


@pytest.mark.parametrize("scenario", ["option1", "option2", "option3"])
def test_molecule_scenario(scenario, docker_engine):  # pylint: disable=unused-argument
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
               MOLECULE_COLLECTIONS_PATH=COLLECTIONS_PATH, ANSIBLE_NOCOLOR="1", PY_COLORS="0", ANSIBLE_VERBOSITY="3")
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "molecule"), "test", "-s", scenario],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout[-6000:]
    assert "idempotence" in result.stdout
    # The collection's runs (converge and idempotence, at -vvv) show none of the scenario's secrets and no token.
    # The scenario's own set-up (prepare) is left out: it sets those passwords itself.
    secrets = scenario_secrets(scenario)
    runs = collection_runs(result.stdout)
    assert len(runs) == 2 and all(runs), "converge and idempotence output not found"
    for text in runs:
        assert [s for s in secrets if s in text] == [] and not TOKEN.search(text), "a secret in the -vvv output"


def scenario_secrets(scenario):
    with open(os.path.join(ROOT, "extensions", "molecule", scenario, "molecule.yml"), encoding="utf-8") as handle:
        variables = yaml.safe_load(handle)["provisioner"]["inventory"]["group_vars"]["all"]
    return [str(v) for k, v in variables.items() if re.search(r"password|pin$", k)]


def collection_runs(output):
    """The output of the converge and idempotence stages, cut at Molecule's "<scenario> > <stage>] Executing" lines."""
    stages = re.split(r"^.*\S+ (?:>|\u279c) (\w+)\]?:? Executing.*$", output, flags=re.MULTILINE)
    return [text for name, text in zip(stages[1::2], stages[2::2]) if name in ("converge", "idempotence")]
