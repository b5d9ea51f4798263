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

try:
    from urllib.parse import urlsplit
except ImportError:  # Python 2 (ansible-test's compile checks only)
    from urlparse import urlsplit

RULES = {
    'pin': (re.compile(r'^[0-9]{6}\Z'), 'must be exactly six digits'),
    # A phone number or WhatsApp id: digits, optionally a leading + and the usual separators, 5 to 20 long.
    'recipient': (re.compile(r'^\+?[0-9][0-9 ()-]{4,19}\Z'),
                  'must be a phone number of 5 to 20 digits, such as +4915100000001'),
}
URL_RULE = 'must start with https:// (or http://): it must be a URL with its scheme, such as https://host:443'


def url_problem(value, https_only=False, opt_in=None):
    """Why ``value`` is no URL the collection sends requests to (parsed, not prefix-matched), or None. With
    ``https_only``, http:// is refused (credentials would cross the network in clear) unless ``opt_in``, the
    setting that allows it, is named in the message."""
    if not isinstance(value, str) or not value:
        return URL_RULE
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return 'must be a URL without spaces or control characters'
    try:
        parts = urlsplit(value)
        parts.port  # pylint: disable=pointless-statement
    except ValueError as exc:
        return 'is no URL (%s)' % exc
    if parts.scheme not in ('https', 'http') or not parts.hostname:
        return URL_RULE
    if parts.username is not None or parts.password is not None:
        return 'must not carry credentials (user:password@): give them in their own settings'
    if https_only and parts.scheme == 'http':
        return ('is http://: the admin password and the API tokens would cross the network unencrypted. Use the '
                'client\'s https:// address, or set %s=true to accept that' % opt_in)
    return None


def problem(value, kind, name, opt_in=None):
    """Why ``value`` is not a valid ``kind`` (pin, recipient, url, api_url: https only unless ``opt_in``), said of
    ``name`` (the option or variable that holds it), or None when it is valid."""
    if kind in ('url', 'api_url'):
        rule = url_problem(value, https_only=kind == 'api_url', opt_in=opt_in)
        if rule is None:
            return None
    else:
        pattern, rule = RULES[kind]
        if isinstance(value, str) and pattern.match(value):
            return None
    shown = '' if kind == 'pin' else ' (it is %s)' % ('empty' if not value else repr(value))
    return '%s %s%s' % (name, rule, shown)
