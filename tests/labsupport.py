# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the suites share to drive the lab (real databases, real Docker engine) and ansible-playbook."""

import atexit
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

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
# port of any outgoing connection. A lab spans two blocks of 1000 ports. Parallel pytest-xdist workers take
# every n-th base, so two workers never reach for the same ports at the same moment.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:])
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
PORT_BASES = list(range(10000, 30001, 2000))[_WORKER::_WORKERS]


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
        tls = {"ssl_mode": "verify-full", "ca_cert": os.path.join(setup["tls_dir"], "ca.pem")} \
            if setup.get("tls_dir") else None
        return Server(setup["engine"], "127.0.0.1", setup["db_port"], "root", setup["db_password"], tls=tls)

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
        return dbserver.connect(setup["engine"], setup["db_port"], setup["db_password"], dbname, setup.get("tls_dir"))


def free_port_base():
    """The next port base whose web and database ports nobody else uses on this machine."""
    from lablib import dbserver
    for base in PORT_BASES:
        if not any(dbserver.port_open(base + offset + port) for offset in (0, 1000) for port in (306, 432, 443, 500)):
            return base
    raise AssertionError("no free port base")


class Traffic:
    """Messages sent to a client one after another until stop(), or until it stops answering (its containers
    stopped): the live load that a copy ahead must carry over in full. ``accepted`` holds the message ids."""

    def __init__(self, lab, name="old", pause=0.0):
        self.api = lab.client(name)
        self.pause = pause
        self.accepted = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        import requests
        count = 0
        while not self._stopped.is_set():
            count += 1
            try:
                body = {"to": "49151%08d" % (count % 10), "type": "text", "text": {"body": "live message %d" % count}}
                reply = self.api.request("POST", "/v1/messages", body)
            except requests.RequestException:
                return  # the client stopped
            if reply.status_code == 201:
                self.accepted.append(reply.json()["messages"][0]["id"])
            elif reply.status_code >= 500:
                return
            self._stopped.wait(self.pause)

    def stop(self):
        self._stopped.set()
        self._thread.join(60)
        return self.accepted


STALE_LAB_PROJECT = re.compile(r"^t([a-z0-9_]+)-(old|new)$")  # a test lab's compose projects: start_lab's names
_swept = []


def sweep_stale_labs():
    """Removes the client containers and volumes of test labs whose work directory is gone: a run killed before
    its teardown leaves them, and their restart policy brings them back, crash-looping, with every start of the
    Docker engine, beside the next run's labs and benchmarks. Once per process."""
    if _swept:
        return
    _swept.append(True)
    listed = subprocess.run(["docker", "ps", "-a", "--format", '{{.ID}} {{.Label "com.docker.compose.project"}}'],
                            stdout=subprocess.PIPE, text=True, check=False).stdout
    stale = set()
    for line in listed.splitlines():
        container, dummy, project = line.partition(" ")
        match = STALE_LAB_PROJECT.match(project)
        if match and not os.path.isdir("/var/tmp/wabiz-test-" + match.group(1)):
            stale.add((container, project))
    if not stale:
        return
    subprocess.run(["docker", "rm", "-f", "-v"] + [c for c, p in stale], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    volumes = subprocess.run(["docker", "volume", "ls", "-q"], stdout=subprocess.PIPE, text=True,
                             check=False).stdout.split()
    projects = set(p for c, p in stale)
    doomed = [v for v in volumes if any(v.startswith(p + "_") for p in projects)]
    if doomed:
        subprocess.run(["docker", "volume", "rm"] + doomed, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)


def start_lab(engine, shards, messages=300, tls=False, managed=False, db_prefix=""):
    sweep_stale_labs()
    workdir = tempfile.mkdtemp(prefix="wabiz-test-", dir="/var/tmp")
    name = "t%s" % os.path.basename(workdir).rsplit("-", 1)[-1].lower()
    lab = Lab(workdir, name)
    result = lab.run("up", "--engine", engine, "--shards", str(shards), "--port-base", str(free_port_base()),
                     "--name", name, "--db-prefix", db_prefix, *(["--tls"] if tls else []),
                     *(["--managed"] if managed else []), check=False)
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


def run_tmpdir(inventory):
    """The temporary directory of the runs against one lab (beside its inventory), where the database modules
    keep their credential files while they work: a test sees what its own runs left, not another worker's."""
    path = os.path.join(os.path.dirname(os.path.abspath(inventory)), "tmp")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def ansible_playbook(playbook, inventory, *args, env=None, venv=None):
    """Run ansible-playbook from the venv (the suite's, or another ansible-core's) with this checkout as
    wabiz.migration; returns (rc, output)."""
    bin_dir = os.path.join(venv, "bin") if venv else os.path.dirname(sys.executable)
    command = [os.path.join(bin_dir, "ansible-playbook"), "-i", inventory, playbook] + list(args)
    environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH, ANSIBLE_FORCE_COLOR="0",
                       ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0",
                       TMPDIR=run_tmpdir(inventory))
    environment.update(env or {})
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment,
                            check=False)
    return result.returncode, result.stdout


