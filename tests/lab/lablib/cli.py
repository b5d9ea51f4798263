# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tests/lab/lab: an "old" and a "new" On-Premises setup on one machine, on real database servers.

    lab up --engine mysql|pgsql --shards N --workdir DIR   old setup registered and serving; new DB empty
    lab seed --messages N --size BYTES --workdir DIR       users, token, settings, PIN, contacts, messages
    lab inventory --workdir DIR                            DIR/inventory.yml with groups old and new
    lab client up|create|down old|new --workdir DIR        start, create (not start) or remove a setup's client
    lab db kill|start old|new --workdir DIR                crash a setup's database server, or start it again
    lab status --workdir DIR                               health of both setups
    lab images [--host]                                    build or reuse the images (--host: the Molecule host)
    lab down --workdir DIR                                 stop and remove everything the lab started
"""

import argparse
import json
import os
import secrets
import shutil
import string
import sys
import time

from . import compose, dbserver, image, procs
from .api import ApiFailure, Client
from .procs import LabError

STATE = "lab.json"
SETUP_OFFSETS = {"old": 0, "new": 1000}
PHONE = {"cc": "1", "number": "6315550123"}
DB_PORT_OFFSET = {"mysql": 306, "pgsql": 432}


def log(message):
    print("[lab %s] %s" % (time.strftime("%H:%M:%S"), message), flush=True)


def strong_password():
    """Meets the web app's complexity rule; alphabet kept shell- and YAML-safe."""
    pools = [string.ascii_lowercase, string.ascii_uppercase, string.digits, "#%+-_."]
    chars = [secrets.choice(pool) for pool in pools]
    chars += [secrets.choice(alphabet) for alphabet in ["".join(pools[:3])] * 16]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def load(workdir):
    path = os.path.join(workdir, STATE)
    if not os.path.exists(path):
        raise LabError("no lab in %s: run 'lab up --workdir %s' first" % (workdir, workdir))
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def save(state):
    path = os.path.join(state["workdir"], STATE)
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(state, handle, indent=2)
    os.replace(path + ".tmp", path)


def new_state(args):
    workdir = os.path.abspath(args.workdir)
    state = {
        "lab": args.name, "workdir": workdir, "engine": args.engine, "shards": args.shards,
        "port_base": args.port_base, "db_prefix": args.db_prefix, "docker_user": False, "images": None,
        "phone": PHONE, "admin_password": strong_password(), "backup_password": strong_password(),
        "pin": "%06d" % secrets.randbelow(10 ** 6), "api_user": "apiuser", "api_user_password": strong_password(),
        "api_user_token": None, "webhook_url": "http://127.0.0.1:%d/webhook" % (args.port_base + 80),
        "setups": {},
    }
    for name, offset in SETUP_OFFSETS.items():
        base = args.port_base + offset
        setup_dir = os.path.join(workdir, name)
        state["setups"][name] = {
            # Both servers take TLS only, with a certificate of the lab's CA (dbserver.make_tls).
            "tls_dir": os.path.join(workdir, "tls") if args.tls else None,
            # The client and the migration log in as root, or (--managed) as a user with only the rights a managed
            # service's admin user has (dbserver.MANAGED_RIGHTS).
            "client_db_user": "wa_admin" if args.managed else "root",
            "client_db_password": strong_password() if args.managed else None,
            "name": name, "lab": args.name, "project": "%s-%s" % (args.name, name), "engine": args.engine,
            "shards": args.shards, "port_base": base, "web_port": base + 443,
            "db_port": base + DB_PORT_OFFSET[args.engine], "db_password": strong_password(), "db_pid": None,
            "db_dir": os.path.join(setup_dir, "db"), "compose_dir": os.path.join(setup_dir, "compose"),
            "export_dir": os.path.join(setup_dir, "export"), "db_prefix": args.db_prefix,
            "url": "https://127.0.0.1:%d" % (base + 443), "ca_path": os.path.join(setup_dir, "export", "ca.pem"),
        }
    return state


