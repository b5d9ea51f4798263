# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's entry point (tests/lab/lab runs it); see lablib/cli.py or 'lab --help'."""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

if not all(importlib.util.find_spec(name) for name in ("psycopg2", "pymysql", "requests")):
    sys.exit("lab: the Python packages are missing: run tools/bootstrap first")

sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "emulator")]
from lablib.cli import main  # noqa: E402  pylint: disable=wrong-import-position

sys.exit(main())
