# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""message: validation, sending, check mode."""

from ansible_collections.wabiz.migration.plugins.modules import message

BASE = {"api_url": "https://wa:9090", "api_token": "t", "to": "+49 151 1234567", "body": "test"}


def test_sends_and_returns_the_id(server, run_module):
    server.add("POST", "/v1/messages", 201, {"messages": [{"id": "gBEGabc"}]})
    result = run_module(message, BASE)
    assert not result["failed"] and result["message_id"] == "gBEGabc"
    assert server.requests[0]["body"]["text"] == {"body": "test"}


def test_check_mode_sends_nothing(server, run_module):
    result = run_module(message, dict(BASE, _ansible_check_mode=True))
    assert result["changed"] and server.requests == []


def test_rejects_bad_input(server, run_module):
    assert run_module(message, dict(BASE, to="not a number"))["failed"]
    assert run_module(message, dict(BASE, body="x" * 4097))["failed"]
    assert server.requests == []