# up ------------------------------------------------------------------------------------------------
def cmd_up(args):
    if not 1024 <= args.port_base <= 30768:
        raise LabError("--port-base must be between 1024 and 30768: the lab's ports must stay below Linux's "
                       "ephemeral range (32768 and up), where outgoing connections take ports at random")
    if args.shards not in (0, 1, 2, 4, 8, 16, 32):
        raise LabError("--shards must be 0 (single instance) or one of 1, 2, 4, 8, 16, 32")
    workdir = os.path.abspath(args.workdir)
    if os.path.exists(os.path.join(workdir, STATE)):
        raise LabError("a lab already runs in %s: 'lab down --workdir %s' first" % (workdir, workdir))
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o711)
    state = new_state(args)
    busy = [port for port in lab_ports(state) if dbserver.port_open(port)]
    if busy:
        raise LabError("127.0.0.1 ports %s are in use: pick another --port-base" % ", ".join(map(str, busy)))
    save(state)
    started = time.time()
    try:
        procs.use_dockerd(workdir)
        state["docker_user"] = True
        save(state)
        state["images"] = image.build(log)
        save(state)
        for setup in state["setups"].values():
            start_database(setup)
            save(state)
        log("database servers up (%s on %d and %d)" % (args.engine, state["setups"]["old"]["db_port"],
                                                       state["setups"]["new"]["db_port"]))
        start_client(state, "old")
        register(state)
        save(state)
    except BaseException:
        log("up failed; cleaning up what was started (logs stay in %s)" % workdir)
        teardown(state)
        for setup in state["setups"].values():
            shutil.rmtree(setup["db_dir"], ignore_errors=True)
        os.unlink(os.path.join(workdir, STATE))
        raise
    log("old setup registered and serving at %s (%.1fs)" % (state["setups"]["old"]["url"], time.time() - started))


def lab_ports(state):
    """Every port the lab's servers and containers will listen on."""
    ports = []
    for setup in state["setups"].values():
        ports += [setup["web_port"], setup["db_port"]]
        for index in range(len(compose.services(setup["shards"]))):
            base = compose.node_base_port(setup["port_base"], index)
            ports += range(base, base + 4)
    return ports


def start_database(setup):
    os.makedirs(os.path.dirname(setup["db_dir"]), exist_ok=True)
    if setup["tls_dir"] and not os.path.exists(os.path.join(setup["tls_dir"], "ca.pem")):
        dbserver.make_tls(setup["tls_dir"])
    if setup["engine"] == "mysql":
        setup["db_pid"] = dbserver.start_mariadb(setup["db_dir"], setup["db_port"], setup["db_password"],
                                                 tls_dir=setup["tls_dir"])
    else:
        dbserver.check_traversable(os.path.dirname(setup["db_dir"]))
        setup["db_pid"] = dbserver.start_postgres(setup["db_dir"], setup["db_port"], setup["db_password"],
                                                  tls_dir=setup["tls_dir"])
    if setup["client_db_password"]:
        dbserver.create_managed_user(setup["engine"], setup["db_port"], setup["db_password"], setup["tls_dir"],
                                     setup["client_db_user"], setup["client_db_password"])


def start_client(state, name):
    setup = state["setups"][name]
    compose.up(setup, state["images"])
    procs.wait_until(lambda: os.path.exists(setup["ca_path"]) and dbserver.port_open(setup["web_port"]), 90,
                     "the %s web app on port %d" % (name, setup["web_port"]))
    log("%s client containers up" % name)


def admin_client(state, name):
    setup = state["setups"][name]
    api = Client(setup["url"], setup["ca_path"])
    try:
        api.login("admin", state["admin_password"])
    except ApiFailure as exc:
        if exc.body.get("errors", [{}])[0].get("code") != 1024 and exc.status != 401:
            raise
        api.login("admin", "secret", new_password=state["admin_password"])
    return api


def register(state):
    """First login with the password change, code request and verify, then the shard count."""
    old = state["setups"]["old"]
    api = admin_client(state, "old")
    account = {"cc": PHONE["cc"], "phone_number": PHONE["number"], "method": "sms",
               "cert": "Q2VydGlmaWNhdGUgb2YgdGhlIHdhYml6IGxhYg=="}
    procs.wait_until(lambda: api.request("POST", "/v1/account", account).status_code in (201, 202), 60,
                     "the coreapp to accept the code request")
    api.call("POST", "/v1/account/verify", {"code": "000000"}, expect=201)
    if old["shards"]:
        # All nodes must have registered before the topology is recorded.
        procs.wait_until(lambda: api.request("POST", "/v1/account/shards", {
            "cc": PHONE["cc"], "phone_number": PHONE["number"], "shards": old["shards"]}).status_code == 201,
            60, "set-shards")
    api.wait_health(timeout=60, shards=old["shards"] or None)


# the other commands ---------------------------------------------------------------------------------
def cmd_seed(args):
    from .seed import seed
    state = load(args.workdir)
    seed(state, args.messages, args.size, log)
    save(state)


def cmd_inventory(args):
    state = load(args.workdir)
    path = write_inventory(state)
    log("wrote %s" % path)


