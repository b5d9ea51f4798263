# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""health_info: both shapes, waiting, naming unhealthy nodes, topology checks."""

from ansible_collections.wabiz.migration.plugins.modules import health_info

BASE = {"api_url": "https://wa:9090", "api_token": "t"}
MULTI = {"health": {
    "h:m1": {"gateway_status": "connected", "role": "primary_master"},
    "h:m2": {"gateway_status": "disconnected", "role": "secondary_master"},
    "h:c1": {"gateway_status": "connected", "role": "coreapp"},
    "h:c2": {"gateway_status": "connected", "role": "coreapp"},
    "h:c3": {"gateway_status": "disconnected", "role": "coreapp"},
}}


def test_multiconnect_summary(server, run_module):
    server.add("GET", "/v1/health", 200, MULTI)
    result = run_module(health_info, dict(BASE, expected_masters=2, expected_coreapps=3, expected_shards=2))
    assert not result["failed"] and result["healthy"] and result["multiconnect"]
    assert result["role_counts"] == {"primary_master": 1, "secondary_master": 1, "coreapp": 3, "unknown": 0}
    assert (result["masters"], result["coreapps"], result["connected_coreapps"]) == (2, 3, 2)


def test_topology_mismatch_fails(server, run_module):
    server.add("GET", "/v1/health", 200, MULTI)
    result = run_module(health_info, dict(BASE, expected_masters=2, expected_coreapps=5))
    assert result["failed"] and "2 Master(s) and 3 Coreapp(s), expected 2 and 5" in result["msg"]


def test_wait_times_out_naming_the_failing_node(server, run_module):
    broken = {"health": dict(MULTI["health"], **{"h:c2": {"errors": [{"code": 1011, "details": "Node is down"}]}})}
    server.add("GET", "/v1/health", 200, broken)
    result = run_module(health_info, dict(BASE, wait_for="connected", timeout=0))
    assert result["failed"] and "h:c2 (-): 1011 Node is down" in result["msg"]


def test_single_instance_and_waiting_through_errors(server, run_module):
    server.add("GET", "/v1/health", 500, {"errors": [{"code": 1011, "title": "Service not ready"}]})
    server.add("GET", "/v1/health", 200, {"health": {"gateway_status": "connecting"}})
    result = run_module(health_info, dict(BASE, wait_for="connected", interval=0, timeout=30))
    assert not result["failed"] and result["healthy"] and result["nodes"][0]["node"] == "single"
    assert (result["masters"], result["coreapps"]) == (0, 1)
