# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Builds the emulator images with no registry: debootstrap a minimal Debian, docker import, add the code.

Both steps are cached by content: the base image by its package list, the emulator images by a hash of the
emulator's source, so a second build takes a second or two.
"""

import glob
import hashlib
import os
import re
import shutil
import subprocess
import tempfile

from .procs import LabError, run

SUITE = "bookworm"
PACKAGES = ["python3", "python3-pymysql", "python3-psycopg2", "python3-cryptography", "python3-bcrypt",
            "python3-cffi-backend"]
# A Molecule host: its own Docker engine, database servers and tools, and Python for Ansible's modules.
HOST_PACKAGES = ["python3", "python3-pymysql", "python3-psycopg2", "docker.io", "docker-compose", "mariadb-server",
                 "mariadb-client", "postgresql-15", "postgresql-client-15", "mydumper", "procps", "ca-certificates"]
HOST_IMAGE = "wabiz-lab/host"
# The host's PID 1: its own engine, no bridge and no iptables, as on the machine itself.
HOST_INIT = """#!/bin/sh
dockerd --bridge=none --iptables=false --ip-masq=false >/var/log/dockerd.log 2>&1 &
exec sleep infinity
"""
EMULATOR_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "emulator")
WA_VERSION = "v2.45.1"
IMAGES = {"web": "wabiz-lab/web", "coreapp": "wabiz-lab/coreapp"}


def debian_mirror():
    """The mirror apt is configured with (the machine reaches no other), or WABIZ_LAB_MIRROR."""
    if os.environ.get("WABIZ_LAB_MIRROR"):
        return os.environ["WABIZ_LAB_MIRROR"]
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")) + ["/etc/apt/sources.list"]:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            continue
        for match in re.finditer(r"^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, re.M):
            if "security" not in match.group(1):
                return match.group(1)
    return "http://deb.debian.org/debian"


def _image_label(tag, label):
    result = subprocess.run(["docker", "image", "inspect", "-f", "{{ index .Config.Labels \"%s\" }}" % label, tag],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def _digest(*parts):
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def source_hash():
    digest = hashlib.sha256()
    root = os.path.join(EMULATOR_DIR, "wa_emulator")
    for path in sorted(glob.glob(os.path.join(root, "*.py"))):
        digest.update(os.path.basename(path).encode())
        with open(path, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()[:16]


def debootstrap_image(repository, packages, log, files=None, changes=()):
    """A Debian image with ``packages`` (and ``files``: path -> (text, mode)), cached by its content."""
    content_hash = _digest(SUITE, *(packages + sorted("%s%s" % (k, v) for k, v in (files or {}).items())))
    tag = "%s:%s" % (repository, content_hash)
    if _image_label(tag, "wabiz.lab.base") == content_hash:
        return tag
    if not shutil.which("debootstrap"):
        raise LabError("debootstrap is not installed: run tools/bootstrap first")
    log("building %s with debootstrap (a minute or two, once)" % tag)
    rootfs = tempfile.mkdtemp(prefix="wabiz-rootfs-", dir="/var/tmp")
    try:
        run(["debootstrap", "--variant=minbase", "--include=" + ",".join(packages), SUITE, rootfs, debian_mirror()])
        for junk in ("usr/share/doc", "usr/share/man", "usr/share/locale", "var/cache/apt", "var/lib/apt/lists"):
            shutil.rmtree(os.path.join(rootfs, junk), ignore_errors=True)
        for path, (text, mode) in (files or {}).items():
            target = os.path.join(rootfs, path.lstrip("/"))
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(target, mode)
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        command = ["docker", "import", "--change", "LABEL wabiz.lab.base=%s" % content_hash,
                   "--change", "ENV LANG=C.UTF-8"]
        for change in changes:
            command += ["--change", change]
        run(command + ["-", tag], stdin=tar.stdout)
        tar.stdout.close()
        if tar.wait() != 0:
            raise LabError("tar of the root file system failed")
    finally:
        _unmount_below(rootfs)
        shutil.rmtree(rootfs, ignore_errors=True)
    return tag


def _unmount_below(path):
    """A failed debootstrap can leave /proc and /sys mounted in the root file system: never delete into them."""
    with open("/proc/mounts", encoding="utf-8") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(path.rstrip("/") + "/")]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False)


def build_base(log):
    return debootstrap_image("wabiz-lab/base", PACKAGES, log)


def build_host(log=print):
    """The image of a Molecule host (Docker-in-Docker with databases); tagged wabiz-lab/host:latest too."""
    tag = debootstrap_image(HOST_IMAGE, HOST_PACKAGES, log, files={"/usr/local/bin/wabiz-host-init": (HOST_INIT, 0o755)},
                            changes=['CMD ["/usr/local/bin/wabiz-host-init"]'])
    run(["docker", "tag", tag, HOST_IMAGE + ":latest"])
    return tag


def build(log=print):
    """Build (or reuse) the web and coreapp images; returns {"web": tag, "coreapp": tag}."""
    base = build_base(log)
    code_hash = _digest(base, source_hash())
    tags = {role: "%s:%s" % (repo, WA_VERSION) for role, repo in IMAGES.items()}
    built = False
    for role, tag in tags.items():
        if _image_label(tag, "wabiz.lab.source") == code_hash:
            continue
        built = True
        log("building %s" % tag)
        dockerfile = (
            "FROM %s\n"
            "COPY wa_emulator /opt/wa_emulator/wa_emulator\n"
            "ENV PYTHONPATH=/opt/wa_emulator PYTHONDONTWRITEBYTECODE=1 WA_EMU_ROLE=%s WA_VERSION=%s\n"
            "LABEL wabiz.lab.source=%s\n"
            "STOPSIGNAL SIGTERM\n"
            "CMD [\"python3\", \"-m\", \"wa_emulator\"]\n" % (base, role, WA_VERSION, code_hash))
        env = dict(os.environ, DOCKER_BUILDKIT="0")
        run(["docker", "build", "-q", "-t", tag, "-f", "-", EMULATOR_DIR], input=dockerfile, env=env)
    if built:  # earlier builds of the emulator, untagged by this one (only then: the engine runs one prune at a time)
        run(["docker", "image", "prune", "-f", "--filter", "label=wabiz.lab.source"])
    return tags
