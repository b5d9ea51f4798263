# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The API client: auth, one re-login, retries and back-off, TLS and error reporting."""

import datetime
import ssl
import urllib.error

import pytest

from ansible_collections.wabiz.migration.plugins.module_utils._api import (
    ApiError, WaApi, parse_expiry, seconds_left)

URL = "https://wa.example:9090"
LOGIN = {"users": [{"token": "tok-1", "expires_after": "2030-01-01 00:00:00+00:00"}]}


def client(**kwargs):
    sleeps = []
    kwargs.setdefault("password", "Pw#12345")
    api = WaApi(URL, username="admin", sleep=sleeps.append, **kwargs)
    api.sleeps = sleeps
    return api


def error_body(code, details=""):
    return {"errors": [{"code": code, "title": "t", "details": details}], "meta": {}}


def test_logs_in_first_and_sends_bearer(server):
    server.add("POST", "/v1/users/login", 200, LOGIN).add("GET", "/v1/health", 200, {"health": {}})
    api = client(ca_path="/ca.pem")
    assert api.request("GET", "/v1/health") == {"health": {}}
    login, health = server.requests
    assert login["headers"]["Authorization"].startswith("Basic ")
    assert health["headers"]["Authorization"] == "Bearer tok-1"
    assert health["kwargs"]["ca_path"] == "/ca.pem" and health["kwargs"]["validate_certs"] is True


def test_rejected_token_gets_exactly_one_new_login(server):
    server.add("GET", "/v1/health", 401, error_body(1005)).add("POST", "/v1/users/login", 200, LOGIN)
    server.add("GET", "/v1/health", 200, {"health": {"gateway_status": "connected"}})
    api = client(token="old")
    assert api.request("GET", "/v1/health")["health"]["gateway_status"] == "connected"

    server.add("GET", "/v1/health", 401, error_body(1005)).add("POST", "/v1/users/login", 200, LOGIN)
    server.add("GET", "/v1/health", 401, error_body(1005, "Invalid or expired token"))
    with pytest.raises(ApiError) as failure:
        api.request("GET", "/v1/health")
    assert failure.value.status == 401 and failure.value.details == "Invalid or expired token"


def test_rejected_token_without_password_fails_at_once(server):
    server.add("GET", "/v1/health", 401, error_body(1005, "Token was revoked"))
    api = client(token="old", password=None)
    with pytest.raises(ApiError) as failure:
        api.request("GET", "/v1/health")
    assert "HTTP 401" in str(failure.value) and "Token was revoked" in str(failure.value)


def test_retries_5xx_with_backoff_then_reports_everything(server):
    for attempt in range(4):
        assert attempt < 4
        server.add("GET", "/v1/health", 503, error_body(1016, "busy"))
    api = client(token="t")
    with pytest.raises(ApiError) as failure:
        api.request("GET", "/v1/health")
    assert api.sleeps == [1.0, 2.0, 4.0]
    exc = failure.value
    assert (exc.method, exc.url, exc.status, exc.code) == ("GET", URL + "/v1/health", 503, 1016)
    assert str(exc) == "GET https://wa.example:9090/v1/health returned HTTP 503: 1016 t (busy)"
    assert exc.fail_kwargs("Wait.")["msg"].endswith("(busy). Wait.")


def test_429_honours_retry_after(server):
    body = error_body(1015)
    body["_headers"] = {"Retry-After": "7"}
    server.add("GET", "/v1/health", 429, body).add("GET", "/v1/health", 200, {"health": {}})
    api = client(token="t")
    api.request("GET", "/v1/health")
    assert api.sleeps == [7]


def test_connection_errors_are_retried_and_reported(server):
    for attempt in range(3):
        assert attempt < 3
        server.fail_with(urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")))
    api = client(token="t", retries=2)
    with pytest.raises(ApiError) as failure:
        api.request("GET", "/v1/health")
    assert failure.value.status is None and "Connection refused" in str(failure.value)
    assert api.sleeps == [1.0, 2.0]


def test_untrusted_certificate_is_not_retried(server):
    server.fail_with(urllib.error.URLError(ssl.SSLCertVerificationError("CERTIFICATE_VERIFY_FAILED")))
    api = client(token="t")
    with pytest.raises(ApiError) as failure:
        api.request("GET", "/v1/health")
    assert "not trusted" in str(failure.value) and "ca_path" in str(failure.value)
    assert api.sleeps == []


def test_non_json_error_body(server):
    server.add("GET", "/v1/health", 502, b"<html>bad gateway</html>")
    api = client(token="t", retries=0)
    with pytest.raises(ApiError) as failure:
        api.request("GET", "/v1/health")
    assert "bad gateway" in str(failure.value)


def test_login_with_new_password_keeps_it(server):
    server.add("POST", "/v1/users/login", 200, LOGIN)
    api = client(password="secret")
    api.login(new_password="New#Passw0rd")
    assert server.requests[0]["body"] == {"new_password": "New#Passw0rd"}
    assert api.password == "New#Passw0rd" and api.token == "tok-1"


def test_no_password_no_token():
    api = client(password=None)
    with pytest.raises(ApiError, match="no api_password"):
        api.request("GET", "/v1/health")


@pytest.mark.parametrize("text", ["2030-01-02 03:04:05+00:00", "2030-01-02T03:04:05.000Z", "2030-01-02 05:04:05+02:00"])
def test_parse_expiry_accepts_php_and_iso(text):
    assert parse_expiry(text) == datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)


def test_seconds_left():
    now = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    assert seconds_left("2030-01-01 01:00:00+00:00", now) == 3600
    with pytest.raises(ValueError):
        parse_expiry("tomorrow")
