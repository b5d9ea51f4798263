"""What the suites share to drive the lab (real databases, real Docker engine) and ansible-playbook."""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAB = os.path.join(ROOT, "tests", "lab", "lab.py")

# The checkout as ansible_collections/wabiz/migration, for imports, ansible-playbook and ansible-test.
COLLECTIONS = tempfile.mkdtemp(prefix="wabiz-collections-", dir="/var/tmp")
os.makedirs(os.path.join(COLLECTIONS, "ansible_collections", "wabiz"))
os.symlink(ROOT, os.path.join(COLLECTIONS, "ansible_collections", "wabiz", "migration"))
atexit.register(shutil.rmtree, COLLECTIONS, True)
# and the community collections tools/bootstrap extracted from the ansible package
COLLECTIONS_PATH = "%s:%s" % (COLLECTIONS, os.path.join(ROOT, ".collections"))
sys.path[:0] = [os.path.join(ROOT, "tests", "lab"), os.path.join(ROOT, "tests", "emulator"), COLLECTIONS,
                os.path.join(ROOT, "bench")]

# (engine, shards): shards 0 is a single instance, 2 a multiconnect setup with 2 shards.
TOPOLOGIES = [("mysql", 0), ("mysql", 2), ("pgsql", 0), ("pgsql", 2)]
# Below Linux's ephemeral range (32768 and up): a listening port there can be taken at random by the source
# port of any outgoing connection. A lab spans two blocks of 1000 ports.
PORT_BASES = range(10000, 30001, 2000)


class Lab:
    """One `tests/lab/lab` work directory, driven through its command line as a user would."""

    def __init__(self, workdir, name):
        self.workdir = workdir
        self.name = name

    def run(self, *args, check=True):
        result = subprocess.run([sys.executable, LAB] + list(args) + ["--workdir", self.workdir],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        if check and result.returncode != 0:
            raise AssertionError("lab %s failed:\n%s" % (" ".join(args), result.stdout))
        return result

    @property
    def state(self):
        with open(os.path.join(self.workdir, "lab.json"), encoding="utf-8") as handle:
            return json.load(handle)

    def setup(self, name):
        return self.state["setups"][name]

    def client(self, name, login=True):
        from lablib.api import Client
        setup = self.setup(name)
        api = Client(setup["url"], setup["ca_path"])
        if login:
            api.login("admin", self.state["admin_password"])
        return api

    def server(self, name):
        """The setup's database server as the collection's module_utils see it (root over 127.0.0.1)."""
        from ansible_collections.wabiz.migration.plugins.module_utils._db import Server
        setup = self.setup(name)
        return Server(setup["engine"], "127.0.0.1", setup["db_port"], "root", setup["db_password"])

    def compose(self, name, *args):
        setup = self.setup(name)
        return subprocess.run(["docker-compose", "-p", setup["project"], "-f",
                               os.path.join(setup["compose_dir"], "docker-compose.yml")] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True).stdout

    def container_ids(self, name):
        """{container id (12 chars): service name} of a setup's running containers."""
        out = subprocess.run(["docker", "ps", "--no-trunc", "--filter", "label=com.docker.compose.project=%s"
                              % self.setup(name)["project"], "--format",
                              "{{.ID}} {{.Label \"com.docker.compose.service\"}}"],
                             stdout=subprocess.PIPE, text=True, check=True).stdout.split("\n")
        return {line.split()[0][:12]: line.split()[1] for line in out if line.strip()}

    def db(self, name, dbname=None):
        from lablib import dbserver
        setup = self.setup(name)
        return dbserver.connect(setup["engine"], setup["db_port"], setup["db_password"], dbname)


def free_port_base():
    """The next port base whose web and database ports nobody else uses on this machine."""
    from lablib import dbserver
    for base in PORT_BASES:
        if not any(dbserver.port_open(base + offset + port) for offset in (0, 1000) for port in (306, 432, 443, 500)):
            return base
    raise AssertionError("no free port base")


def start_lab(engine, shards, messages=300):
    workdir = tempfile.mkdtemp(prefix="wabiz-test-", dir="/var/tmp")
    name = "t%s" % os.path.basename(workdir).rsplit("-", 1)[-1].lower()
    lab = Lab(workdir, name)
    result = lab.run("up", "--engine", engine, "--shards", str(shards), "--port-base", str(free_port_base()),
                     "--name", name, check=False)
    if result.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        raise AssertionError("lab up failed:\n%s" % result.stdout)
    if messages:
        lab.run("seed", "--messages", str(messages), "--size", "400")
    return lab


def stop_lab(lab):
    lab.run("down", check=False)
    shutil.rmtree(lab.workdir, ignore_errors=True)


def lab_fixture(topologies, messages=300):
    """A module-scoped fixture with one seeded lab per (engine, shards), shared by a module's tests."""
    ids = ["%s-%s" % (e, "single" if s == 0 else "%dshards" % s) for e, s in topologies]

    @pytest.fixture(scope="module", params=topologies, ids=ids, name="lab")
    def fixture(request, docker_engine):  # pylint: disable=unused-argument
        instance = start_lab(*request.param, messages=messages)
        yield instance
        stop_lab(instance)
    return fixture


def ansible_playbook(playbook, inventory, *args, env=None):
    """Run ansible-playbook from the venv with this checkout as wabiz.migration; returns (rc, output)."""
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory, playbook] + list(args)
    environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH, ANSIBLE_FORCE_COLOR="0",
                       ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0")
    environment.update(env or {})
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment,
                            check=False)
    return result.returncode, result.stdout


def known_secrets(lab_instance):
    """Every secret the lab made, for the scans that prove none leaked."""
    state = lab_instance.state
    values = [state["admin_password"], state["backup_password"], state["pin"], state["api_user_password"],
              state["api_user_token"]] + [s["db_password"] for s in state["setups"].values()]
    return [v for v in values if v]
