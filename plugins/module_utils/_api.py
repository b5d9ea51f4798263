# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one client of the On-Premises REST API that every module of this collection uses.

Private to the collection: the interface may change between minor versions.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import json
import re
import socket
import ssl
import time

from urllib.error import HTTPError, URLError

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.urls import open_url

RETRY_STATUSES = (429, 500, 502, 503, 504)
PASSWORD_CHANGE_REQUIRED = 1024


def api_argument_spec():
    """The connection options of every API module (documented in the wabiz.migration.api doc fragment)."""
    return dict(
        api_url=dict(type='str', required=True, fallback=(env_fallback, ['WA_API_URL'])),
        api_username=dict(type='str', default='admin', fallback=(env_fallback, ['WA_API_USERNAME'])),
        api_password=dict(type='str', no_log=True, fallback=(env_fallback, ['WA_API_PASSWORD'])),
        api_token=dict(type='str', no_log=True, fallback=(env_fallback, ['WA_API_TOKEN'])),
        validate_certs=dict(type='bool', default=True, fallback=(env_fallback, ['WA_API_VALIDATE_CERTS'])),
        ca_path=dict(type='path', fallback=(env_fallback, ['WA_API_CA_PATH'])),
        allow_http=dict(type='bool', default=False),
        timeout=dict(type='int', default=30),
        retries=dict(type='int', default=3),
    )


class ApiError(Exception):
    """A failed request: method, URL, HTTP status (None when there was no answer) and the API's errors."""

    def __init__(self, method, url, status, errors=None, reason=None):
        self.method = method
        self.url = url
        self.status = status
        self.errors = errors or []
        self.reason = reason
        super(ApiError, self).__init__(self.describe())

    @property
    def code(self):
        return self.errors[0].get('code') if self.errors else None

    @property
    def details(self):
        return self.errors[0].get('details', '') if self.errors else ''

    def describe(self):
        if self.status is None:
            return '%s %s: no answer (%s)' % (self.method, self.url, self.reason)
        text = '%s %s returned HTTP %s' % (self.method, self.url, self.status)
        if self.errors:
            text += ': ' + '; '.join(_describe_error(e) for e in self.errors)
        elif self.reason:
            text += ': %s' % self.reason
        return text

    def fail_kwargs(self, hint=None):
        msg = self.describe() if hint is None else '%s. %s' % (self.describe(), hint)
        return dict(msg=msg, method=self.method, url=self.url, status=self.status, errors=self.errors)


def _describe_error(error):
    details = ' (%s)' % error['details'] if error.get('details') else ''
    return '%s %s%s' % (error.get('code'), error.get('title', ''), details)


def parse_expiry(text):
    """``expires_after`` as an aware datetime: PHP's 'Y-m-d H:i:sP' or ISO 8601 with 'Z'."""
    match = re.match(r'^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?$', text.strip())
    if not match:
        raise ValueError('unrecognised expires_after %r' % text)
    parts = [int(p) for p in match.groups()[:6]]
    zone = match.group(7) or 'Z'
    offset = datetime.timedelta(0)
    if zone != 'Z':
        sign = -1 if zone[0] == '-' else 1
        digits = zone[1:].replace(':', '')
        offset = sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return datetime.datetime(*parts, tzinfo=datetime.timezone(offset))


