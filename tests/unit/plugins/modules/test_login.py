# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""login: first-login password change, a re-run after it, min_validity, check mode."""

from ansible.module_utils import basic

from ansible_collections.wabiz.migration.plugins.modules import login

BASE = {"api_url": "https://wa:9090", "api_password": "secret"}
FUTURE = {"users": [{"token": "tok", "expires_after": "2099-01-01 00:00:00+00:00"}]}
CHANGE = {"errors": [{"code": 1024, "title": "Password change required", "details": "Password must be changed"}]}


def test_first_login_changes_the_password(server, run_module):
    server.add("POST", "/v1/users/login", 401, CHANGE).add("POST", "/v1/users/login", 200, FUTURE)
    result = run_module(login, dict(BASE, new_password="New#Passw0rd"))
    assert not result["failed"] and result["changed"] and result["password_changed"] and result["token"] == "tok"
    assert server.requests[1]["body"] == {"new_password": "New#Passw0rd"}


def test_change_required_without_new_password_says_what_to_do(server, run_module):
    server.add("POST", "/v1/users/login", 401, CHANGE)
    result = run_module(login, BASE)
    assert result["failed"] and "set new_password" in result["msg"] and result["status"] == 401


def test_rerun_after_the_change_logs_in_with_the_new_password(server, run_module):
    server.add("POST", "/v1/users/login", 401, {"errors": [{"code": 1005, "title": "Access denied"}]})
    server.add("POST", "/v1/users/login", 200, FUTURE)
    result = run_module(login, dict(BASE, new_password="New#Passw0rd"))
    assert not result["failed"] and not result["changed"]
    assert server.requests[1]["headers"]["Authorization"] != server.requests[0]["headers"]["Authorization"]


def test_min_validity(server, run_module):
    server.add("POST", "/v1/users/login", 200, {"users": [{"token": "t", "expires_after": "2000-01-01 00:00:00+00:00"}]})
    result = run_module(login, dict(BASE, min_validity=60))
    assert result["failed"] and "sooner than min_validity 60 s" in result["msg"] and "token" not in result


def test_check_mode_never_changes_the_password(server, run_module):
    server.add("POST", "/v1/users/login", 401, CHANGE)
    result = run_module(login, dict(BASE, new_password="New#Passw0rd", _ansible_check_mode=True))
    assert not result["failed"] and result["changed"] and len(server.requests) == 1


def test_an_api_url_without_scheme_is_refused_before_any_request(server, run_module):
    result = run_module(login, dict(BASE, api_url="wa:9090"))
    assert result["failed"] and "must be a URL with its scheme" in result["msg"] and server.requests == []


def test_turning_tls_verification_off_warns(server, run_module, monkeypatch):
    # Caught where the module warns: in a process that also loaded controller code (the filter tests), the
    # global warning list is the controller's display instead.
    warned = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, text: warned.append(text))
    server.add("POST", "/v1/users/login", 200, FUTURE)
    result = run_module(login, dict(BASE, validate_certs=False))
    assert not result["failed"]
    assert any("validate_certs is off" in w for w in warned)
