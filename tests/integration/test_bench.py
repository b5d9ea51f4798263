# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The downtime benchmark (bench/) in small: tens of MB on each engine, so that it cannot break unnoticed."""

import pytest

from labsupport import ROOT  # labsupport puts bench/ on the path
import bench


@pytest.mark.parametrize("engine, options", [("mysql", [2]), ("pgsql", [3])])
def test_small_benchmark(docker_engine, engine, options):  # pylint: disable=unused-argument
    assert bench.__file__.startswith(ROOT)  # this checkout's benchmark
    result = bench.bench_engine(engine, 24, 2, options)
    assert result["data_mb"] > 15 and result["floor_seconds"] > 0
    run = result["option%d" % options[0]]
    assert 0 < run["copy"] < run["downtime"] < 120
    assert run["peak_rss_mb"] < 300
    assert result["peer"]["downtime"] > 0 and result["follower"]["downtime"] > 0
    assert result["option%d_off" % options[0]]["downtime"] > 0
    table = bench.table([result], options)
    assert engine in table and "peer s" in table
