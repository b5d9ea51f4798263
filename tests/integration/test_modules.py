# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every module through ansible-playbook against the lab over HTTPS with ca_path, on both engines.

The playbook asserts the behaviour (error paths, check mode, idempotence); this test runs it at -vvv and
scans everything it printed and left behind for the lab's secrets and for any API token.
"""

import os
import signal
import stat
import time

from labsupport import ROOT, TOPOLOGIES, BackgroundPlaybook, ansible_playbook, lab_fixture, leaks

PLAYBOOK = os.path.join(ROOT, "tests", "integration", "playbooks", "modules.yml")

# One single instance and one multiconnect setup, one on each engine.
lab = lab_fixture([t for t in TOPOLOGIES if t in (("mysql", 0), ("pgsql", 2))], messages=200)


def test_modules_against_the_lab(lab, tmp_path):
    lab.run("client", "up", "new", "--env", "WA_EMU_TOKEN_LIFETIME_SECONDS=4")
    lab.run("inventory")
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    rc, output = ansible_playbook(PLAYBOOK, os.path.join(lab.workdir, "inventory.yml"), "-vvv",
                                  "-e", "work_dir=%s" % work_dir)
    assert rc == 0, output[-6000:]
    assert "failed=0" in output and "unreachable=0" in output

    backup = (work_dir / "settings.backup").read_text()
    assert leaks(lab, output, extra=[backup]) == [], "secrets or API tokens in the -vvv output"
    for path in work_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def server_processes(pid):
    """``pid`` and every process under it."""
    children = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % entry, encoding="utf-8") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo.extend(children.get(found[-1], []))
    return found


def test_a_long_dump_shows_its_progress(lab, tmp_path):
    """db_dump with progress_interval, its server frozen for a while: the controller shows how far it is."""
    lab.run("inventory")
    dest = tmp_path / "dump"
    run = BackgroundPlaybook(lab, os.path.join("..", "tests", "integration", "playbooks", "progress.yml"),
                             "-e", "dest=%s" % dest)
    run.wait_until((tmp_path / "dump.progress").exists, "the dump's progress file")
    # The dump cannot end while its server is frozen: every process of it (PostgreSQL's backends too).
    frozen = server_processes(lab.setup("old")["db_pid"])
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(6)
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    rc, output = run.finish()
    assert rc == 0, output[-4000:]
    lines = [line for line in output.splitlines() if "db_dump of " in line and " of about " in line]
    assert len(lines) >= 2 and all("/s" in line for line in lines), output[-4000:]
    assert not (tmp_path / "dump.progress").exists() and (dest / "manifest.json").exists()
    assert leaks(lab, output) == []
