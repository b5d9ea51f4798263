# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The machine's one Docker engine, shared by labs and test sessions: whoever goes last stops the engine a user
started, and never one that another user still needs (a benchmark's lab died of that). A stand-in dockerd (a
process that only sleeps) takes the real one's place, so that the real engine of this run is not touched."""

import os
import stat

from lablib import procs


def test_the_engine_is_stopped_by_its_last_user_only(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "dockerd"
    fake.write_text("#!/bin/sh\nexec sleep 600\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", "%s:%s" % (bindir, os.environ["PATH"]))
    monkeypatch.setattr(procs, "DOCKERD_SHARE", str(tmp_path / "share"))
    running = []
    monkeypatch.setattr(procs, "docker_ready", lambda: bool(running) and procs.alive(running[-1]))
    spawn = procs.spawn

    def spawned(cmd, log_path, **kwargs):
        running.append(spawn(cmd, log_path, **kwargs))
        return running[-1]
    monkeypatch.setattr(procs, "spawn", spawned)

    first, second, gone = (tmp_path / name for name in ("lab-a", "lab-b", "lab-killed"))
    for user in (first, second, gone):
        user.mkdir()
    procs.use_dockerd(str(first))
    assert len(running) == 1 and procs.alive(running[0])
    procs.use_dockerd(str(second))
    procs.use_dockerd(str(gone))
    assert len(running) == 1, "a second user started a second engine"
    procs.release_dockerd(str(first))  # the user that started it goes first
    assert procs.alive(running[0]), "the engine was stopped while another lab used it"
    gone.rmdir()  # a lab killed and swept: its registration no longer keeps the engine
    procs.release_dockerd(str(second))
    assert not procs.alive(running[0]), "the last user left the engine it started running"
