"""Quality gates that users' own CI applies to a collection: ansible-test sanity and ansible-doc."""

import glob
import json
import os
import subprocess
import sys

import pytest

from labsupport import COLLECTIONS, ROOT

MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")))
BIN = os.path.dirname(sys.executable)


def test_sanity_passes_without_ignore_files():
    assert glob.glob(os.path.join(ROOT, "tests", "sanity", "ignore-*.txt")) == []
    result = subprocess.run([os.path.join(ROOT, "tools", "sanity")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout[-8000:]


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders(module):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    name = "wabiz.migration." + module
    text = subprocess.run([os.path.join(BIN, "ansible-doc"), name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, env=env, check=True).stdout
    assert "EXAMPLES:" in text and "RETURN VALUES:" in text and "ATTRIBUTES:" in text, text[:2000]
    doc = json.loads(subprocess.run([os.path.join(BIN, "ansible-doc"), "--json", name], stdout=subprocess.PIPE,
                                    text=True, env=env, check=True).stdout)[name]
    assert doc["doc"]["attributes"]["check_mode"]["support"] in ("full", "partial", "none")
    assert doc["return"] and doc["examples"].strip()