def inventory_with(lab, name, new_host_vars):
    """The lab's inventory with the new host's variables changed, written beside it as inventory-<name>.yml."""
    with open(os.path.join(lab.workdir, "inventory.yml"), encoding="utf-8") as handle:
        inventory = json.load(handle)
    inventory["all"]["children"]["new"]["hosts"]["new-setup"].update(new_host_vars)
    path = os.path.join(lab.workdir, "inventory-%s.yml" % name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
        json.dump(inventory, handle)
    return path


def databases(lab, name):
    """The client's databases on a setup's server (by the lab's prefix)."""
    srv = lab.server(name)
    try:
        return srv.select(lab.setup(name)["db_prefix"])
    finally:
        srv.close()


def rows(lab, name, dbname, table):
    srv = lab.server(name)
    try:
        if srv.engine == "mysql":
            return set(srv.query("SELECT * FROM %s.%s" % (srv.quote(dbname), table)))
        return set(srv.query("SELECT * FROM %s" % table, dbname=dbname))
    finally:
        srv.close()


def checksums(lab, name, prefix=None):
    """Per client database (the setup's prefix, or ``prefix``) and table: exact rows and content checksum (sizes
    are statistics, left out)."""
    from ansible_collections.wabiz.migration.plugins.module_utils._db import inventory_of
    srv = lab.server(name)
    prefix = lab.setup(name)["db_prefix"] if prefix is None else prefix
    try:
        return {d: i["tables"] for d, i in inventory_of(srv, srv.select(prefix), True).items()}
    finally:
        srv.close()


def messages(lab, name):
    """Every message row of a setup, by database (the shards' wamessages_N)."""
    prefix = lab.setup("old")["db_prefix"]
    return {d: rows(lab, name, d, "messages") for d in databases(lab, name) if d.startswith(prefix + "wamessages_")}


def journal_of(lab):
    """The migration's journal as the playbooks write it, or None."""
    try:
        with open(os.path.join(lab.workdir, "runs", "old-setup__new-setup.json"), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def lock_path(lab, side="old"):
    """The lock of a setup as the playbooks take it, on its host (the lab's backup directory of that setup)."""
    return os.path.join(lab.workdir, side, "backups", "wabiz-migration-%s.lock" % lab.setup(side)["project"])


def step_state(lab, step):
    """None (not begun), "begun" or "done"."""
    journal = journal_of(lab)
    if not journal or step not in journal["steps"]:
        return None
    return "done" if journal["steps"][step].get("finished") is not None else "begun"


CONTAINER = ["unshare", "--pid", "--fork", "--mount-proc"]


class BackgroundPlaybook:
    """ansible-playbook running in its own session, so a test can act at a moment of the journal or kill it."""

    def __init__(self, lab, playbook, *args, inventory=None, container=False):
        self.output_path = tempfile.mkstemp(prefix="run-", suffix=".log", dir=lab.workdir)[1]
        inventory = inventory or os.path.join(lab.workdir, "inventory.yml")
        self.tmpdir = run_tmpdir(inventory)
        # ``container``: in a PID namespace of its own, as an AWX job's container is (another controller, as far
        # as any other run can see: its processes are invisible from outside).
        command = (CONTAINER if container else []) + [
            os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
            os.path.join(ROOT, "playbooks", playbook)] + list(args)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_PATH, ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORCE_COLOR="0", ANSIBLE_RETRY_FILES_ENABLED="0", TMPDIR=run_tmpdir(inventory))
        with open(self.output_path, "wb") as output:
            self.proc = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)

    def wait_until(self, predicate, what, timeout=180):
        deadline = time.time() + timeout
        while not predicate():
            assert self.proc.poll() is None, "the run ended before %s:\n%s" % (what, self.output()[-3000:])
            assert time.time() < deadline, "%s never came" % what
            time.sleep(0.02)

    def kill(self, crash=False):
        """SIGKILL to ansible-playbook, mid-whatever it does.

        Its workers live in sessions of their own (ansible-core detaches them), so they finish the task at hand
        as orphans, as a remote module outlives a dead controller. With ``crash``, they die too, with every
        module and tool they started: the machine went down.
        """
        ended = self.proc.poll()
        if ended is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        assert ended is None, "the run ended by itself (exit %s) before it could be killed" % ended
        while crash and self._descendants():
            for pid in self._descendants():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)

    def _descendants(self):
        """Live processes of this run: they carry its TMPDIR in their environment."""
        from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import process_runs
        marker = ("TMPDIR=%s" % self.tmpdir).encode()
        found = []
        for entry in os.listdir("/proc"):
            try:
                with open("/proc/%s/environ" % entry, "rb") as handle:
                    if marker in handle.read().split(b"\0") and process_runs(int(entry)):
                        found.append(int(entry))
            except (OSError, ValueError):
                continue
        return found

    def finish(self, timeout=300):
        """(exit code, output) once the run ends."""
        try:
            return self.proc.wait(timeout), self.output()
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise

    def output(self):
        with open(self.output_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()


class ProcessWatch:
    """Reads every process's command line every 10 ms while a run goes on: what a `ps` would show anyone."""

    TOOLS = ("mysqldump", "mariadb-dump", "mydumper", "myloader", "mysql", "mariadb", "pg_dump", "pg_restore",
             "psql")

    def __init__(self):
        self.command_lines = set()
        self.tools_seen = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _watch(self):
        while not self._stop.wait(0.01):
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % entry, "rb") as handle:
                        argv = handle.read().split(b"\0")
                except OSError:
                    continue
                line = b" ".join(argv).decode("utf-8", "replace").strip()
                if line:
                    self.command_lines.add(line)
                    if os.path.basename(argv[0].decode("utf-8", "replace")) in self.TOOLS:
                        self.tools_seen.add(os.path.basename(argv[0].decode()))


