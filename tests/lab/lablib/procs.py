# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Processes the lab starts and stops by PID: dockerd and the two database servers."""

import json
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


# The machine's one Docker engine is shared by every lab and test session on it: each registers as a user while
# it needs the engine, and the engine a lab or session started is stopped by whichever user goes last. A user is
# its work directory; one that is gone (a lab killed and swept) no longer counts. An engine started by anyone else
# (tools/test, the operator) is never stopped here.
DOCKERD_SHARE = "/var/tmp/wabiz-dockerd"


class _SharedEngine:
    """The share's record, read and written under an exclusive flock of its directory."""

    def __enter__(self):
        import fcntl
        os.makedirs(DOCKERD_SHARE, 0o700, exist_ok=True)
        self.guard = os.open(DOCKERD_SHARE, os.O_RDONLY)
        fcntl.flock(self.guard, fcntl.LOCK_EX)
        try:
            with open(os.path.join(DOCKERD_SHARE, "engine.json"), encoding="utf-8") as handle:
                self.record = json.load(handle)
        except (OSError, ValueError):
            self.record = {"pid": None, "users": []}
        self.record["users"] = [user for user in self.record["users"] if os.path.isdir(user)]
        return self

    def __exit__(self, *exc):
        path = os.path.join(DOCKERD_SHARE, "engine.json")
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(self.record, handle)
        os.replace(path + ".tmp", path)
        os.close(self.guard)


def use_dockerd(user):
    """Register the directory ``user`` as a user of the Docker engine, starting one (without bridge or iptables,
    the machine rules) if none runs."""
    with _SharedEngine() as share:
        if not docker_ready():
            if not shutil.which("dockerd"):
                raise LabError("no Docker engine runs and dockerd is not installed: run tools/bootstrap first")
            share.record["pid"] = spawn(["dockerd", "--bridge=none", "--iptables=false", "--ip-masq=false"],
                                        os.path.join(DOCKERD_SHARE, "dockerd.log"))
            wait_until(docker_ready, 30, "dockerd")
        if os.path.abspath(user) not in share.record["users"]:
            share.record["users"].append(os.path.abspath(user))


def release_dockerd(user):
    """``user`` no longer needs the engine: the last user stops the engine that a user started."""
    with _SharedEngine() as share:
        share.record["users"] = [u for u in share.record["users"] if u != os.path.abspath(user)]
        if not share.record["users"] and share.record["pid"]:
            stop_pid(share.record["pid"])
            share.record["pid"] = None