def client_login(setup):
    """(user, password) the client and the migration log in to a setup's server with."""
    return setup.get("client_db_user", "root"), setup.get("client_db_password") or setup["db_password"]


def tls_inventory(setup):
    """A setup's inventory for servers that take TLS only: the migration verifies the certificate and its name;
    the client containers get the CA (mounted at the same path) and their TLS settings (compose.tls_env)."""
    if not setup.get("tls_dir"):
        return {}
    return {"wa_db_ssl_mode": "verify-full", "wa_db_ca_cert": os.path.join(setup["tls_dir"], "ca.pem"),
            "wa_volumes": ["%s:%s:ro" % (setup["tls_dir"], setup["tls_dir"])],
            "wa_extra_env": compose.tls_env(setup)}


def write_inventory(state):
    hosts = {}
    for name, setup in state["setups"].items():
        hosts[name] = {"hosts": {"%s-setup" % name: {
            "wa_api_url": setup["url"], "wa_api_ca_path": setup["ca_path"], "wa_api_username": "admin",
            "wa_api_password": state["admin_password"], "wa_db_engine": setup["engine"], "wa_db_host": "127.0.0.1",
            "wa_db_port": setup["db_port"], "wa_db_user": client_login(setup)[0], "wa_db_password": client_login(setup)[1],
            "wa_db_name_prefix": setup["db_prefix"], "wa_compose_project": setup["project"],
            "wa_compose_dir": setup["compose_dir"], "wa_web_port": setup["web_port"],
            "wa_node_port_base": setup["port_base"] + compose.NODE_PORT_OFFSET,
            "wa_images": state["images"], "wa_network_mode": "host",
            "wa_web_volumes": ["%s:/export" % setup["export_dir"]],
            **tls_inventory(setup),
            "wabiz_backup_dir": os.path.join(state["workdir"], name, "backups"),
            "wa_topology": {"shards": setup["shards"],
                            "masters": 2 if setup["shards"] else 0,
                            "coreapps": setup["shards"] + 1 if setup["shards"] else 1},
        }}}
    inventory = {"all": {"vars": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
        "wa_phone": state["phone"], "wa_backup_password": state["backup_password"], "wa_twostep_pin": state["pin"],
        "wa_webhook_url": state["webhook_url"],
        # The migration's settings (docs/docsite/rst/variables.rst) for a run on this lab.
        "wabiz_work_dir": os.path.join(state["workdir"], "runs"), "wabiz_backup_password": state["backup_password"],
        "wabiz_test_recipient": "+4915100000001", "wabiz_twostep_pin": state["pin"], "wabiz_twostep_disable": True,
        "wabiz_webhook_url": state["webhook_url"]}, "children": hosts}}
    path = os.path.join(state["workdir"], "inventory.yml")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(inventory, handle, indent=2)
    return path


def cmd_client(args):
    state = load(args.workdir)
    if args.action == "create":
        # The containers made and not started: an orchestrator's deployment scaled to zero.
        setup = state["setups"][args.setup]
        compose.write(setup, state["images"])
        compose.compose(setup, "up", "--no-start", "--no-color")
        log("%s client containers created, not started" % args.setup)
    elif args.action == "up":
        setup = state["setups"][args.setup]
        if args.shards is not None:
            # A topology other than the lab's: how the tests show the shard rule refusing a database.
            setup["shards"] = args.shards
        setup["extra_env"] = dict(item.split("=", 1) for item in args.env)
        save(state)
        start_client(state, args.setup)
    else:
        compose.down(state["setups"][args.setup], volumes=not args.keep_volumes)
        log("%s client containers removed" % args.setup)


def cmd_db(args):
    """Kill a setup's database server (SIGKILL, a crash) or start it again on its data (crash recovery)."""
    state = load(args.workdir)
    setup = state["setups"][args.setup]
    if args.action == "kill":
        if setup.get("db_pid") and procs.alive(setup["db_pid"]):
            dbserver.kill_server(setup["db_pid"])
        setup["db_pid"] = None
        save(state)
        log("%s database server killed" % args.setup)
        return
    if setup.get("db_pid") and procs.alive(setup["db_pid"]):
        log("%s database server already runs (PID %d)" % (args.setup, setup["db_pid"]))
        return
    if setup["engine"] == "mysql":
        setup["db_pid"] = dbserver.run_mariadb(setup["db_dir"], setup["db_port"], tls_dir=setup.get("tls_dir"))
    else:
        setup["db_pid"] = dbserver.run_postgres(setup["db_dir"], setup["db_port"])
    save(state)
    log("%s database server started again (PID %d)" % (args.setup, setup["db_pid"]))