def seconds_left(expires_after, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return int((parse_expiry(expires_after) - now).total_seconds())


class WaApi(object):
    """Requests with retries and back-off, bearer auth and one new login when a token is rejected."""

    def __init__(self, url, username=None, password=None, token=None, validate_certs=True, ca_path=None,
                 timeout=30, retries=3, backoff=1.0, sleep=time.sleep):
        self.url = url.rstrip('/')
        self.username = username
        self.password = password
        self.token = token
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self.sleep = sleep
        self.login_result = None

    @classmethod
    def from_module(cls, module):
        params = module.params
        if not params['validate_certs']:
            module.warn('validate_certs is off: the web app\'s identity is not checked. Give its CA with '
                        'ca_path instead.')
        return cls(params['api_url'], params['api_username'], params['api_password'], params['api_token'],
                   params['validate_certs'], params['ca_path'], params['timeout'], params['retries'])

    # one request -------------------------------------------------------------------------------
    def _send(self, method, path, body=None, basic=None):
        url = self.url + path
        headers = {'Accept': 'application/json'}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers['Content-Type'] = 'application/json'
        if basic:
            headers['Authorization'] = 'Basic ' + base64.b64encode(
                ('%s:%s' % basic).encode('utf-8')).decode('ascii')
        elif self.token:
            headers['Authorization'] = 'Bearer ' + self.token
        attempt = 0
        while True:
            status, reply, reason, wait = self._attempt(method, url, data, headers)
            retryable = status is None and reason != 'tls' or status in RETRY_STATUSES
            if not retryable or attempt >= self.retries:
                break
            self.sleep(wait if wait is not None else self.backoff * (2 ** attempt))
            attempt += 1
        if reason == 'tls':
            raise ApiError(method, url, None, reason='TLS certificate of %s not trusted: give the CA that signed '
                                                     'it with ca_path' % self.url)
        return status, reply, reason

    def _attempt(self, method, url, data, headers):
        """(status, parsed body, reason, seconds to wait before a retry)."""
        try:
            response = open_url(url, data=data, headers=headers, method=method, timeout=self.timeout,
                                validate_certs=self.validate_certs, ca_path=self.ca_path, follow_redirects='none')
            return response.getcode(), _parse(response.read()), None, None
        except HTTPError as exc:
            body = exc.read() if hasattr(exc, 'read') else b''
            retry_after = exc.headers.get('Retry-After') if exc.headers else None
            wait = min(int(retry_after), 60) if retry_after and retry_after.isdigit() else None
            return exc.code, _parse(body), exc.reason, wait
        except URLError as exc:
            if isinstance(exc.reason, ssl.SSLCertVerificationError) or 'CERTIFICATE_VERIFY_FAILED' in str(exc):
                return None, None, 'tls', None
            return None, None, str(exc.reason), None
        except (socket.timeout, ConnectionError, ssl.SSLError) as exc:
            if 'CERTIFICATE_VERIFY_FAILED' in str(exc):
                return None, None, 'tls', None
            return None, None, str(exc), None

    def request(self, method, path, body=None, expect=(200,)):
        """The parsed reply of an authenticated call; raises ApiError for anything but ``expect``."""
        if not self.token:
            self.login()
        status, reply, reason = self._send(method, path, body)
        if status == 401 and self.password:
            self.login()
            status, reply, reason = self._send(method, path, body)
        return self._check(method, path, status, reply, reason, expect)

    def _check(self, method, path, status, reply, reason, expect):
        if status in expect:
            return reply
        errors = reply.get('errors') if isinstance(reply, dict) else None
        raise ApiError(method, self.url + path, status, errors, reason)

    # login -------------------------------------------------------------------------------------
    def login(self, new_password=None):
        """Log in with Basic auth; returns the ``users[0]`` entry (token, expires_after)."""
        if not self.password:
            raise ApiError('POST', self.url + '/v1/users/login', None,
                           reason='no api_token was accepted and no api_password is given to log in')
        body = {'new_password': new_password} if new_password else None
        status, reply, reason = self._send('POST', '/v1/users/login', body, basic=(self.username, self.password))
        entry = self._check('POST', '/v1/users/login', status, reply, reason, (200,))['users'][0]
        if new_password:
            self.password = new_password
        self.token = entry['token']
        self.login_result = entry
        return entry


def _parse(raw):
    if not raw:
        return {}
    try:
        return json.loads(raw.decode('utf-8') if isinstance(raw, bytes) else raw)
    except ValueError:
        return {'errors': [{'code': None, 'title': 'not JSON', 'details': raw[:200].decode('utf-8', 'replace')
                            if isinstance(raw, bytes) else raw[:200]}]}


# The health object of /v1/health, one parser for every module that reads it.
GOOD = ('connected', 'connecting')


def summarise(health):
    """Per-node rows and counts from a health object of either shape."""
    if 'gateway_status' in health:
        nodes = [dict(node='single', gateway_status=health['gateway_status'], role=None, error=None)]
        multiconnect = False
    else:
        multiconnect = True
        nodes = []
        for node, status in sorted(health.items()):
            error = None
            if 'errors' in status:
                first = status['errors'][0] if status['errors'] else {}
                error = '%s %s' % (first.get('code'), first.get('details') or first.get('title', ''))
            nodes.append(dict(node=node, gateway_status=status.get('gateway_status'), role=status.get('role'),
                              error=error))
    counts = dict(primary_master=0, secondary_master=0, coreapp=0, unknown=0)
    for row in nodes:
        if multiconnect:
            counts[row['role'] if row['role'] in counts else 'unknown'] += 1
    connected = sum(1 for row in nodes if row['gateway_status'] in GOOD and row['role'] in (None, 'coreapp'))
    summary = dict(health=health, multiconnect=multiconnect, nodes=nodes, role_counts=counts,
                   masters=counts['primary_master'] + counts['secondary_master'] if multiconnect else 0,
                   coreapps=counts['coreapp'] if multiconnect else 1, connected_coreapps=connected)
    return summary
