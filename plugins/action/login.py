# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.wabiz.migration.plugins.plugin_utils._censored_result import CensoredResultAction


class ActionModule(CensoredResultAction):
    SECRET_KEY = 'token'
