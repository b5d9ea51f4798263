# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Compose projects of the lab's client setups, shaped like the vendor's official compose files.

Single instance: services ``wacore`` and ``waweb``. Multiconnect with N shards: ``waweb``, ``master1``,
``master2`` and ``wacore1`` .. ``wacore<N+1>`` (one spare coreapp). Host networking on 127.0.0.1 ports,
database settings in a 0600 ``db.env`` as in the official ``env_file: db.env``.
"""

import json
import os
import subprocess

from .procs import LabError, run

NODE_PORT_OFFSET = 500
NODE_PORT_STEP = 10


def services(shards):
    """Service names and roles for a topology (0 = single instance)."""
    if shards == 0:
        return [("wacore", "coreapp")]
    return [("master1", "master"), ("master2", "master")] + [
        ("wacore%d" % i, "coreapp") for i in range(1, shards + 2)]


def node_base_port(base, index):
    return base + NODE_PORT_OFFSET + NODE_PORT_STEP * index


def tls_env(setup):
    """The client's TLS settings for a server that takes TLS only: the web app's WA_DB_SSL_* on MySQL, libpq's
    own on PostgreSQL; the CA at its path on the host (mounted at the same path)."""
    if not setup.get("tls_dir"):
        return {}
    ca = os.path.join(setup["tls_dir"], "ca.pem")
    if setup["engine"] == "mysql":
        return {"WA_DB_SSL_CA": ca, "WA_DB_SSL_VERIFY": "1"}
    return {"PGSSLMODE": "verify-full", "PGSSLROOTCERT": ca}


def render(setup, images):
    """The compose file (as a dict) for one setup described by the lab state."""
    multiconnect = "1" if setup["shards"] else "0"
    common_env = dict({"WA_APP_MULTICONNECT": multiconnect, "WA_TCP_LISTEN_ADDRESS": "127.0.0.1",
                       "WA_DB_NAME_PREFIX": setup["db_prefix"]}, **tls_env(setup), **setup.get("extra_env", {}))
    tls_volumes = ["%s:%s:ro" % (setup["tls_dir"], setup["tls_dir"])] if setup.get("tls_dir") else []
    common = {"network_mode": "host", "restart": "unless-stopped", "cap_drop": ["MKNOD"],
              "env_file": ["db.env"], "stop_grace_period": "10s",
              "labels": {"wabiz.lab": setup["lab"], "wabiz.lab.setup": setup["name"]}}
    svc = {"waweb": dict(common, image=images["web"], environment=dict(
        common_env, WEBAPP_EXTERNAL_PORTS=str(setup["web_port"]), WEBAPP_HOSTNAME="127.0.0.1",
        WA_WEB_SERVERNAME="localhost"),
        volumes=["whatsappMedia:/usr/local/wamedia", "%s:/export" % setup["export_dir"]] + tls_volumes)}
    for index, (name, role) in enumerate(services(setup["shards"])):
        port = node_base_port(setup["port_base"], index)
        env = dict(common_env, COREAPP_HOSTNAME="127.0.0.1", WA_EMU_SERVICE=name,
                   COREAPP_EXTERNAL_PORTS=",".join(str(port + i) for i in range(4)))
        if role == "master":
            env["WA_MASTER_NODE"] = "1"
        svc[name] = dict(common, image=images["coreapp"], environment=env,
                         volumes=["whatsappMedia:/usr/local/wamedia"] + tls_volumes)
    return {"version": "2.4", "services": svc, "volumes": {"whatsappMedia": {}}}


def write(setup, images):
    os.makedirs(setup["compose_dir"], mode=0o700, exist_ok=True)
    os.makedirs(setup["export_dir"], exist_ok=True)
    db_env = os.path.join(setup["compose_dir"], "db.env")
    fd = os.open(db_env, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("WA_DB_ENGINE=%s\nWA_DB_HOSTNAME=127.0.0.1\nWA_DB_PORT=%d\nWA_DB_USERNAME=%s\n"
                     "WA_DB_PASSWORD=%s\nWA_DB_CONNECTION_IDLE_TIMEOUT=180000\n"
                     % (("MYSQL" if setup["engine"] == "mysql" else "PGSQL", setup["db_port"])
                        + (setup.get("client_db_user", "root"),
                           setup.get("client_db_password") or setup["db_password"])))
    path = os.path.join(setup["compose_dir"], "docker-compose.yml")
    with open(path, "w", encoding="utf-8") as handle:
        # JSON is YAML: no PyYAML needed by the lab.
        json.dump(render(setup, images), handle, indent=2)
    return path


def compose(setup, *args):
    return run(["docker-compose", "-p", setup["project"], "-f",
                os.path.join(setup["compose_dir"], "docker-compose.yml")] + list(args),
               cwd=setup["compose_dir"])


def up(setup, images):
    write(setup, images)
    compose(setup, "up", "-d", "--no-color")


def down(setup, volumes=True):
    if os.path.exists(os.path.join(setup["compose_dir"], "docker-compose.yml")):
        compose(setup, "down", "--remove-orphans", *(["-v"] if volumes else []))


def containers(label_value):
    out = subprocess.run(["docker", "ps", "-a", "-q", "--filter", "label=wabiz.lab=%s" % label_value],
                         stdout=subprocess.PIPE, text=True, check=False).stdout.split()
    return out


def remove_leftovers(lab_name):
    """Containers and volumes of this lab that a failed run left behind (by label, never by guess)."""
    ids = containers(lab_name)
    if ids:
        run(["docker", "rm", "-f", "-v"] + ids)
    vols = subprocess.run(["docker", "volume", "ls", "-q", "--filter", "name=%s-" % lab_name],
                          stdout=subprocess.PIPE, text=True, check=False).stdout.split()
    vols = [v for v in vols if v.startswith(lab_name + "-")]
    if vols:
        try:
            run(["docker", "volume", "rm"] + vols)
        except LabError:
            pass
