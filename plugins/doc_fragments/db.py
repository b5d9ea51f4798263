# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  engine:
    description:
      - V(mysql) for MySQL or MariaDB, V(pgsql) for PostgreSQL (the client's C(WA_DB_ENGINE) in lower case).
      - If not set, the environment variable E(WA_DB_ENGINE) is used.
    type: str
    required: true
    choices: [mysql, pgsql]
  login_host:
    description: Database server address. If not set, E(WA_DB_HOSTNAME) is used.
    type: str
    default: 127.0.0.1
  login_port:
    description: Its port; 3306 or 5432 when not given. If not set, E(WA_DB_PORT) is used.
    type: int
  login_user:
    description: Database user. If not set, E(WA_DB_USERNAME) is used.
    type: str
    default: root
  login_password:
    description: Its password. If not set, E(WA_DB_PASSWORD) is used.
    type: str
  ssl_mode:
    description:
      - TLS to the server, as libpq's C(sslmode). V(disable) never; V(prefer) when the server offers it, without
        checking its certificate; V(require) always, without checking it; V(verify-ca) always, with a certificate
        signed by O(ca_cert); V(verify-full) also for the name in O(login_host).
      - On MySQL/MariaDB the same modes apply to the module's own connections; the dump and load tools get
        C(ssl-mode) (MySQL 8) or C(ssl-verify-server-cert) (MariaDB, with V(verify-full) only, as its tools check
        the name with the certificate) in their option file.
    type: str
    default: prefer
    choices: [disable, prefer, require, verify-ca, verify-full]
  ca_cert:
    description: The CA that signed the server's certificate (PEM), for O(ssl_mode=verify-ca) and V(verify-full).
    type: path
  client_cert:
    description: A client certificate (PEM) to log in with, for servers that require one; with O(client_key).
    type: path
  client_key:
    description: Its private key (PEM).
    type: path
  connect_timeout:
    description: Seconds to wait for a connection.
    type: int
    default: 10
  name_prefix:
    description:
      - The client's database prefix (its C(WA_DB_NAME_PREFIX)), of letters, digits and C(_). Its databases are
        exactly C(<prefix>wacore), C(<prefix>waweb), C(<prefix>wamessages) and C(<prefix>wamessages_<shard>); no
        module lists, copies, captures, fences, restores or drops any other database, whatever its name starts
        with (an empty prefix takes neither another application's databases nor another client's).
      - With the connection options, one server's options for C(module_defaults) of C(group/wabiz.migration.db).
    type: str
    default: ''
requirements:
  - PyMySQL (O(engine=mysql)) or psycopg2 (O(engine=pgsql)) on the host that runs the module.
'''

    ATTRIBUTES = r'''
attributes:
  platform:
    support: full
    platforms: posix
'''

    # db_sync and db_capture: how many rows of differing row groups they hold at a time.
    ROWS_IN_MEMORY = r'''
options:
  rows_in_memory:
    description:
      - At most this many rows of a table's differing row groups (both servers' together) are compared in memory
        at a time, a few tens of MB per 100 000. More are split by ranges of row groups into private files in
        O(dest) (a primary key and a digest per row) and compared range by range. Each server's rows are read
        once either way. Lower it where the host that runs the module is short of memory.
    type: int
    default: 200000
'''

    # db_dump and db_restore: the lock on the dump directory.
    WORK_LOCK = r'''
options:
  lock_timeout:
    description:
      - Seconds to wait for an earlier run's dump or restore of the same directory (C(<directory>.lock)) to
        finish. A controller that died leaves its modules running; a re-run waits for them, then starts over.
    type: int
    default: 900
'''
