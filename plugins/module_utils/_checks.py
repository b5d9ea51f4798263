# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The values the API modules validate, one rule each: the modules check their own inputs with them, and the
preflight (through the filter wabiz.migration.invalid) checks the migration's settings by the same rules before
the downtime, where the module that takes a value only runs after it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

RULES = {
    'pin': (re.compile(r'^[0-9]{6}$'), 'must be exactly six digits'),
    # A phone number or WhatsApp id: digits, optionally a leading + and the usual separators, 5 to 20 long.
    'recipient': (re.compile(r'^\+?[0-9][0-9 ()-]{4,19}$'),
                  'must be a phone number of 5 to 20 digits, such as +4915100000001'),
    'url': (re.compile(r'^https?://[^/\s]+'),
            'must start with https:// (or http://): it must be a URL with its scheme, such as https://host:443'),
}


def problem(value, kind, name):
    """Why ``value`` is not a valid ``kind`` (pin, recipient, url), said of ``name`` (the option or variable
    that holds it), or None when it is valid."""
    pattern, rule = RULES[kind]
    if isinstance(value, str) and pattern.match(value):
        return None
    shown = '' if kind == 'pin' else ' (it is %s)' % ('empty' if not value else repr(value))
    return '%s %s%s' % (name, rule, shown)
