# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection as users receive it: the Galaxy tarball installed and run by FQCN, the execution environment
definition, and the AWX project (credential type, job templates, surveys) run through ansible-runner."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import jinja2
import pytest
import yaml

from labsupport import COLLECTIONS_PATH, ROOT, databases, leaks, start_lab, stop_lab

BIN = os.path.dirname(sys.executable)
AWX = os.path.join(ROOT, "awx")
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}


class AwxLoader(yaml.SafeLoader):
    """Reads the awx/controller files as include_vars does: !unsafe marks the injectors' templates."""


AwxLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def awx_definitions():
    definitions = {}
    for path in sorted(glob.glob(os.path.join(AWX, "controller", "*.yml"))):
        with open(path, encoding="utf-8") as handle:
            definitions.update(yaml.load(handle, Loader=AwxLoader))  # nosec: a SafeLoader subclass
    return definitions


def module_options(name):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH)
    out = subprocess.run([os.path.join(BIN, "ansible-doc"), "--json", name], stdout=subprocess.PIPE, text=True,
                         env=env, check=True).stdout
    return set(json.loads(out)[name]["doc"]["options"])


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`ansible-galaxy collection build`, then `install` of the tarball into an empty collections path."""
    base = tmp_path_factory.mktemp("galaxy")
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(base), ROOT],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True)
    tarball = glob.glob(str(base / "wabiz-migration-*.tar.gz"))[0]
    path = base / "collections"
    subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "-p", str(path), tarball],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True)
    return {"tarball": tarball, "path": str(path)}


def test_tarball_holds_the_collection_only(installed):
    with tarfile.open(installed["tarball"]) as tar:
        names = tar.getnames()
    tops = {name.split("/")[0] for name in names}
    assert {"plugins", "roles", "playbooks", "meta", "docs", "README.md", "bindep.txt", "changelogs"} <= tops
    assert not tops & {"tests", "tools", "awx", "bench", ".ci", ".venv", ".collections"}, tops
    assert "extensions/molecule" not in "\n".join(names)
    assert not [n for n in names if n.endswith((".sql", ".backup", ".pyc")) or "__pycache__" in n]


def test_galaxy_importer_accepts_the_tarball(installed, tmp_path):
    """What Galaxy and Automation Hub run at upload (ansible-doc, ansible-lint, the changelog, the README), with
    Automation Hub's demands: version 1.0.0 or later and tags from its list."""
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"], GALAXY_IMPORTER_REQUIRE_V1_OR_GREATER="true",
               GALAXY_IMPORTER_CHECK_REQUIRED_TAGS="true", GALAXY_IMPORTER_TMP_ROOT_DIR=str(tmp_path))
    # It writes importer_result.json into its working directory.
    result = subprocess.run([sys.executable, "-m", "galaxy_importer.main", installed["tarball"]], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, check=False)
    assert result.returncode == 0, result.stdout[-5000:]
    messages = [line for line in result.stdout.splitlines() if not line.startswith("{")]
    assert "Importer processing completed successfully" in messages, result.stdout[-5000:]
    assert [m for m in messages if re.search(r"warn|error", m, re.I)] == []


