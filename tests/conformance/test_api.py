# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Conformance of the emulator's HTTPS API with ../shared/reference/onprem-api.md, per engine and topology."""

import base64
import datetime
import re
import time
import zlib

import pytest

META = {"api_status": "stable", "version": "v2.45.1"}
WEAK = "password"
STRONG = "Str0ng#Passw0rd"


def error(response):
    """(HTTP status, code, details) of an error reply, after checking the envelope."""
    body = response.json()
    assert body["meta"] == META
    assert set(body["errors"][0]) <= {"code", "title", "details", "href"}
    first = body["errors"][0]
    return response.status_code, first["code"], first.get("details", "")


def ok(response, status=200):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["meta"] == META
    assert "errors" not in body
    return body


@pytest.fixture(scope="module")
def admin(lab):
    return lab.client("old")


@pytest.fixture(scope="module")
def user(lab, admin):
    """A ROLE_USER account made through the API."""
    username = "conformance"
    if admin.request("GET", "/v1/users/" + username).status_code == 404:
        ok(admin.request("POST", "/v1/users", {"username": username, "password": STRONG}), 201)
    api = lab.client("old", login=False)
    api.login(username, STRONG)
    return api


def test_envelope_and_unknown_path(admin):
    assert error(admin.request("GET", "/v1/nothing/here")) == (404, 1006, "Unknown path GET /v1/nothing/here")
    response = admin.request("PATCH", "/v1/settings/application", None)
    assert error(response)[:2] == (400, 1009)
    raw = admin.session.post(admin.url + "/v1/messages", data="{not json", verify=admin.ca_path,
                             headers={"Authorization": "Bearer " + admin.token, "Content-Type": "application/json"})
    assert error(raw)[:2] == (400, 1025)


def test_login_returns_token_with_php_expiry(lab):
    api = lab.client("old", login=False)
    reply = ok(api.request("POST", "/v1/users/login", auth=("admin", lab.state["admin_password"])))
    entry = reply["users"][0]
    assert re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", entry["token"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00", entry["expires_after"])
    expires = datetime.datetime.strptime(entry["expires_after"], "%Y-%m-%d %H:%M:%S%z")
    left = expires - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(days=6, hours=23) < left <= datetime.timedelta(days=7)


def test_bad_credentials_and_tokens_are_401(lab, admin):
    api = lab.client("old", login=False)
    assert error(api.request("POST", "/v1/users/login", auth=("admin", "Wrong#Pass1")))[:2] == (401, 1005)
    assert error(api.request("POST", "/v1/users/login"))[:2] == (401, 1005)
    assert error(api.request("GET", "/v1/health"))[:2] == (401, 1005)
    assert error(api.request("GET", "/v1/health", token="abc.def.ghi"))[:2] == (401, 1005)
    forged = admin.token[:-4] + ("AAAA" if not admin.token.endswith("AAAA") else "BBBB")
    assert error(api.request("GET", "/v1/health", token=forged))[:2] == (401, 1005)


def test_logout_revokes_only_that_token(lab):
    first, second = lab.client("old"), lab.client("old")
    ok(first.request("POST", "/v1/users/logout"))
    assert error(first.request("GET", "/v1/health")) == (401, 1005, "Token was revoked or is unknown to this client")
    ok(second.request("GET", "/v1/health"))


def test_users(lab, admin, user):
    name = "carol_%d" % (time.time() * 1000 % 100000)
    assert ok(admin.request("POST", "/v1/users", {"username": name, "password": STRONG}), 201) == {
        "users": [{"username": name}], "meta": META}
    assert error(admin.request("POST", "/v1/users", {"username": name, "password": STRONG})) == (
        500, 1014, "Unable to create user. Already exist?")
    assert error(admin.request("POST", "/v1/users", {"username": "dave2", "password": WEAK}))[:2] == (400, 1009)
    assert error(admin.request("POST", "/v1/users", {"username": "a b/c", "password": STRONG}))[:2] == (400, 1009)
    assert error(admin.request("POST", "/v1/users", {"username": "abc", "password": STRONG}))[:2] == (400, 1009)
    assert error(admin.request("POST", "/v1/users", {"password": STRONG})) == (
        400, 1008, "Missing mandatory parameter 'username'")
    assert ok(admin.request("GET", "/v1/users/" + name))["users"] == [{"username": name}]
    assert error(admin.request("GET", "/v1/users/nobody_here")) == (404, 1006, "User does not exist")

    assert ok(user.request("GET", "/v1/users/conformance"))["users"] == [{"username": "conformance"}]
    assert error(user.request("GET", "/v1/users/" + name)) == (
        403, 1005, "Regular user cannot read other user information")
    assert error(user.request("PUT", "/v1/users/" + name, {"password": STRONG})) == (
        403, 1005, "Regular user cannot modify other user")
    assert error(user.request("POST", "/v1/users", {"username": "eve_x", "password": STRONG}))[:2] == (403, 1005)

    assert error(admin.request("PUT", "/v1/users/" + name, {"password": WEAK}))[:2] == (400, 1009)
    ok(admin.request("PUT", "/v1/users/" + name, {"password": STRONG + "x"}))
    victim = lab.client("old", login=False)
    victim.login(name, STRONG + "x")
    ok(victim.request("GET", "/v1/health"))

    assert error(admin.request("DELETE", "/v1/users/admin")) == (400, 1009, "Admin user cannot be deleted")
    assert ok(admin.request("DELETE", "/v1/users/" + name))["users"] == [{"username": name}]
    assert error(victim.request("GET", "/v1/health"))[:2] == (401, 1005)
    assert error(admin.request("DELETE", "/v1/users/" + name)) == (404, 1006, "User does not exist")


