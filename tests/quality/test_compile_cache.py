# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""tests/compile_cache, the suite's cache of code compiled from module zips: a module run from a new zip is
served from the cache, and its tracebacks name that zip, not the one the code was first compiled from."""

import os
import subprocess
import sys
import zipfile

from labsupport import ROOT

FAILING = "def fail():\n    def inner():\n        raise RuntimeError('planted')\n    inner()\n"
RUN = """
import sys, traceback
sys.path.insert(0, sys.argv[1])
import failing
try:
    failing.fail()
except RuntimeError:
    print("\\n".join(frame.filename for frame in traceback.extract_tb(sys.exc_info()[2])[1:]))
"""


def run_from_zip(tmp_path, name, cache):
    archive = str(tmp_path / name)
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("failing.py", FAILING)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "tests", "compile_cache"), WABIZ_COMPILE_CACHE=cache)
    result = subprocess.run([sys.executable, "-c", RUN, archive], env=env, capture_output=True, text=True, check=True)
    return archive, result.stdout.split()


def test_a_new_zip_is_served_from_the_cache_under_its_own_name(tmp_path):
    cache = str(tmp_path / "cache")
    os.mkdir(cache)
    first, frames = run_from_zip(tmp_path, "first.zip", cache)
    assert frames == [os.path.join(first, "failing.py")] * 2
    entries = os.listdir(cache)
    assert len(entries) == 1
    written = os.stat(os.path.join(cache, entries[0])).st_ino
    second, frames = run_from_zip(tmp_path, "second.zip", cache)
    # compiled once: a second compilation would have replaced the file
    assert os.listdir(cache) == entries and os.stat(os.path.join(cache, entries[0])).st_ino == written
    assert frames == [os.path.join(second, "failing.py")] * 2


def test_without_the_folder_nothing_is_cached(tmp_path):
    archive, frames = run_from_zip(tmp_path, "plain.zip", str(tmp_path / "missing"))
    assert frames == [os.path.join(archive, "failing.py")] * 2
    assert not os.path.exists(tmp_path / "missing")
