# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The docs site as antsibull-docs builds it (tools/docsite), read in a real browser."""

import glob
import os
import re
import subprocess

import pytest
import yaml

from labsupport import ROOT, open_in_browser

MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")))
ROLES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "roles", "*")))
OFFLINE = "failed to reach any of the inventories"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    dest = tmp_path_factory.mktemp("docsite") / "site"
    result = subprocess.run([os.path.join(ROOT, "tools", "docsite"), str(dest)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, check=False)
    assert result.returncode == 0, result.stdout[-5000:]
    return dest


def extra_docs():
    with open(os.path.join(ROOT, "docs", "docsite", "extra-docs.yml"), encoding="utf-8") as handle:
        return [page for section in yaml.safe_load(handle)["sections"] for page in section["toctree"]]


def test_every_page_is_built_and_only_offline_references_stay_unresolved(site):
    pages = site / "build" / "html" / "collections" / "wabiz" / "migration"
    expected = ["%s_module.html" % m for m in MODULES] + ["%s_role.html" % r for r in ROLES] + [
        "docsite/%s.html" % page for page in extra_docs()]
    assert [p for p in expected if not (pages / p).exists()] == []
    # Every guide in docs/docsite/rst is in the site's table of contents.
    guides = sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(ROOT, "docs", "docsite", "rst", "*.rst")))
    assert sorted(extra_docs()) == guides
    # The build's warnings: only the intersphinx inventories docs.ansible.com serves (unreachable here) and the
    # references into them; a broken reference of this collection's own would show as a label of its own.
    log = (site / "sphinx.log").read_text()
    warnings = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
    unexpected = [w for w in warnings if OFFLINE not in w and not re.search(
        r"undefined label: '(?!ansible_collections\.wabiz\.migration\.)[^']+'", w)]
    assert unexpected == [], log[-3000:]


def test_index_and_a_module_page_in_a_browser(site, tmp_path):
    html = site / "build" / "html"
    index = open_in_browser(str(html / "collections" / "wabiz" / "migration" / "index.html"), str(tmp_path / "i.png"))
    assert "Wabiz.Migration" in index or "wabiz.migration" in index.lower()
    for module in MODULES:
        assert module in index, module
    for title in ("Migrating", "Operator", "Troubleshooting", "Verification"):
        assert title.lower() in index.lower(), title
    assert "2.19.0" in index  # requires_ansible, as the site shows it

    page = open_in_browser(str(html / "collections" / "wabiz" / "migration" / "db_sync_module.html"),
                           str(tmp_path / "m.png"))
    for text in ("Bring a copy of a client", "Parameters", "Return Values", "Examples", "See Also",
                 "wabiz.migration.db_dump", "/var/backups/wabiz/sync/manifest.json", "login_password"):
        assert text in page, text

    guide = open_in_browser(str(html / "collections" / "wabiz" / "migration" / "docsite" / "variables.html"),
                            str(tmp_path / "v.png"))
    assert "wabiz_copy_ahead" in guide and "wabiz_backup_password" in guide
