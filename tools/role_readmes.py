"""Writes roles/<role>/README.md from the role's meta/argument_specs.yml, so the two cannot disagree.

python3 tools/role_readmes.py          rewrite every role's README.md
python3 tools/role_readmes.py --check  exit 1 naming the README.md files that are out of date (the suite runs it)
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


def option_rows(options, prefix=""):
    for name, spec in sorted(options.items()):
        kind = spec.get("type", "str")
        if kind == "list" and spec.get("elements"):
            kind = "list of %s" % spec["elements"]
        if spec.get("required"):
            default = "required"
        elif "default" in spec:
            default = "`%s`" % yaml.safe_dump(spec["default"], default_flow_style=True).strip().removesuffix("...").strip()
        else:
            default = ""
        description = spec.get("description", "")
        if isinstance(description, list):
            description = " ".join(description)
        if spec.get("choices"):
            description += " One of: %s." % ", ".join("`%s`" % c for c in spec["choices"])
        yield "| `%s%s` | %s | %s | %s |" % (prefix, name, kind, default.replace("|", "\\|"), cell(description))
        if spec.get("options"):
            yield from option_rows(spec["options"], prefix + name + ".")


def render(role, specs):
    lines = ["# Role wabiz.migration.%s" % role, "",
             "<!-- Written by tools/role_readmes.py from meta/argument_specs.yml: edit that file, not this one. -->", ""]
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


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for path in sorted(glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml"))):
        role_dir = os.path.dirname(os.path.dirname(path))
        with open(path, encoding="utf-8") as handle:
            text = render(os.path.basename(role_dir), yaml.safe_load(handle))
        readme = os.path.join(role_dir, "README.md")
        current = open(readme, encoding="utf-8").read() if os.path.exists(readme) else None
        if current != text:
            stale.append(os.path.relpath(readme, ROOT))
            if not check:
                with open(readme, "w", encoding="utf-8") as handle:
                    handle.write(text)
    if check and stale:
        print("out of date (run python3 tools/role_readmes.py): %s" % ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