def cmd_images(args):
    """Build (or reuse) the emulator images, and the Molecule host image with --host; print their tags."""
    if not procs.docker_ready():
        raise LabError("no Docker engine runs: start one (dockerd --bridge=none --iptables=false) first")
    tags = image.build(log)
    if args.host:
        tags["host"] = image.build_host(log)
    print(json.dumps(tags))


def cmd_status(args):
    state = load(args.workdir)
    for name, setup in state["setups"].items():
        try:
            health = admin_client(state, name).request("GET", "/v1/health").json()
        except Exception as exc:  # pylint: disable=broad-except
            health = "not serving (%s)" % exc.__class__.__name__
        print("%s: %s" % (name, json.dumps(health)))


def teardown(state):
    problems = []
    for setup in state["setups"].values():
        try:
            compose.down(setup)
        except LabError as exc:
            problems.append(str(exc))
    if state.get("images"):
        compose.remove_leftovers(state["lab"])
    for setup in state["setups"].values():
        if setup.get("db_pid"):
            dbserver.stop_server(setup["engine"], setup["db_dir"], setup["db_pid"])
            setup["db_pid"] = None
    if state.get("docker_user"):
        procs.release_dockerd(state["workdir"])
        state["docker_user"] = False
    return problems


def cmd_down(args):
    workdir = os.path.abspath(args.workdir)
    state = load(workdir)
    problems = teardown(state)
    if args.keep_files:
        save(state)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    for problem in problems:
        log("warning: %s" % problem)
    log("lab %s is down" % state["lab"])


def parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workdir", default=os.environ.get("WABIZ_LAB_DIR", "/var/tmp/wabiz-lab"),
                        help="lab directory (state, data, inventory); default $WABIZ_LAB_DIR or /var/tmp/wabiz-lab")
    top = argparse.ArgumentParser(prog="lab", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True)

    def command(name, help_text):
        return sub.add_parser(name, help=help_text, parents=[common])

    up = command("up", "start database servers and the old setup, registered and serving")
    up.add_argument("--engine", choices=("mysql", "pgsql"), default="mysql")
    up.add_argument("--shards", type=int, default=0, help="0 = single instance; else multiconnect shards")
    up.add_argument("--port-base", type=int, default=20000,
                    help="first of 2000 ports; keep it and +2000 below 32768, Linux's ephemeral port range")
    up.add_argument("--db-prefix", default="")
    up.add_argument("--name", default="walab", help="compose project prefix and container label")
    up.add_argument("--managed", action="store_true",
                    help="the client and the inventory log in as wa_admin, with a managed service's admin rights "
                         "(no SUPER or FILE; no PostgreSQL superuser)")
    up.add_argument("--tls", action="store_true",
                    help="database servers that take TLS only (a CA of the lab's own; the inventory verifies it)")
    up.set_defaults(func=cmd_up)
    seed = command("seed", "fill the old setup")
    seed.add_argument("--messages", type=int, default=1000)
    seed.add_argument("--size", type=int, default=1000, help="mean message body size in bytes")
    seed.set_defaults(func=cmd_seed)
    command("inventory", "write DIR/inventory.yml").set_defaults(func=cmd_inventory)
    client = command("client", "start or remove a setup's client containers")
    client.add_argument("action", choices=("up", "create", "down"))
    client.add_argument("setup", choices=tuple(SETUP_OFFSETS))
    client.add_argument("--keep-volumes", action="store_true")
    client.add_argument("--shards", type=int, help="with up: run this topology instead of the lab's")
    client.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="with up: an emulator setting for every container, e.g. WA_EMU_TOKEN_LIFETIME_SECONDS=5")
    client.set_defaults(func=cmd_client)
    database = command("db", "kill a setup's database server (a crash) or start it again")
    database.add_argument("action", choices=("kill", "start"))
    database.add_argument("setup", choices=tuple(SETUP_OFFSETS))
    database.set_defaults(func=cmd_db)
    command("status", "health of both setups").set_defaults(func=cmd_status)
    images = command("images", "build or reuse the emulator images (and the Molecule host image)")
    images.add_argument("--host", action="store_true", help="also the Molecule host image (DinD, databases)")
    images.set_defaults(func=cmd_images)
    down = command("down", "stop and remove everything the lab started")
    down.add_argument("--keep-files", action="store_true", help="keep the work directory")
    down.set_defaults(func=cmd_down)
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except LabError as exc:
        log("error: %s" % exc)
        return 1
    return 0