@pytest.mark.parametrize("method,path,body", [
    ("POST", "/v1/settings/backup", {"password": "Backup#1"}),
    ("POST", "/v1/settings/restore", {"password": "Backup#1", "data": "eA=="}),
    ("POST", "/v1/settings/account/two-step", {"pin": "123456"}),
    ("DELETE", "/v1/settings/account/two-step", None),
    ("GET", "/v1/settings/application", None),
    ("PATCH", "/v1/settings/application", {"heartbeat_interval": 5}),
    ("DELETE", "/v1/settings/application", None),
    ("GET", "/v1/account/shards", None),
    ("POST", "/v1/account/shards", {"cc": "1", "phone_number": "1", "shards": 2}),
    ("DELETE", "/v1/users/admin", None),
])
def test_admin_only_endpoints_refuse_regular_users(user, method, path, body):
    assert error(user.request(method, path, body)) == (403, 1005, "Admin role required")


def test_app_settings(admin, lab):
    settings = ok(admin.request("GET", "/v1/settings/application"))["settings"]["application"]
    assert settings["webhooks"]["url"] == lab.state["webhook_url"]
    assert settings["wa_id"] == "16315550123"
    assert {"callback_persist", "heartbeat_interval", "media", "unhealthy_interval"} <= set(settings)

    ok(admin.request("PATCH", "/v1/settings/application",
                     {"webhooks": {"url": "https://hooks.example.invalid/wa"}, "sent_status": True,
                      "callback_backoff_delay_ms": "4000"}))
    changed = ok(admin.request("GET", "/v1/settings/application"))["settings"]["application"]
    assert changed["webhooks"]["url"] == "https://hooks.example.invalid/wa"
    assert changed["webhooks"]["max_concurrent_requests"] == 12  # a nested PATCH keeps sibling keys
    assert changed["sent_status"] is True and changed["callback_backoff_delay_ms"] == 4000

    assert error(admin.request("PATCH", "/v1/settings/application", {"callback_persist": "yes"})) == (
        400, 1009, "Parameter 'callback_persist' has invalid value 'yes'")
    assert error(admin.request("PATCH", "/v1/settings/application", {"webhooks": {"url": "hooks.example/wa"}}))[:2] \
        == (400, 1009)
    assert error(admin.request("PATCH", "/v1/settings/application", {"no_such_setting": 1})) == (
        400, 1009, "No valid parameters provided")
    assert error(admin.request("PATCH", "/v1/settings/application", {"heartbeat_interval": -3}))[:2] == (400, 1009)

    ok(admin.request("DELETE", "/v1/settings/application"))
    reset = ok(admin.request("GET", "/v1/settings/application"))["settings"]["application"]
    assert reset["webhooks"]["url"] == "" and reset["sent_status"] is False
    ok(admin.request("PATCH", "/v1/settings/application", {"webhooks": {"url": lab.state["webhook_url"],
                                                                        "max_concurrent_requests": 12}}))


def test_two_step(admin, lab):
    path = "/v1/settings/account/two-step"
    assert error(admin.request("POST", path, {})) == (400, 1008, "Missing mandatory parameter 'pin'")
    assert error(admin.request("POST", path, {"pin": ""})) == (400, 1009, "Pin must not be empty")
    for bad in ("12345", "1234567", "12a456"):
        assert error(admin.request("POST", path, {"pin": bad})) == (400, 1009, "PIN must be 6 digits")
    assert ok(admin.request("DELETE", path)) == {"meta": META}
    assert ok(admin.request("POST", path, {"pin": lab.state["pin"]})) == {"meta": META}


