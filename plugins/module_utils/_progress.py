# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Progress of a long database module: the module keeps a small JSON file of how far it is; the module's action
plugin, which runs it as an async job, reads that file and shows a line (terminal and AWX job output)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import threading
import time

from ansible_collections.wabiz.migration.plugins.module_utils._files import write


def progress_path(directory):
    """The progress file of a module working in ``directory``: beside it, like its work lock."""
    return directory.rstrip('/') + '.progress'


def bytes_under(directory):
    total = 0
    for parent, dummy, names in os.walk(directory):
        for name in names:
            try:
                total += os.lstat(os.path.join(parent, name)).st_size
            except OSError:
                pass  # a file renamed or removed by the tools meanwhile
    return total


class Progress(object):
    """Every second, while the module works: the bytes written under ``directory`` (the dump files) and about how
    many are to come (``total()``, the source databases' sizes), written to the progress file; removed at the
    end. Not ``enabled``: nothing is measured or written."""

    def __init__(self, directory, total, what, enabled=True):
        self.directory, self.path, self.enabled = directory, progress_path(directory), enabled
        self.record = dict(what=what, total=total() if enabled else None, started=time.time())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.daemon = True

    def __enter__(self):
        if self.enabled:
            self._write()
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self._stop.set()
            self._thread.join()
            if os.path.exists(self.path):
                os.unlink(self.path)

    def _write(self):
        write(self.path, json.dumps(dict(self.record, done=bytes_under(self.directory), at=time.time())))

    def _run(self):
        while not self._stop.wait(1.0):
            self._write()


def size(count):
    """A byte count as a person reads it."""
    for unit, factor in (('GB', 1e9), ('MB', 1e6), ('kB', 1e3)):
        if count >= factor:
            return '%.1f %s' % (count / factor, unit)
    return '%d B' % count


def describe(record):
    """One line of progress: done of about how much, the rate, and the time left at that rate."""
    elapsed = max(record['at'] - record['started'], 0.001)
    rate = record['done'] / elapsed
    line = '%s: %s of about %s, %s/s' % (record['what'], size(record['done']), size(record['total']), size(rate))
    left = record['total'] - record['done']
    # Not from the first bytes (headers, small tables): the rate says little yet.
    if rate > 0 and left > 0 and record['done'] >= record['total'] / 20:
        line += ', about %d s left' % (left / rate + 0.5)
    return line
