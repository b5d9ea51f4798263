# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the documentation of every argument spec from the spec, so the two cannot disagree: each role's
README.md from its meta/argument_specs.yml, and the table of the migration's settings in docs/docsite/rst/variables.rst
from playbooks/meta/argument_specs.yml (between the comments ".. settings table" and ".. end of the settings table").

python3 tools/docs_from_specs.py          rewrite them
python3 tools/docs_from_specs.py --check  exit 1 naming the files that are out of date (the suite runs it)
"""

import glob
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def markdown(text):
    """One line, with ansible-doc's C(), V(), O(), I() markup as Markdown code."""
    return re.sub(r"\b[CVOI]\(([^()]*)\)", r"`\1`", " ".join(str(text).split()))


def cell(text):
    return markdown(text).replace("|", "\\|")


def rst(text):
    """One line, with ansible-doc's markup as RST literals and the docs site's pages as references."""
    text = re.sub(r"\b[CVOI]\(([^()]*)\)", r"``\1``", " ".join(str(text).split()))
    return re.sub(r"docs/docsite/rst/(\w+)\.rst", r":ref:`\1 <ansible_collections.wabiz.migration.docsite.\1>`", text)


def option_fields(options, prefix=""):
    """(name, type, default, description) of each option, suboptions after their parent as parent.name."""
    for name, spec in sorted(options.items()):
        kind = spec.get("type", "str")
        if kind == "list" and spec.get("elements"):
            kind = "list of %s" % spec["elements"]
        if spec.get("required"):
            default = "required"
        elif "default" in spec:
            default = "C(%s)" % yaml.safe_dump(spec["default"], default_flow_style=True).strip().removesuffix("...").strip()
        else:
            default = ""
        description = spec.get("description", "")
        if isinstance(description, list):
            description = " ".join(description)
        if spec.get("choices"):
            description += " One of: %s." % ", ".join("C(%s)" % c for c in spec["choices"])
        yield prefix + name, kind, default, description
        if spec.get("options"):
            yield from option_fields(spec["options"], prefix + name + ".")


def option_rows(options):
    """A Markdown table's rows."""
    for name, kind, default, description in option_fields(options):
        yield "| `%s` | %s | %s | %s |" % (name, kind, cell(default), cell(description))


def render(role, specs):
    lines = ["# Role wabiz.migration.%s" % role, "",
             "<!-- Written by tools/docs_from_specs.py from meta/argument_specs.yml: edit that file, not this one. -->", ""]
    for entry, spec in specs["argument_specs"].items():
        lines += ["## Entry point `%s`: %s" % (entry, spec.get("short_description", "")), ""]
        description = spec.get("description", [])
        for paragraph in description if isinstance(description, list) else [description]:
            lines += [markdown(paragraph), ""]
        lines += ["| variable | type | default | meaning |", "|---|---|---|---|"]
        lines += list(option_rows(spec.get("options", {})))
        lines += [""]
    lines += ["The playbooks in `playbooks/` call this role; see `docs/` for the migration as a whole.", ""]
    return "\n".join(lines)


def settings_table(current, specs):
    """docs/docsite/rst/variables.rst with its settings table written anew from the playbooks' settings spec."""
    start, end = ".. settings table\n", ".. end of the settings table\n"
    table = ["", ".. list-table::", "   :header-rows: 1", "   :widths: 22 8 14 56", ""]
    rows = [("variable", "type", "default", "meaning")]
    rows += [("``%s``" % name, kind, rst(default), rst(description))
             for name, kind, default, description in option_fields(specs["argument_specs"]["settings"]["options"])]
    for row in rows:
        table += ["   * - %s" % row[0]] + [("     - %s" % field).rstrip() for field in row[1:]]
    before, rest = current.split(start, 1)
    return before + start + "\n".join(table) + "\n\n" + end + rest.split(end, 1)[1]


def documents():
    """(path, text it must have) for every document written from a spec."""
    for path in sorted(glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml"))):
        role_dir = os.path.dirname(os.path.dirname(path))
        with open(path, encoding="utf-8") as handle:
            yield os.path.join(role_dir, "README.md"), render(os.path.basename(role_dir), yaml.safe_load(handle))
    variables = os.path.join(ROOT, "docs", "docsite", "rst", "variables.rst")
    with open(os.path.join(ROOT, "playbooks", "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        specs = yaml.safe_load(handle)
    with open(variables, encoding="utf-8") as handle:
        yield variables, settings_table(handle.read(), specs)


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for path, text in documents():
        current = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if current != text:
            stale.append(os.path.relpath(path, ROOT))
            if not check:
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(text)
    if check and stale:
        print("out of date (run python3 tools/docs_from_specs.py): %s" % ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