def test_messages_are_stored_on_the_shard_of_the_recipient(lab, admin, user):
    setup = lab.setup("old")
    to = "4915177700011"
    body = {"to": to, "type": "text", "recipient_type": "individual", "preview_url": False,
            "text": {"body": "Grüße 👋"}}
    reply = ok(user.request("POST", "/v1/messages", body), 201)
    message_id = reply["messages"][0]["id"]
    assert re.fullmatch(r"gBEG[\w-]+", message_id)
    shard = zlib.crc32(to.encode()) % setup["shards"] if setup["shards"] else 0
    conn = lab.db("old", "%swamessages_%d" % (setup["db_prefix"], shard))
    with conn.cursor() as cur:
        cur.execute("SELECT wa_id, body FROM messages WHERE id = %s", (message_id,))
        row = cur.fetchone()
    conn.close()
    assert row[0] == to and "Grüße 👋" in row[1]

    assert error(admin.request("POST", "/v1/messages", {"text": {"body": "x"}})) == (
        400, 1008, "Missing mandatory parameter 'to'")
    assert error(admin.request("POST", "/v1/messages", {"to": to, "type": "text"})) == (
        400, 1008, "Parameter 'text' is mandatory for type 'text'")
    assert error(admin.request("POST", "/v1/messages", {"to": to, "type": "fax", "fax": {}}))[:2] == (400, 1009)
    assert error(admin.request("POST", "/v1/messages", {"to": to, "recipient_type": "crowd",
                                                        "text": {"body": "x"}}))[:2] == (400, 1009)
    assert error(admin.request("POST", "/v1/messages", {"to": to, "ttl": "", "text": {"body": "x"}})) == (
        400, 1009, "Empty TTL value not allowed")
    assert error(admin.request("POST", "/v1/messages", {"to": to, "text": {"body": "x" * 4097}}))[:2] == (400, 1001)


def test_contacts(user):
    reply = ok(user.request("POST", "/v1/contacts", {"blocking": "wait", "contacts": ["+1 631 555 1001", "12"]}))
    assert reply["contacts"] == [{"input": "+1 631 555 1001", "status": "valid", "wa_id": "16315551001"},
                                 {"input": "12", "status": "invalid"}]
    assert error(user.request("POST", "/v1/contacts", {"blocking": "wait"})) == (
        400, 1008, "Missing mandatory parameter 'contacts'")
    assert error(user.request("POST", "/v1/contacts", {"blocking": "later", "contacts": ["+1"]}))[:2] == (400, 1009)


def test_shards(lab, admin):
    shards = lab.setup("old")["shards"]
    assert ok(admin.request("GET", "/v1/account/shards"))["account"] == {"shards": shards or 1}
    body = {"cc": "1", "phone_number": "6315550123", "pin": lab.state["pin"]}
    assert error(admin.request("POST", "/v1/account/shards", {"cc": "1", "shards": 2})) == (
        400, 1008, "Missing mandatory parameter 'phone_number'")
    if shards:
        assert error(admin.request("POST", "/v1/account/shards", dict(body, shards=3)))[:2] == (400, 1009)
        assert error(admin.request("POST", "/v1/account/shards", dict(body, shards=4)))[:2] == (500, 1011)
        no_pin = {k: v for k, v in body.items() if k != "pin"}
        assert error(admin.request("POST", "/v1/account/shards", dict(no_pin, shards=shards)))[:2] == (400, 1008)
        ok(admin.request("POST", "/v1/account/shards", dict(body, shards=shards)), 201)
    else:
        assert error(admin.request("POST", "/v1/account/shards", dict(body, shards=2))) == (
            400, 1009, "Shards need multiconnect (WA_APP_MULTICONNECT=1)")


def test_stats_db(lab, user):
    stats = ok(user.request("GET", "/v1/stats/db"))["stats"]["db"]
    if lab.setup("old")["shards"]:
        (node, stats), = stats.items()
        assert re.fullmatch(r"[^:]+:[0-9a-f]{12}", node)
    assert stats["messages_total"]["data"][0]["value"] >= 300
    assert stats["messages_total"]["type"] == "gauge"


def test_health_shape(lab, user):
    health = ok(user.request("GET", "/v1/health"))["health"]
    if not lab.setup("old")["shards"]:
        assert health == {"gateway_status": "connected"}
        return
    containers = lab.container_ids("old")
    assert len(health) == 5
    for node, status in health.items():
        host, container = node.split(":")
        assert containers[container].startswith(("master", "wacore")), node
    roles = sorted(s["role"] for s in health.values())
    assert roles == ["coreapp"] * 3 + ["primary_master", "secondary_master"]
    connected = [s for s in health.values() if s["gateway_status"] == "connected"]
    assert sorted(s["role"] for s in connected) == ["coreapp", "coreapp", "primary_master"]


