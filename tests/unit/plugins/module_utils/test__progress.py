# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The progress file of a long database module, and the line the controller shows of it."""

import json
import os
import time

from ansible_collections.wabiz.migration.plugins.module_utils._progress import Progress, describe, progress_path


def test_the_progress_file_follows_the_bytes_written_and_goes_away(tmp_path):
    work = tmp_path / "dump"
    work.mkdir()
    with Progress(str(work), lambda: 4000, "db_dump of wacore"):
        path = progress_path(str(work))
        assert path == str(tmp_path / "dump.progress") and oct(os.stat(path).st_mode & 0o777) == "0o600"
        (work / "wacore.sql").write_bytes(b"x" * 1500)
        time.sleep(1.3)
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
        assert record["done"] == 1500 and record["total"] == 4000 and record["what"] == "db_dump of wacore"
    assert not os.path.exists(path)


def test_disabled_measures_nothing(tmp_path):
    def total():
        raise AssertionError("the sizes are not read when progress is off")
    with Progress(str(tmp_path), total, "db_dump", enabled=False):
        pass
    assert os.listdir(str(tmp_path)) == []


def test_the_line_says_how_far_how_fast_and_how_long_still():
    record = {"what": "db_dump of wacore", "done": 1.2e9, "total": 4.4e9, "started": 100.0, "at": 115.0}
    assert describe(record) == "db_dump of wacore: 1.2 GB of about 4.4 GB, 80.0 MB/s, about 40 s left"
    record.update(done=5e9)  # past the estimate (a dump is not its tables' size): no time left is claimed
    assert describe(record).endswith("of about 4.4 GB, 333.3 MB/s")
    record.update(done=1e8)  # the first bytes: no guess of the time left yet
    assert describe(record).endswith("of about 4.4 GB, 6.7 MB/s")
