# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Quality gates that users' own CI applies to a collection: ansible-lint, changelog, ansible-doc (ansible-test:
test_cores.py)."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from labsupport import COLLECTIONS, ROOT

MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")))
BIN = os.path.dirname(sys.executable)


def run_tool(*argv):
    return subprocess.run([os.path.join(ROOT, "tools", argv[0])] + list(argv[1:]), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=False)


def test_ansible_lint_production_profile_and_changelog():
    with open(os.path.join(ROOT, ".ansible-lint"), encoding="utf-8") as handle:
        config = handle.read()
    assert "profile: production" in config and "skip_list" not in config and "warn_list" not in config
    result = run_tool("lint")
    assert result.returncode == 0, result.stdout[-8000:]
    assert "Profile 'production' was required, and it passed" in result.stdout, result.stdout[-3000:]


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
    # What a user reads of a result has a sample; related modules and guides are linked.
    assert [key for key, spec in doc["return"].items() if "sample" not in spec] == []
    assert doc["doc"]["seealso"] and doc["doc"]["version_added"] in known_versions()


def known_versions():
    """The released versions and galaxy.yml's (the one in development, or the last release)."""
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        version = yaml.safe_load(handle)["version"]
    with open(os.path.join(ROOT, "changelogs", "changelog.yaml"), encoding="utf-8") as handle:
        return set(yaml.safe_load(handle)["releases"]) | {version}


def test_docs_written_from_the_argument_specs():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "docs_from_specs.py"), "--check"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_license_text_and_spdx_headers():
    with open(os.path.join(ROOT, "COPYING"), encoding="utf-8") as handle:
        assert "GNU GENERAL PUBLIC LICENSE" in handle.read(2000)
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    sources = [f for f in files if f.endswith((".py", ".yml", ".yaml")) and not f.startswith("changelogs/")]
    scripts = [f for f in files if "." not in os.path.basename(f)]
    missing = []
    for name in sources + scripts:
        with open(os.path.join(ROOT, name), encoding="utf-8", errors="replace") as handle:
            head = handle.read(600)
        if (name in sources or head.startswith("#!")) and "SPDX-License-Identifier: GPL-3.0-or-later" not in head:
            missing.append(name)
    assert missing == []


def test_changelog_released_for_the_galaxy_version(tmp_path):
    """galaxy.yml's version is either the last release of changelogs/changelog.yaml, and then no fragment waits,
    or the next one in development, newer than every release, whose fragments antsibull-changelog accepts;
    CHANGELOG.md and CHANGELOG.rst are what antsibull-changelog generates from the releases."""
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        version = yaml.safe_load(handle)["version"]
    with open(os.path.join(ROOT, "changelogs", "changelog.yaml"), encoding="utf-8") as handle:
        releases = yaml.safe_load(handle)["releases"]
    fragments = [f for f in os.listdir(os.path.join(ROOT, "changelogs", "fragments")) if f.endswith(".yml")]
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"], ANSIBLE_COLLECTIONS_PATH=COLLECTIONS)
    if version in releases:
        assert releases[version]["changes"]["release_summary"]
        assert fragments == []
    else:
        def key(text):
            return tuple(int(part) for part in text.split("."))
        assert all(key(version) > key(released) for released in releases), (version, sorted(releases))
        assert fragments, "a version in development has fragments that say what changed"
        lint = subprocess.run([os.path.join(BIN, "antsibull-changelog"), "lint"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        assert lint.returncode == 0 and not lint.stdout.strip(), lint.stdout
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv*", ".git", ".collections", "__pycache__"))
    subprocess.run([os.path.join(BIN, "antsibull-changelog"), "generate"], cwd=copy, env=env, check=True)
    for name in ("CHANGELOG.md", "CHANGELOG.rst"):
        with open(os.path.join(ROOT, name), encoding="utf-8") as ours, open(copy / name, encoding="utf-8") as fresh:
            assert ours.read() == fresh.read(), name


def test_readme_reads_as_a_collection_readme():
    """The two newcomer commands first; the sections of the collection README template; every relative link
    resolves inside the repository (none reaches outside it)."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    first_block = readme.split("```")[1]
    assert [line.split()[0] for line in first_block.splitlines()[1:] if line.strip()] == ["tools/demo", "tools/test"]
    for section in ("Description", "Requirements", "Installation", "Use", "Documentation", "Testing",
                    "Contributing and support", "Release notes", "License"):
        assert "\n## %s\n" % section in readme, section
    with open(os.path.join(ROOT, "CONTRIBUTING.md"), encoding="utf-8") as handle:
        contributing = handle.read()
    for target in re.findall(r"\]\(([^)#]+)", readme + contributing):
        if "://" in target:
            continue
        path = os.path.normpath(os.path.join(ROOT, target))
        assert path.startswith(ROOT + os.sep) and os.path.exists(path), target


# The Kubernetes and ECS task files of the tasks runtime cannot run here (no cluster, no AWS): their calls are held
# against the modules' own documentation, and the files through ansible-playbook's syntax check with the real
# collections installed (kubernetes.core, community.aws, from the ansible wheel).
RUNTIME_FILES = sorted(glob.glob(os.path.join(ROOT, "playbooks", "runtimes", "*", "*.yml")))
TASK_KEYWORDS = {"name", "vars", "loop", "loop_control", "register", "delegate_to", "until", "retries", "delay", "when",
                 "changed_when", "check_mode"}


def module_options(module):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"))
    doc = json.loads(subprocess.run([os.path.join(BIN, "ansible-doc"), "--json", module], stdout=subprocess.PIPE,
                                    text=True, env=env, check=True).stdout)
    assert module in doc, "%s is not installed" % module
    return doc[module]["doc"]["options"]


@pytest.mark.parametrize("path", RUNTIME_FILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_runtime_task_files_call_their_modules_as_documented(path):
    with open(path, encoding="utf-8") as handle:
        tasks = yaml.safe_load(handle)
    assert any(t.get("ansible.builtin.set_fact", {}).get("wabiz_client_running") for t in tasks) == \
        path.endswith("status.yml"), "only the status tasks set wabiz_client_running"
    for task in tasks:
        (module, args), = [(k, v) for k, v in task.items() if k not in TASK_KEYWORDS]
        if module == "ansible.builtin.set_fact":  # its arguments are the facts it sets
            continue
        options = module_options(module)
        assert set(args) <= set(options), (task["name"], sorted(set(args) - set(options)))
        required = {name for name, spec in options.items() if spec.get("required")}
        assert required <= set(args), (task["name"], sorted(required - set(args)))
        for name, value in args.items():
            if options[name].get("choices") and isinstance(value, str) and "{{" not in value:
                assert value in options[name]["choices"], (task["name"], name, value)


def test_runtime_task_files_pass_a_syntax_check(tmp_path):
    playbook = tmp_path / "runtimes.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Every runtime task file", "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": os.path.relpath(p, ROOT), "ansible.builtin.import_tasks": p} for p in RUNTIME_FILES]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"))
    result = subprocess.run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", str(playbook)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, check=False)
    assert result.returncode == 0, result.stdout[-3000:]
