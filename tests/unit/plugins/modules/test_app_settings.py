# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""app_settings: idempotent PATCH of only what differs, diff, check mode, reset."""

from ansible_collections.wabiz.migration.plugins.modules import app_settings

BASE = {"api_url": "https://wa:9090", "api_token": "t"}
CURRENT = {"webhooks": {"url": "https://old/hook", "max_concurrent_requests": 6}, "callback_backoff_delay_ms": 3000}


def reply(settings):
    return {"settings": {"application": settings}}


def test_same_and_merged():
    assert app_settings.same(CURRENT, {"webhooks": {"url": "https://old/hook"}, "callback_backoff_delay_ms": "3000"})
    assert not app_settings.same(CURRENT, {"webhooks": {"url": "https://new/hook"}})
    assert not app_settings.same({"x": 1}, {"x": True})
    assert app_settings.merged(CURRENT, {"webhooks": {"url": "u"}})["webhooks"] == {
        "url": "u", "max_concurrent_requests": 6}


def test_patches_only_when_different_with_diff(server, run_module):
    new = {"webhooks": {"url": "https://new/hook"}}
    server.add("GET", "/v1/settings/application", 200, reply(CURRENT))
    server.add("PATCH", "/v1/settings/application", 200, {})
    server.add("GET", "/v1/settings/application", 200, reply(app_settings.merged(CURRENT, new)))
    result = run_module(app_settings, dict(BASE, settings=new, _ansible_diff=True))
    assert not result["failed"] and result["changed"] and server.requests[1]["body"] == new
    assert result["diff"]["before"]["webhooks"]["url"] == "https://old/hook"
    assert result["diff"]["after"]["webhooks"]["url"] == "https://new/hook"

    server.add("GET", "/v1/settings/application", 200, reply(app_settings.merged(CURRENT, new)))
    result = run_module(app_settings, dict(BASE, settings=new))
    assert not result["changed"]


def test_check_mode_patches_nothing(server, run_module):
    server.add("GET", "/v1/settings/application", 200, reply(CURRENT))
    result = run_module(app_settings, dict(BASE, settings={"heartbeat_interval": 9}, _ansible_check_mode=True))
    assert result["changed"] and result["settings"]["heartbeat_interval"] == 9 and len(server.requests) == 1


def test_absent_resets(server, run_module):
    server.add("GET", "/v1/settings/application", 200, reply(CURRENT)).add("DELETE", "/v1/settings/application")
    server.add("GET", "/v1/settings/application", 200, reply({"webhooks": {"url": ""}}))
    result = run_module(app_settings, dict(BASE, state="absent"))
    assert result["changed"] and result["settings"] == {"webhooks": {"url": ""}}
