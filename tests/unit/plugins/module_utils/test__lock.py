# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_lock: who holds a setup's lock, judged from where the holder can or cannot be seen; the file's rules."""

import os
import subprocess
import sys

from ansible_collections.wabiz.migration.plugins.module_utils import _lock


def holder_of(pid, **changes):
    boot, namespace = _lock.machine()
    record = {"id": "h1", "boot_id": boot, "pid_namespace": namespace, "pid": pid,
              "process_start": _lock.process_start(pid)}
    record.update(changes)
    return record


def test_a_running_holder_on_this_machine_is_alive():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert _lock.alive(holder_of(sleeper.pid)) is True
        # The same PID with another start time is another process: the holder is gone.
        assert _lock.alive(holder_of(sleeper.pid, process_start=_lock.process_start(sleeper.pid) - 1)) is False
    finally:
        sleeper.kill()
        sleeper.wait()
    assert _lock.alive(holder_of(sleeper.pid, process_start=12345)) is False  # exited


def test_a_holder_elsewhere_cannot_be_judged():
    mine = holder_of(os.getpid())
    assert _lock.alive(dict(mine, boot_id="another-machine")) is None
    assert _lock.alive(dict(mine, pid_namespace="pid:[1]")) is None  # another container on this machine
    assert _lock.alive(dict(mine, boot_id="")) is None


def test_owner_names_the_run_and_is_stable_within_a_process():
    first, second = _lock.owner({"what": 3}), _lock.owner({"what": 3})
    assert first["id"] == second["id"] and first["pid"] and first["run"] == {"what": 3}
    assert _lock.describe(first).startswith("option 3 from controller ") and first["id"] in _lock.describe(first)


def test_lock_file_is_taken_once_taken_over_only_from_the_named_holder_and_given_back_only_by_it(tmp_path):
    lock = _lock.LockFile(str(tmp_path / "locks" / "biz.lock"))
    assert lock.take({"id": "a", "run": {}}) == (True, None)
    assert oct(os.stat(lock.path).st_mode & 0o777) == "0o600"
    assert oct(os.stat(os.path.dirname(lock.path)).st_mode & 0o777) == "0o700"
    assert lock.take({"id": "a", "run": {}})[0]  # its own holder again
    taken, before = lock.take({"id": "b", "run": {}})
    assert not taken and before["id"] == "a"
    assert not lock.take({"id": "b", "run": {}}, over="c")[0]
    assert lock.take({"id": "b", "run": {}}, over="a")[0]
    assert not lock.give_back("a") and lock.holder()["id"] == "b"
    assert lock.give_back("b") and lock.holder() is None
    assert sorted(os.listdir(os.path.dirname(lock.path))) == []  # no guard or temporary file left


def test_an_unreadable_lock_file_is_a_holder_not_a_free_lock(tmp_path):
    path = tmp_path / "biz.lock"
    path.write_text("{half")
    lock = _lock.LockFile(str(path))
    assert not lock.take({"id": "a"})[0]
    assert lock.holder()["id"] == "unreadable"
