# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The test suite's compile cache for modules run from a zip (tools/test puts this folder on PYTHONPATH).

Ansible runs each module task as a new Python process that imports the module and ansible.module_utils from a
zip (AnsiballZ). zipimport never caches bytecode, so every task compiles the same sources again: about 0.15 s of
its 0.5 s on this machine, and a migration runs about 40 such tasks. The code objects are kept here by the
source's hash, with the file name of each import put back, so the modules run and fail exactly as without the
cache. Only the suite uses it (WABIZ_COMPILE_CACHE names the folder): bench/run measures what a user gets.
"""

import os


def _install(folder):
    import hashlib
    import marshal
    import sys
    import tempfile
    import zipimport

    compile_source = zipimport._compile_source  # pylint: disable=protected-access
    tag = sys.implementation.cache_tag

    def renamed(code, filename):
        consts = tuple(renamed(c, filename) if isinstance(c, type(code)) else c for c in code.co_consts)
        return code.replace(co_filename=filename, co_consts=consts)

    def cached_compile_source(pathname, source):
        key = hashlib.sha256(source).hexdigest()
        path = os.path.join(folder, "%s-%s" % (tag, key))
        try:
            with open(path, "rb") as handle:
                return renamed(marshal.load(handle), pathname)
        except (OSError, EOFError, ValueError, TypeError):
            pass
        code = compile_source(pathname, source)
        handle, temporary = tempfile.mkstemp(dir=folder)
        with os.fdopen(handle, "wb") as out:
            marshal.dump(code, out)
        os.replace(temporary, path)  # whole or not at all, with two workers writing
        return code

    zipimport._compile_source = cached_compile_source  # pylint: disable=protected-access


if os.path.isdir(os.environ.get("WABIZ_COMPILE_CACHE", "")):
    _install(os.environ["WABIZ_COMPILE_CACHE"])
