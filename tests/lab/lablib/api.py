# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small HTTPS client for the lab and the conformance tests (the collection has its own)."""

import time

import requests


class ApiFailure(Exception):
    def __init__(self, response):
        self.status = response.status_code
        try:
            self.body = response.json()
        except ValueError:
            self.body = {"raw": response.text}
        super().__init__("%s %s -> %s %s" % (response.request.method, response.request.url, self.status,
                                             self.body.get("errors")))


class Client:
    def __init__(self, url, ca_path, token=None):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        # Passed on every request: a session-wide verify loses to REQUESTS_CA_BUNDLE (requests issue 3829).
        self.ca_path = ca_path
        self.token = token

    def request(self, method, path, body=None, auth=None, token=None, expect=None):
        headers = {}
        bearer = token or self.token
        if bearer and auth is None:
            headers["Authorization"] = "Bearer " + bearer
        response = self.session.request(method, self.url + path, json=body, auth=auth, headers=headers, timeout=30,
                                        verify=self.ca_path)
        if expect is not None and response.status_code != expect:
            raise ApiFailure(response)
        return response

    def call(self, method, path, body=None, expect=200):
        return self.request(method, path, body, expect=expect).json()

    def login(self, username, password, new_password=None):
        body = {"new_password": new_password} if new_password else None
        reply = self.request("POST", "/v1/users/login", body, auth=(username, password), expect=200).json()
        self.token = reply["users"][0]["token"]
        return self.token

    def wait_health(self, timeout=60, want=("connected",), shards=None):
        """Wait until the single node, or ``shards`` coreapps of a multiconnect setup, are connected."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                response = self.request("GET", "/v1/health")
            except requests.ConnectionError as exc:  # a web app that restarts does not listen for a moment
                last = repr(exc)
                time.sleep(0.3)
                continue
            last = response.json()
            if response.status_code == 200 and healthy(last["health"], want, shards):
                return last["health"]
            time.sleep(0.3)
        raise TimeoutError("health did not become %s within %ss: %s" % (want, timeout, last))


def healthy(health, want=("connected",), shards=None):
    if "gateway_status" in health:
        return health["gateway_status"] in want
    nodes = list(health.values())
    if any("errors" in node for node in nodes):
        return False
    if not any(node.get("role") == "primary_master" for node in nodes):
        return False  # no master holds the lease yet: settings, backup and shards would fail
    serving = sum(1 for node in nodes if node.get("role") == "coreapp" and node.get("gateway_status") in want)
    return serving == shards if shards else serving > 0