def test_backup_is_encrypted_and_restore_checks_it(lab, admin):
    path = "/v1/settings/backup"
    assert error(admin.request("POST", path, {})) == (400, 1008, "Missing mandatory parameter 'password'")
    data = ok(admin.request("POST", path, {"password": lab.state["backup_password"]}))["settings"]["data"]
    raw = base64.b64decode(data)
    assert b"16315550123" not in raw and b"webhook" not in raw
    again = ok(admin.request("POST", path, {"password": lab.state["backup_password"]}))["settings"]["data"]
    assert again != data  # fresh salt and nonce every time

    restore = "/v1/settings/restore"
    assert error(admin.request("POST", restore, {"password": "x"})) == (400, 1008, "Missing mandatory parameter 'data'")
    assert error(admin.request("POST", restore, {"data": data})) == (400, 1008, "Missing mandatory parameter 'password'")
    assert error(admin.request("POST", restore, {"password": "Wrong#1", "data": data})) == (
        400, 1009, "Unable to decrypt backup data: wrong password or corrupted data")
    tampered = base64.b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode()
    assert error(admin.request("POST", restore, {"password": lab.state["backup_password"], "data": tampered}))[:2] \
        == (400, 1009)
    assert error(admin.request("POST", restore, {"password": "x", "data": "not base64!"}))[:2] == (400, 1009)
    ok(admin.request("GET", "/v1/health"))  # refused restores changed nothing


def test_fresh_client_first_login_registration_and_restore(lab, admin):
    """The new host's empty database: first login rule, unregistered health, restore, restart rule."""
    lab.run("client", "up", "new")
    try:
        new = lab.client("new", login=False)
        assert error(new.request("POST", "/v1/users/login", auth=("admin", "secret"))) == (
            401, 1024, "Password must be changed")
        assert error(new.request("POST", "/v1/users/login", {"new_password": WEAK}, auth=("admin", "secret")))[:2] \
            == (400, 1009)
        new.login("admin", "secret", new_password=STRONG)
        if lab.setup("new")["shards"]:
            new.wait_health(want=("unregistered",), timeout=30)
        else:
            assert ok(new.request("GET", "/v1/health"))["health"] == {"gateway_status": "unregistered"}
        assert error(new.request("POST", "/v1/settings/backup", {"password": "x"})) == (
            500, 1011, "The client is not registered")
        assert error(new.request("POST", "/v1/account/verify", {"code": "000000"}))[:2] == (400, 1009)
        account = {"cc": "1", "phone_number": "6315550999", "method": "sms", "cert": "eA=="}
        assert error(new.request("POST", "/v1/account", dict(account, method="fax")))[:2] == (400, 1009)
        assert ok(new.request("POST", "/v1/account", account), 202)["account"]
        assert error(new.request("POST", "/v1/account/verify", {"code": "999999"}))[:2] == (400, 1009)

        data = ok(admin.request("POST", "/v1/settings/backup",
                                {"password": lab.state["backup_password"]}))["settings"]["data"]
        assert error(new.request("POST", "/v1/settings/restore", {"password": "Wrong#1", "data": data}))[:2] == (
            400, 1009)
        ok(new.request("POST", "/v1/settings/restore", {"password": lab.state["backup_password"], "data": data}))
        new.wait_health(shards=lab.setup("new")["shards"] or None)
        settings = ok(new.request("GET", "/v1/settings/application"))["settings"]["application"]
        assert settings["wa_id"] == "16315550123"
        assert settings["webhooks"]["url"] == lab.state["webhook_url"]
        stats = ok(new.request("GET", "/v1/stats/db"))["stats"]["db"]
        if lab.setup("new")["shards"]:
            (stats,) = stats.values()
        assert stats["messages_total"]["data"][0]["value"] == 0  # settings only: no messages
        # The PIN came along: set-shards wants it.
        if lab.setup("new")["shards"]:
            assert error(new.request("POST", "/v1/account/shards",
                                     {"cc": "1", "phone_number": "6315550123", "shards": 2}))[:2] == (400, 1008)

        # Restoring onto a registered client stops it until the containers restart.
        ok(new.request("POST", "/v1/settings/restore", {"password": lab.state["backup_password"], "data": data}))
        assert error(new.request("GET", "/v1/settings/application")) == (
            500, 1011, "Settings were restored onto a running client: restart the containers")
        lab.compose("new", "restart")
        new.wait_health(shards=lab.setup("new")["shards"] or None, timeout=60)

        # Bad logins from one address are rate limited (last: it blocks this client's address for a while).
        for attempt in range(10):
            assert error(new.request("POST", "/v1/users/login", auth=("admin", "Wrong#Pass1")))[:2] == (401, 1005), attempt
        assert error(new.request("POST", "/v1/users/login", auth=("admin", STRONG))) == (
            429, 1015, "Rate limiting exceeded on bad login attempts")
    finally:
        lab.run("client", "down", "new")