def test_execution_environment_context_and_introspection(installed, tmp_path):
    context = tmp_path / "context"
    result = subprocess.run([os.path.join(BIN, "ansible-builder"), "create", "-f",
                             os.path.join(AWX, "execution-environment.yml"), "-c", str(context)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert result.returncode == 0, result.stdout
    containerfile = next(p for p in (context / "Containerfile", context / "Dockerfile") if p.exists()).read_text()
    assert "assemble" in containerfile and "python3.12" in containerfile
    assert "wabiz.migration" in (context / "_build" / "requirements.yml").read_text()
    # What ansible-builder adds for the installed collection: nothing. The EE is the controller side; the
    # managed hosts' drivers and tools (requirements.txt, bindep.txt) stay out of it.
    deps = subprocess.run([os.path.join(BIN, "ansible-builder"), "introspect", "--sanitize", installed["path"]],
                          stdout=subprocess.PIPE, text=True, check=True).stdout
    for host_only in ("PyMySQL", "psycopg2", "mariadb", "postgresql", "mydumper", "docker"):
        assert host_only not in deps, deps
    # ... and the controller side indeed imports nothing but ansible-core and the standard library.
    imported = set()
    for path in glob.glob(os.path.join(ROOT, "plugins", "action", "*.py")) + glob.glob(
            os.path.join(ROOT, "plugins", "filter", "*.py")):
        with open(path, encoding="utf-8") as handle:
            imported |= set(re.findall(r"^(?:from|import) (\w+)", handle.read(), re.M))
    assert imported - {"ansible", "ansible_collections", "__future__"} <= set(sys.stdlib_module_names), imported


def controller_tasks():
    """(module, args) of each task of awx/configure_controller.yml."""
    with open(os.path.join(AWX, "configure_controller.yml"), encoding="utf-8") as handle:
        play = yaml.safe_load(handle)[0]
    for task in play["tasks"]:
        module = [k for k in task if "." in k][0]
        yield module, task[module]


def test_awx_definitions_fit_the_awx_modules_and_the_playbooks():
    definitions = awx_definitions()
    for module, args in controller_tasks():
        if module.startswith("awx.awx."):
            assert set(args) <= module_options(module), module
    injected = {}
    credential_type_options = module_options("awx.awx.credential_type")
    for credential_type in definitions["wabiz_credential_types"]:
        assert set(credential_type) <= credential_type_options and credential_type["kind"] == "cloud"
        fields = {f["id"]: f for f in credential_type["inputs"]["fields"]}
        assert set(credential_type["inputs"]["required"]) <= set(fields)
        assert all(fields[f].get("secret") for f in fields if "password" in f)
        for name, template in credential_type["injectors"]["env"].items():
            assert name.startswith(("WA_API_", "WA_DB_")) and name not in injected, name
            assert re.fullmatch(r"\{\{ (\w+) \}\}", template).group(1) in fields
            injected[name] = credential_type["name"]
    # One type per setup, so that a job takes both credentials (AWX attaches one credential of each type).
    assert {n for n in injected if "NEW" in n} == {n for n, t in injected.items() if "new setup" in t}
    assert {n for n in injected if "OLD" in n or "BACKUP" in n} == {n for n, t in injected.items() if "old setup" in t}
    # Every injected variable is documented where the playbooks' fallbacks are (the runner runs below show that
    # the playbooks read them: their inventory holds no password).
    with open(os.path.join(ROOT, "docs", "docsite", "rst", "variables.rst"), encoding="utf-8") as handle:
        variables_doc = handle.read()
    assert [name for name in injected if "``%s``" % name not in variables_doc] == []

    with open(os.path.join(ROOT, "playbooks", "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        settings = yaml.safe_load(handle)["argument_specs"]["settings"]["options"]
    job_template_options = module_options("awx.awx.job_template")
    playbooks = set()
    for template in definitions["wabiz_job_templates"]:
        assert set(template) <= job_template_options, template["name"]
        assert template["ask_job_type_on_launch"] and template["job_type"] == "run"  # "Check" at launch
        assert os.path.exists(os.path.join(AWX, template["playbook"]))
        playbooks.add(template["playbook"])
        for question in template.get("survey_spec", {}).get("spec", []):
            assert question["type"] in SURVEY_TYPES and question["variable"] in settings, question
            assert {"question_name", "variable", "type", "required"} <= set(question)
            if question["variable"] == "wabiz_twostep_pin":
                assert question["type"] == "password"
    wrappers = {os.path.basename(p) for p in glob.glob(os.path.join(AWX, "*.yml"))} - {
        "configure_controller.yml", "execution-environment.yml"}
    assert playbooks == wrappers
    # The playbooks name the rollback's job template in AWX jobs: it must be one of these.
    with open(os.path.join(ROOT, "playbooks", "tasks", "step.yml"), encoding="utf-8") as handle:
        named = re.findall(r'job template "([^"]+)"', handle.read())
    assert named and set(named) <= {t["name"] for t in definitions["wabiz_job_templates"]}


@pytest.fixture
def lab_for(request, docker_engine):  # pylint: disable=unused-argument
    instance = start_lab(*request.param, messages=200)
    instance.run("inventory")
    yield instance
    stop_lab(instance)


SECRET_HOST_VARS = ("wa_api_username", "wa_api_password", "wa_db_password")
SURVEYED = ("wabiz_backup_password", "wabiz_test_recipient", "wabiz_twostep_pin", "wabiz_twostep_disable",
            "wabiz_webhook_url", "wa_backup_password", "wa_twostep_pin")


def private_data_dir(lab, installed, option, base):
    """What AWX hands ansible-runner for a job: the project, an inventory without secrets, the credential's
    injected environment, and survey answers plus the job template's extra vars."""
    definitions = awx_definitions()
    state = lab.state
    shutil.copytree(AWX, base / "project")
    with open(os.path.join(lab.workdir, "inventory.yml"), encoding="utf-8") as handle:
        inventory = json.load(handle)
    for group in inventory["all"]["children"].values():
        for host in group["hosts"].values():
            for key in SECRET_HOST_VARS:
                host.pop(key)
    for key in SURVEYED:
        inventory["all"]["vars"].pop(key)
    (base / "inventory").mkdir()
    (base / "inventory" / "lab.yml").write_text(json.dumps(inventory))

    # The old setup's and the new setup's credential, each of its own type, as one job takes them.
    setups = state["setups"]
    credentials = {"old": {"api_username": "admin", "api_password": state["admin_password"],
                           "db_password": setups["old"]["db_password"], "backup_password": state["backup_password"]},
                   "new": {"api_username": "admin", "api_password": state["admin_password"],
                           "db_password": setups["new"]["db_password"]}}
    envvars = {}
    for credential_type in definitions["wabiz_credential_types"]:
        inputs = credentials["old" if "old setup" in credential_type["name"] else "new"]
        envvars.update({name: jinja2.Template(template).render(inputs)
                        for name, template in credential_type["injectors"]["env"].items()})
    envvars["ANSIBLE_COLLECTIONS_PATH"] = installed["path"]  # where AWX puts the project's collections
    template = next(t for t in definitions["wabiz_job_templates"] if t["playbook"] == "option%d.yml" % option)
    answers = {"wabiz_test_recipient": "+4915100000001", "wabiz_twostep_disable": "true",
               "wabiz_twostep_pin": state["pin"], "wabiz_old_webhook_disable": "false",
               "wabiz_webhook_url": state["webhook_url"], "wabiz_database_stays": "false",
               "wabiz_token_min_validity": 86400, "wabiz_lock_release": ""}
    extravars = {q["variable"]: answers[q["variable"]] for q in template["survey_spec"]["spec"]}
    extravars["wabiz_work_dir"] = os.path.join(lab.workdir, "runs")  # the job template's, on a kept path
    (base / "env").mkdir()
    (base / "env" / "envvars").write_text(json.dumps(envvars))
    (base / "env" / "extravars").write_text(json.dumps(extravars))
    return template["playbook"]


# The AWX path (credentials' environment, survey answers, artifacts) does not depend on the option: the first
# and the last option's templates, on both topologies; option 2 runs on both engines in test_options.py.
@pytest.mark.parametrize("option, lab_for", [(1, ("mysql", 0)), (3, ("pgsql", 2))],
                         indirect=["lab_for"], ids=["option1-mysql", "option3-pgsql-2shards"])
def test_ansible_runner_runs_each_option_like_awx(installed, lab_for, option, tmp_path):
    lab = lab_for
    playbook = private_data_dir(lab, installed, option, tmp_path)
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"])
    if option == 3:
        # Launched first with the job type "Check", as an operator rehearses: AWX runs the playbook with --check.
        result = subprocess.run([os.path.join(BIN, "ansible-runner"), "run", str(tmp_path), "-p", playbook,
                                 "--ident", "check", "--cmdline=--check"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env, check=False)
        assert (tmp_path / "artifacts" / "check" / "status").read_text() == "successful", result.stdout[-5000:]
        output = (tmp_path / "artifacts" / "check" / "stdout").read_text()
        assert "DOWNTIME" in output and "stop_old" in output, output[-3000:]  # the plan
        assert databases(lab, "new") == [] and lab.client("old").request("GET", "/v1/health").status_code == 200
        (tmp_path / "env" / "cmdline").unlink()  # ansible-runner keeps --cmdline for later runs; the job is a run
    result = subprocess.run([os.path.join(BIN, "ansible-runner"), "run", str(tmp_path), "-p", playbook,
                             "--ident", "job", "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, check=False)
    artifacts = tmp_path / "artifacts" / "job"
    assert (artifacts / "status").read_text() == "successful", result.stdout[-5000:]

    with open(os.path.join(lab.workdir, "runs", "old-setup__new-setup-report.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    assert int(report["migration"]["option"]) == option and report["downtime_seconds"] > 0
    if option == 3:  # the old API user's token works on the new client
        assert lab.client("new", login=False).request(
            "GET", "/v1/health", token=lab.state["api_user_token"]).status_code == 200

    # What AWX would keep and show: job output and events hold no secret of the credential or the survey.
    found = []
    for path in [artifacts / "stdout"] + sorted((artifacts / "job_events").glob("*.json")):
        found += ["%s: %s" % (path.name, hit) for hit in leaks(lab, path.read_text())]
    assert found == []
