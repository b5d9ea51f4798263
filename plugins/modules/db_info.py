#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: db_info
short_description: List an On-Premises client's databases with sizes, row counts and checksums
version_added: 1.0.0
description:
  - Connects to the client's MySQL/MariaDB or PostgreSQL server and returns the client's databases, those named
    by its prefix (C(WA_DB_NAME_PREFIX)) followed by exactly one of the client's names (C(wacore), C(waweb),
    C(wamessages), C(wamessages_<shard>)), with optional include and exclude lists. Every other database whose
    name starts with the prefix (another client's with a longer prefix, another application's) is listed in
    RV(not_the_clients) and left alone.
  - For each database, its size, and per table an exact row count and optionally a content checksum, so a
    restore can be verified against the source and a dump sized before any downtime.
  - Reads only; the server is never changed.
author:
  - wabiz.migration maintainers (@wabiz)
seealso:
  - module: wabiz.migration.db_dump
  - module: wabiz.migration.db_drop
  - module: community.mysql.mysql_info
  - module: community.postgresql.postgresql_info
options:
  include:
    description:
      - Only these databases. Each must be one of the client's and exist, or the module fails naming the others.
    type: list
    elements: str
  exclude:
    description: Leave these databases out, for example C(waweb) for option 2 of the migration.
    type: list
    elements: str
  row_counts:
    description: Count the rows of every table exactly.
    type: bool
    default: true
  checksums:
    description:
      - Compute a content checksum of every table (C(CHECKSUM TABLE) on MySQL/MariaDB; on PostgreSQL 11 or later
        sums of two seeded 64-bit hashes of each row, counting the rows in the same scan). Equal data on two
        servers of the same engine and version gives equal checksums.
      - Reads every row, so on large databases this takes about as long as a dump.
    type: bool
    default: false
  allow_empty:
    description: Succeed when no database matches, instead of failing.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - wabiz.migration.db
  - wabiz.migration.db.attributes
attributes:
  check_mode:
    support: full
    details: Read-only; behaves the same in check mode.
  diff_mode:
    support: N/A
'''

EXAMPLES = r'''
- name: What option 2 will dump from the old server
  wabiz.migration.db_info:
    engine: mysql
    login_host: db-old.example.com
    login_user: root
    login_password: "{{ vault_old_db_password }}"
    exclude: [waweb]
  register: old_dbs

- name: Verify a restore table by table
  wabiz.migration.db_info:
    engine: pgsql
    login_port: 5432
    login_password: "{{ vault_new_db_password }}"
    include: "{{ old_dbs.names }}"
    checksums: true
  register: new_dbs
'''

RETURN = r'''
names:
  description: The chosen databases, sorted.
  returned: success
  type: list
  elements: str
  sample: [wacore, wamessages_0, waweb]
not_the_clients:
  description: The databases whose names start with O(name_prefix) that are not the client's, left alone.
  returned: success
  type: list
  elements: str
  sample: [acme_eu_wacore, acme_reports]
databases:
  description: Per database, C(size_bytes) and C(tables) with C(rows) and C(checksum) per table.
  returned: success
  type: dict
  sample: {wacore: {size_bytes: 1114112, tables: {callbacks: {rows: 250, checksum: "1737460121"}}}}
total_size_bytes:
  description: Sum of the chosen databases' sizes.
  returned: success
  type: int
  sample: 1310720000
server_version:
  description: The server's version string.
  returned: success
  type: str
  sample: 10.11.19-MariaDB-0+deb12u1
grant_to_create:
  description:
    - The statement that grants what the user lacks to create the client's databases on this server and fill
      them (as a migration's target does), or an empty string when it lacks nothing.
    - MySQL/MariaDB counts the rights granted on every database (C(ON *.*)); PostgreSQL needs C(CREATEDB) or a
      superuser.
  returned: success
  type: str
  sample: GRANT CREATE, DROP ON *.* TO `wa_admin`@`%`
identity:
  description:
    - Names the server itself, wherever it is reached from (loopback addresses and ports repeat across hosts),
      as C(mysql:<hostname>:<port>:<datadir>) or C(pgsql:<system identifier>).
    - Two setups whose identities are equal use one database server.
  returned: success
  type: str
  sample: "pgsql:7441394517718823104"
'''

from ansible_collections.wabiz.migration.plugins.module_utils._db import DbError, unverified_warning
from ansible_collections.wabiz.migration.plugins.module_utils._dbmodule import DbModule


def main():
    db = DbModule(dict(include=dict(type='list', elements='str'), exclude=dict(type='list', elements='str'),
                       row_counts=dict(type='bool', default=True), checksums=dict(type='bool', default=False),
                       allow_empty=dict(type='bool', default=False)))
    params, server = db.params, db.server
    if unverified_warning(server):
        db.module.warn(unverified_warning(server))
    with db:
        names = server.select(params['name_prefix'], params['include'], params['exclude'])
        others = server.strangers(params['name_prefix'])
        if not names and not params['allow_empty']:
            raise DbError('No client database (%swacore, ...) on the %s%s' % (
                params['name_prefix'], server.describe(),
                ' without %s' % ', '.join(params['exclude']) if params['exclude'] else ''))
        databases = dict((name, server.inventory(name, params['row_counts'], params['checksums'])) for name in names)
        version = server.version()
        identity = server.identity()
        grant = server.grant_to_create()
    db.module.exit_json(changed=False, names=names, not_the_clients=others, databases=databases,
                        server_version=version, identity=identity,
                        total_size_bytes=sum(d['size_bytes'] for d in databases.values()), grant_to_create=grant)


if __name__ == '__main__':
    main()
