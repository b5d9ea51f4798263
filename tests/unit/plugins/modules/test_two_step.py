# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""two_step: PIN validation before any call; absent deletes; check mode calls nothing."""

import pytest

from ansible_collections.wabiz.migration.plugins.modules import two_step

BASE = {"api_url": "https://wa:9090", "api_token": "t"}


@pytest.mark.parametrize("pin", ["12345", "1234567", "12a456", ""])
def test_pin_must_be_six_digits(server, run_module, pin):
    result = run_module(two_step, dict(BASE, pin=pin))
    assert result["failed"] and "six digits" in result["msg"] and server.requests == []


def test_present_and_absent(server, run_module):
    server.add("POST", "/v1/settings/account/two-step", 200, {}).add("DELETE", "/v1/settings/account/two-step")
    assert run_module(two_step, dict(BASE, pin="123456"))["changed"]
    assert run_module(two_step, dict(BASE, state="absent"))["state"] == "absent"
    assert server.requests[0]["body"] == {"pin": "123456"}


def test_check_mode(server, run_module):
    result = run_module(two_step, dict(BASE, state="absent", _ansible_check_mode=True))
    assert result["changed"] and server.requests == []