def test_stopped_container_shows_as_error(lab, user):
    setup = lab.setup("old")
    if not setup["shards"]:
        lab.compose("old", "stop", "wacore")
        try:
            assert error(user.request("GET", "/v1/health"))[:2] == (500, 1011)
        finally:
            lab.compose("old", "start", "wacore")
        user.wait_health()
        return
    victim = next(cid for cid, service in lab.container_ids("old").items() if service == "wacore1")
    lab.compose("old", "stop", "wacore1")
    try:
        health = ok(user.request("GET", "/v1/health"))["health"]
        (node,) = [n for n in health if n.endswith(victim)]
        assert health[node]["errors"][0]["code"] == 1011
        # The spare coreapp takes over the stopped node's shard.
        deadline = time.time() + 30
        while time.time() < deadline:
            health = ok(user.request("GET", "/v1/health"))["health"]
            serving = [s for s in health.values() if s.get("role") == "coreapp" and s["gateway_status"] == "connected"]
            if len(serving) == 2:
                break
            time.sleep(0.5)
        assert len(serving) == 2
        assert ok(user.request("POST", "/v1/messages", {"to": "4915100000002", "text": {"body": "still here"}}), 201)
    finally:
        lab.compose("old", "start", "wacore1")


# A public client of the On-Premises API -------------------------------------------------------------------
# wabclient (PyPI, Praekelt's client used by MomConnect) sends what real deployments sent: each call below went to
# the vendor's client unchanged, so the emulator must accept it as the vendor's did.
def wabclient_for(lab, username, password):
    """A wabclient Client logged in as ``username``; its requests trust the lab's CA (and no CA bundle of the
    environment, requests issue 3829)."""
    import requests
    from wabclient.client import Client
    session = requests.Session()
    session.verify = lab.setup("old")["ca_path"]
    session.trust_env = False
    client = Client(lab.setup("old")["url"], session=session)
    token, expires_at = client.config.login(username, password)
    assert token and expires_at.tzinfo is not None
    return client


def test_wabclient_login_health_settings_backup_messages_contacts_and_users(lab, admin):
    client = wabclient_for(lab, "admin", lab.state["admin_password"])
    health = client.healthcheck()["health"]
    assert health.get("gateway_status") == "connected" or all(
        node["gateway_status"] in ("connected", "disconnected") for node in health.values()), health

    before = client.config.get_settings()
    assert before["webhooks"]["url"] == lab.state["webhook_url"]
    # on_call_pager as the phone number wabclient sends; the delays as strings; tcp_listen_address, which the
    # web app ignores.
    client.config.set_settings(on_call_pager="16315551019", webhook="https://hooks.example.invalid/wabclient",
                               callback_backoff_delay_ms=5000)
    after = client.config.get_settings()
    assert after["webhooks"]["url"] == "https://hooks.example.invalid/wabclient"
    assert after["on_call_pager"] == "16315551019" and after["callback_backoff_delay_ms"] == 5000
    ok(admin.request("DELETE", "/v1/settings/application"))
    ok(admin.request("PATCH", "/v1/settings/application", {"webhooks": {"url": lab.state["webhook_url"],
                                                                        "max_concurrent_requests": 12}}))

    export = client.create_backup("Backup#Passw0rd")
    assert base64.b64decode(export)

    sent = client.send_message("4915177700077", "from wabclient https://example.invalid")
    assert re.fullmatch(r"gBEG[\w-]+", sent["messages"][0]["id"])
    assert client.get_address("+1 631 555 1002") == "16315551002"
    assert client.check_contacts(["12"])["contacts"][0]["status"] == "invalid"

    username = "wabclient"
    if admin.request("GET", "/v1/users/" + username).status_code == 200:
        ok(admin.request("DELETE", "/v1/users/" + username))
    client.config.create_user(username, STRONG)
    client.config.set_password(username, STRONG + "2")
    wabclient_for(lab, username, STRONG + "2").check_contacts(["+1 631 555 1003"])
    ok(admin.request("DELETE", "/v1/users/" + username))