TOKEN = re.compile(r"eyJ[\w-]{10,}\.[\w-]{10,}\.[\w-]{10,}")


def where(text, index):
    """The 300 characters before a leak, to find the task that printed it (the leak itself is not shown)."""
    return text[max(0, index - 300):index].replace("\n", " | ")


def leaks(lab_instance, text, extra=()):
    """Where any secret the lab knows, or any API token, appears in ``text``."""
    found = [where(text, text.index(s)) for s in list(known_secrets(lab_instance)) + list(extra) if s in text]
    return found + [where(text, match.start()) for match in TOKEN.finditer(text)]


def leaks_in_work_dirs(lab_instance):
    """Scan what the migration leaves on disk: journal, report, locks, logs, manifests, settings backups.

    The dump's data files are left out on purpose: they are the old databases themselves (the waweb table of
    tokens among them), kept 0600 in a 0700 directory as the backup the operator asked for; so are those of
    the databases the sync copied whole, and, after a rollback, the new databases' dump and those the carry-back
    copied whole.
    """
    found = []
    for top in [os.path.join(lab_instance.workdir, "runs")] + [
            os.path.join(lab_instance.workdir, side, "backups") for side in ("old", "new")]:
        for directory, _subdirs, files in os.walk(top):
            if any(os.path.basename(directory) == d or "/%s/" % d in directory + "/"
                   for d in ("dump", "sync", "rollback-dump", "carry-back")):
                files = [f for f in files if f in ("manifest.json", ".wabiz-dump")]
            for name in files:
                with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as handle:
                    found += ["%s: %s" % (name, hit) for hit in leaks(lab_instance, handle.read())]
    return found


