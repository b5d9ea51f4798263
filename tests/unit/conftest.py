# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit-test helpers: a fake HTTP layer under the API client, and a runner for one module's main()."""

import io
import json
import urllib.error

import pytest

from ansible.module_utils import basic

from ansible_collections.wabiz.migration.plugins.module_utils import _api


class FakeResponse:
    def __init__(self, status, body):
        self.status = status
        self.body = body

    def getcode(self):
        return self.status

    def read(self):
        return self.body


class FakeServer:
    """Answers open_url from a list of (method, path, status, body) in order, and records the requests."""

    def __init__(self):
        self.replies = []
        self.requests = []

    def add(self, method, path, status=200, body=None):
        self.replies.append((method, path, status, body if body is not None else {}))
        return self

    def fail_with(self, exc):
        self.replies.append(exc)
        return self

    def __call__(self, url, data=None, headers=None, method=None, **kwargs):
        assert self.replies, "unexpected request %s %s" % (method, url)
        if isinstance(self.replies[0], Exception):
            self.requests.append({"method": method, "url": url, "headers": headers, "kwargs": kwargs})
            raise self.replies.pop(0)
        want_method, want_path, status, body = self.replies.pop(0)
        assert (method, url.split("://", 1)[1].split("/", 1)[1]) == (want_method, want_path.lstrip("/")), (
            method, url)
        self.requests.append({"method": method, "url": url, "body": json.loads(data) if data else None,
                              "headers": headers, "kwargs": kwargs})
        raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
        if status >= 400:
            headers = body.pop("_headers", {}) if isinstance(body, dict) else {}
            raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
            raise urllib.error.HTTPError(url, status, "error", headers, io.BytesIO(raw))
        return FakeResponse(status, raw)


@pytest.fixture
def server(monkeypatch):
    fake = FakeServer()
    monkeypatch.setattr(_api, "open_url", fake)
    return fake


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super().__init__(result)
        self.result = result
        self.failed = failed


@pytest.fixture
def run_module(monkeypatch):
    """run_module(module, args) -> the result, with ``failed`` set as fail_json would."""
    def exit_json(self, **kwargs):
        raise ModuleExit(kwargs, False)

    def fail_json(self, **kwargs):
        raise ModuleExit(kwargs, True)

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)

    def run(module, args):
        args = dict(args)
        args.setdefault("_ansible_remote_tmp", "/tmp")
        args.setdefault("_ansible_keep_remote_files", False)
        try:
            from ansible.module_utils.testing import patch_module_args
        except ImportError:
            patch_module_args = None
        try:
            if patch_module_args:
                with patch_module_args(args):
                    module.main()
            else:
                monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode())
                module.main()
        except ModuleExit as done:
            return dict(done.result, failed=done.failed)
        raise AssertionError("the module returned without exit_json or fail_json")

    return run
