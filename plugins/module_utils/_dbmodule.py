# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every database module shares: the connection options and the client's prefix, a second server it writes
into (never its source), the lock on its work directory, the tools' view of a server, and one way to fail."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.wabiz.migration.plugins.module_utils._db import (
    DbError, Server, check_tls, db_argument_spec, tls_of)
from ansible_collections.wabiz.migration.plugins.module_utils._dbtools import ToolError, WorkLock
from ansible_collections.wabiz.migration.plugins.module_utils._fence import FenceBroken


class DbModule(object):
    """A database module, used as a context manager around its work: a DbError, ToolError or FenceBroken raised
    inside fails the module with its message (plus ``fail_extra``); the servers are closed and the work lock
    released however the work ends.

    ``work_dir``: the name of the option holding the directory the module writes or reads (dest, src), whose
    ``<dir>.lock`` keeps an earlier run's orphaned dump or restore of it from running beside this one.
    """

    def __init__(self, argument_spec, work_dir=None, **kwargs):
        spec = db_argument_spec()
        if work_dir:
            spec['lock_timeout'] = dict(type='int', default=900)
        spec.update(argument_spec)
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=True, **kwargs)
        self.params = self.module.params
        self.server = Server.from_module(self.module)
        self._servers = [self.server]
        self._lock = WorkLock(self.params[work_dir].rstrip('/') + '.lock', self.params['lock_timeout']) \
            if work_dir else None
        self.fail_extra = {}

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, trace):
        if self._lock is not None:
            self._lock.release()
        for server in self._servers:
            server.close()
        if isinstance(exc, (DbError, ToolError, FenceBroken)):
            self.module.fail_json(msg=str(exc), **self.fail_extra)
        return False

    def lock(self):
        """Wait for an earlier run's orphaned work on the same directory to end, then hold the directory."""
        self._lock.acquire()

    def target(self, options):
        """The server a target suboption (restore_to, target) names, of the module's engine."""
        if options.get('engine') not in (None, self.params['engine']):
            raise ToolError('the target is a %s server, the source %s: a copy needs the same engine on both'
                            % (options['engine'], self.params['engine']))
        tls = tls_of(options)
        check_tls(tls)
        server = Server(self.params['engine'], options['login_host'], options['login_port'], options['login_user'],
                        options['login_password'], self.params['connect_timeout'], tls=tls)
        self._servers.append(server)
        return server

    @staticmethod
    def never_into_source(target, source_identity, source):
        """A migration never writes to its source: refuses a target that is the source server itself."""
        if target.identity() == source_identity:
            raise ToolError('the target %s is the source server (%s): a migration never writes to its source'
                            % (target.describe(), source))

    @staticmethod
    def replaceable(target, names, replace):
        """The target names already on ``target``; refused unless ``replace`` (they are then to be dropped)."""
        present = sorted(set(names) & set(target.databases()))
        if present and not replace:
            raise ToolError('the target %s already holds %s: refusing to overwrite (replace=true drops them)'
                            % (target.describe(), ', '.join(present)))
        return present