def loose_files(lab_instance):
    """Files in the backup directories that are not 0600, and directories there that are not 0700."""
    found = []
    for side in ("old", "new"):
        for directory, subdirs, files in os.walk(os.path.join(lab_instance.workdir, side, "backups")):
            found += ["%s/%s %o" % (directory, d, os.stat(os.path.join(directory, d)).st_mode & 0o777)
                      for d in subdirs if os.stat(os.path.join(directory, d)).st_mode & 0o777 != 0o700]
            found += ["%s/%s %o" % (directory, f, os.stat(os.path.join(directory, f)).st_mode & 0o777)
                      for f in files if os.stat(os.path.join(directory, f)).st_mode & 0o777 != 0o600]
    return found


def stale_credentials(lab_instance):
    """Credential directories of the database modules whose process is gone (a crash must not leave them)."""
    from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import process_runs
    parent = run_tmpdir(os.path.join(lab_instance.workdir, "inventory.yml"))
    return [name for name in os.listdir(parent) if name.startswith("wabiz-cred-")
            and not process_runs(int(name.split("-")[2]))]


def record_fault(lab_instance, fault, outcome, messages_lost):
    """One row of the fault matrix, in the file tests/conftest.py names (shared by pytest-xdist workers) and
    prints at the end of the session."""
    setup = lab_instance.setup("old")
    topology = "%d shards" % setup["shards"] if setup["shards"] else "single"
    row = {"fault": fault, "engine": "%s, %s" % (setup["engine"], topology), "outcome": outcome,
           "messages_lost": messages_lost}
    with open(os.environ["WABIZ_FAULT_MATRIX"], "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")
    assert messages_lost == 0, "%d messages lost" % messages_lost


def known_secrets(lab_instance):
    """Every secret the lab made, for the scans that prove none leaked."""
    state = lab_instance.state
    values = [state["admin_password"], state["backup_password"], state["pin"], state["api_user_password"],
              state["api_user_token"]] + [s["db_password"] for s in state["setups"].values()] + [
                  s["client_db_password"] for s in state["setups"].values() if s.get("client_db_password")]
    return [v for v in values if v]


def open_in_browser(path, screenshot):
    """Open a local page in headless Chromium (Debian's chromium and chromium-driver) through Selenium, as a person
    would see it: returns the page's rendered text and writes a screenshot of it to ``screenshot``."""
    from selenium import webdriver  # pylint: disable=import-outside-toplevel
    from selenium.webdriver.chrome.service import Service  # pylint: disable=import-outside-toplevel
    from selenium.webdriver.common.by import By  # pylint: disable=import-outside-toplevel
    profile = tempfile.mkdtemp(prefix="wabiz-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    # Root in a container (no sandbox), and no calls home: the machine reaches nothing but loopback.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1100,900", "--user-data-dir=" + profile):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get("file://" + os.path.abspath(path))
        text = driver.find_element(By.TAG_NAME, "body").text
        driver.save_screenshot(screenshot)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return text


def colours_of(png):
    """{(r, g, b): pixels} of an image file."""
    from PIL import Image  # pylint: disable=import-outside-toplevel
    with Image.open(png) as image:
        return {colour: count for count, colour in image.convert("RGB").getcolors(maxcolors=1 << 20)}
