# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private files: every file the collection writes (journal, report, manifests, lock, settings backup)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import tempfile


def write(path, content):
    """Write ``content`` (text or bytes) to ``path``, mode 0600, atomically: a reader (or a crash) never sees a
    partial file, and the content is on disk before the name points at it."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or '.', prefix='.%s.' % os.path.basename(path))
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(content.encode('utf-8') if not isinstance(content, bytes) else content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
