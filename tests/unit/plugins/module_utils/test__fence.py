# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The write fence's first reading waits for PostgreSQL's counters to stand still (a client that left a moment
ago hands its counts over as it exits); a writer that goes on is still caught."""

import pytest

from ansible_collections.wabiz.migration.plugins.module_utils import _fence
from ansible_collections.wabiz.migration.plugins.module_utils._fence import FenceBroken, WriteFence


class Server(object):
    def __init__(self, engine):
        self.engine = engine

    def describe(self):
        return '%s server' % self.engine


def fence_reading(engine, readings, monkeypatch):
    monkeypatch.setattr(_fence, 'STATS_SETTLE_SECONDS', 0.01)
    fence = WriteFence(Server(engine), ['wacore'])
    values = iter(readings)
    monkeypatch.setattr(fence, 'sessions', lambda: [])
    monkeypatch.setattr(fence, 'read_positions', lambda: next(values))
    return fence


def test_counts_handed_over_by_a_client_that_just_left_do_not_break_the_fence(monkeypatch):
    fence = fence_reading('pgsql', [{'wacore rows written': 5}, {'wacore rows written': 12},
                                    {'wacore rows written': 12}, {'wacore rows written': 12}], monkeypatch)
    assert fence.raise_() == {'wacore rows written': 12}
    assert fence.check() == {'wacore rows written': 12}


def test_a_writer_that_goes_on_is_caught(monkeypatch):
    fence = fence_reading('pgsql', [{'wacore rows written': 5}, {'wacore rows written': 5},
                                    {'wacore rows written': 6}], monkeypatch)
    fence.raise_()
    with pytest.raises(FenceBroken, match=r'wacore rows written \+1'):
        fence.check()


def test_mysql_counters_are_read_once(monkeypatch):
    fence = fence_reading('mysql', [{'Handler_write': 1}, {'Handler_write': 1}], monkeypatch)
    assert fence.raise_() == {'Handler_write': 1}
    assert fence.check() == {'Handler_write': 1}
