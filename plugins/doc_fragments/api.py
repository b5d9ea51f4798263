# -*- coding: utf-8 -*-
# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  api_url:
    description:
      - Base URL of the On-Premises client's web app, for example V(https://wa.example.com:9090).
      - If not set, the environment variable E(WA_API_URL) is used, so an AWX credential can inject it.
    type: str
    required: true
  api_username:
    description:
      - User to log in with (HTTP Basic auth on C(/v1/users/login)).
      - Needed when O(api_token) is not given, and used for one new login when a given token is rejected.
      - If not set, the environment variable E(WA_API_USERNAME) is used.
    type: str
    default: admin
  api_password:
    description:
      - Password of O(api_username).
      - If not set, the environment variable E(WA_API_PASSWORD) is used.
    type: str
  api_token:
    description:
      - A bearer token from an earlier login. When it is rejected with HTTP 401 and O(api_password) is
        given, the module logs in once more and repeats the request.
      - If not set, the environment variable E(WA_API_TOKEN) is used.
    type: str
  validate_certs:
    description:
      - Verify the web app's TLS certificate. The client's default certificate is self-signed, so give its
        CA with O(ca_path) rather than turning this off; turning it off prints a warning.
      - If not set, the environment variable E(WA_API_VALIDATE_CERTS) is used.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the CA that signed the web app's certificate.
      - If not set, the environment variable E(WA_API_CA_PATH) is used.
    type: path
  allow_http:
    description:
      - Accept an C(http://) O(api_url). Without it such a URL is refused, as the admin password and the API tokens
        would cross the network unencrypted. The URL is parsed (scheme, host, port); spaces, control characters
        and credentials in it are refused either way.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for one HTTP response.
    type: int
    default: 30
  retries:
    description:
      - How many times to repeat a request that got HTTP 429, a 5xx status or no connection, waiting 1, 2,
        4, ... seconds in between. V(0) sends each request once.
    type: int
    default: 3
notes:
  - Every failure reports the HTTP method, the URL, the HTTP status and the API's C(errors) list.
'''

    ATTRIBUTES = r'''
attributes:
  platform:
    support: full
    platforms: posix
  action_group:
    description: Use C(group/wabiz.migration.api) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - wabiz.migration.api
'''
