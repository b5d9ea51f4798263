# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Processes the lab starts and stops by PID: dockerd and the two database servers."""

import os
import pwd
import shutil
import signal
import subprocess
import time


class LabError(Exception):
    pass


def run(cmd, **kwargs):
    """Run a command; on failure raise LabError with its output (commands never carry secrets)."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.STDOUT)
    kwargs.setdefault("text", True)
    result = subprocess.run(cmd, check=False, **kwargs)
    if result.returncode != 0:
        raise LabError("%s failed (exit %d):\n%s" % (" ".join(cmd), result.returncode, (result.stdout or "")[-3000:]))
    return result.stdout


def wait_until(predicate, timeout, what, interval=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            if predicate():
                return
        except Exception as exc:  # pylint: disable=broad-except
            last = exc
        time.sleep(interval)
    raise LabError("timed out after %ss waiting for %s%s" % (timeout, what, ": %s" % last if last else ""))


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def stop_pid(pid, timeout=30):
    """SIGTERM the process we started, then SIGKILL if it does not go."""
    if not pid or not alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        if not alive(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def spawn(cmd, log_path, user=None, env=None):
    """Start a long-running server in its own session, output to ``log_path``; returns its PID."""
    log = open(log_path, "ab")  # pylint: disable=consider-using-with
    preexec = None
    if user:
        entry = pwd.getpwnam(user)

        def preexec():
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=preexec, env=env)
    log.close()
    return proc.pid


def docker_ready():
    return subprocess.run(["docker", "info"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          check=False).returncode == 0


def ensure_dockerd(workdir):
    """Use the running engine, or start one without bridge or iptables (the machine rules). PID or None."""
    if docker_ready():
        return None
    if not shutil.which("dockerd"):
        raise LabError("no Docker engine runs and dockerd is not installed: run tools/bootstrap first")
    pid = spawn(["dockerd", "--bridge=none", "--iptables=false", "--ip-masq=false"],
                os.path.join(workdir, "dockerd.log"))
    wait_until(docker_ready, 30, "dockerd")
    return pid
