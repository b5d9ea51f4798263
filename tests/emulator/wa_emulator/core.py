# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The coreapp (and master, with WA_MASTER_NODE=1): registration, settings, backup, messages, health."""

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import re
import threading
import time
import urllib.parse
import urllib.request

from . import errors, wire
from .cluster import VALID_SHARDS, Cluster
from .crypto import BackupError, decrypt_backup, encrypt_backup
from .errors import ApiError
from .store import CORE_TABLES, MESSAGE_TABLES, Store, now_ms

# Commands the web app sends to the primary master in multiconnect (reference: MASTER_ONLY_COMMANDS).
MASTER_ONLY = {"get_settings", "set_settings", "delete_settings", "import", "export", "code_request", "register",
               "get_shards", "set_shards", "set_twostep", "unset_twostep", "db_stats"}

DEFAULT_SETTINGS = {
    "callback_backoff_delay_ms": 3000,
    "callback_persist": True,
    "garbagecollector_enable": {"media": False, "messages": True},
    "heartbeat_interval": 5,
    "max_callback_backoff_delay_ms": 900000,
    "media": {"auto_download": ["image", "video", "voice", "sticker", "audio", "document"]},
    "notify_user_change_number": True,
    "pass_through": False,
    "sent_status": False,
    "show_security_notifications": True,
    "unhealthy_interval": 30,
    "webhooks": {"url": "", "max_concurrent_requests": 6, "message": {"sent": False, "delivered": True, "read": False}},
    "verbose_logging": False,
    "log_level": "info",
}
BOOL_SETTINGS = {"callback_persist", "sent_status", "pass_through", "allow_nonexistent_users",
                 "template_send_side_validation_disabled", "axolotl_context_striping_disabled",
                 "notify_user_change_number", "show_security_notifications", "verbose_logging"}
INT_SETTINGS = {"callback_backoff_delay_ms", "max_callback_backoff_delay_ms", "heartbeat_interval",
                "unhealthy_interval", "contacts_api_rate_limit", "control_api_rate_limit",
                "healthcheck_api_rate_limit", "messaging_api_rate_limit", "contacts_scrape_rate_limit",
                "unique_message_sends_rate_limit", "dogfood_user_limit",
                "axolotl_context_striping_logical_core_multiplier"}
OBJECT_SETTINGS = {"webhooks", "webcallbacks", "media", "garbagecollector_enable"}
# The number the client pages on critical errors: a phone number, as wabclient sends it (the reference names the
# parameter only).
PAGER = re.compile(r"\+?\d{5,20}")
LOG_LEVELS = ("info", "debug", "warn", "error")
MEDIA_TYPES = ("image", "video", "voice", "sticker", "audio", "document")


def invalid(name, value):
    return ApiError(errors.PARAMETER_INVALID, "Parameter '%s' has invalid value '%s'" % (name, value))


def _pin_hash(pin):
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, 100000)
    return base64.b64encode(salt + digest).decode()


def _pin_matches(pin, stored):
    raw = base64.b64decode(stored)
    return hmac.compare_digest(raw[16:], hashlib.pbkdf2_hmac("sha256", pin.encode(), raw[:16], 100000))


def validate_settings(patch):
    """Check a PATCH body; returns the known keys. Raises ApiError as the web app does."""
    known = {}
    for name, value in patch.items():
        if name in BOOL_SETTINGS:
            if not isinstance(value, bool):
                raise invalid(name, value)
        elif name in INT_SETTINGS:
            if isinstance(value, bool) or not re.fullmatch(r"\d{1,9}", str(value)):
                raise invalid(name, value)
            value = int(value)
        elif name == "log_level":
            if value not in LOG_LEVELS:
                raise invalid(name, value)
        elif name == "on_call_pager":
            if not isinstance(value, str) or not PAGER.fullmatch(value):
                raise invalid(name, value)
        elif name in OBJECT_SETTINGS:
            if not isinstance(value, dict):
                raise invalid(name, value)
            _validate_object(name, value)
        else:
            continue
        known[name] = value
    if not known:
        raise ApiError(errors.PARAMETER_INVALID, "No valid parameters provided")
    return known


def _validate_object(name, value):
    if name in ("webhooks", "webcallbacks"):
        url = value.get("url", "")
        if not isinstance(url, str) or (url and urllib.parse.urlsplit(url).scheme not in ("http", "https")):
            raise invalid("%s.url" % name, url)
        if url and not urllib.parse.urlsplit(url).hostname:
            raise invalid("%s.url" % name, url)
        if "max_concurrent_requests" in value and value["max_concurrent_requests"] not in (6, 12, 18, 24):
            raise invalid("%s.max_concurrent_requests" % name, value["max_concurrent_requests"])
        for event, flag in (value.get("message") or {}).items():
            if event not in ("sent", "delivered", "read") or not isinstance(flag, bool):
                raise invalid("%s.message.%s" % (name, event), flag)
    elif name == "media":
        types = value.get("auto_download", [])
        if not isinstance(types, list) or any(t not in MEDIA_TYPES for t in types):
            raise invalid("media.auto_download", types)
    elif name == "garbagecollector_enable":
        for key, flag in value.items():
            if key not in ("media", "messages") or not isinstance(flag, bool):
                raise invalid("garbagecollector_enable.%s" % key, flag)


def merge(base, patch):
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def is_loopback_url(url):
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class CoreNode:
    def __init__(self, config):
        self.config = config
        self.store = Store.from_config(config)
        self.cluster = Cluster(config, self.store)
        self.db = config.core_db_name
        self.role = "master" if (config.master and config.multiconnect) else "coreapp"
        self.started_at = now_ms()
        self.primary = not config.multiconnect
        self.stopping = threading.Event()
        self.housekeeper = None
        self.servers = []

    # life cycle --------------------------------------------------------------------------------
    def wait_for_database(self, timeout=180):
        deadline = time.time() + timeout
        while True:
            try:
                self.store.ensure_database(self.db, CORE_TABLES)
                return
            except Exception as exc:  # pylint: disable=broad-except
                if time.time() > deadline:
                    raise
                print("waiting for the database: %s" % exc, flush=True)
                self.store.drop_cached(None)
                time.sleep(1)

    def start(self):
        self.wait_for_database()
        if not self.config.multiconnect:
            self.store.ensure_database(self.config.message_db(0), MESSAGE_TABLES)
        self.cluster.register(self.role, self.started_at)
        if not self.config.multiconnect:
            self.cluster.prune(stopped_too=True)  # earlier containers of this single instance
        self.servers = wire.serve(self.config.listen_address, self.config.core_base_port, self.dispatch)
        for server in self.servers:
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": wire.SHUTDOWN_POLL},
                             daemon=True).start()
        self.housekeeper = threading.Thread(target=self._housekeeping, daemon=True)
        self.housekeeper.start()
        print("%s %s listening on %s:%d" % (self.role, self.config.node_id, self.config.listen_address,
                                            self.config.core_base_port), flush=True)

    def stop(self):
        """Leave the cluster as a stopped node; quickly, since a migration's downtime counts this stop."""
        self.stopping.set()
        # A heartbeat written after the stop mark would make this node look crashed instead of stopped.
        self.housekeeper.join(timeout=15)
        for server in self.servers:
            server.shutdown()
            server.server_close()
        try:
            self.cluster.mark_stopped()
        except Exception as exc:  # pylint: disable=broad-except
            print("could not deregister: %s" % exc, flush=True)

    def _housekeeping(self):
        while True:
            try:
                self._tick()
            except Exception as exc:  # pylint: disable=broad-except
                print("housekeeping: %s" % exc, flush=True)
                self.store.drop_cached(self.db)
            if self.stopping.wait(self.config.heartbeat_seconds):
                return

    def _tick(self):
        if not self.cluster.beat():
            self.cluster.register(self.role, self.started_at)
        if self.role == "master":
            was_primary = self.primary
            self.primary = self.cluster.try_lease()
            if self.primary:
                self.cluster.prune(stopped_too=not was_primary)
        if self.primary:
            if self.config.multiconnect:
                self.cluster.rebalance()
            self._deliver_callbacks()

    # dispatch ----------------------------------------------------------------------------------
    def dispatch(self, kind, command, args):
        handler = getattr(self, "cmd_" + str(command), None)
        try:
            if handler is None:
                raise ApiError(errors.PARAMETER_INVALID, "Unknown command %r" % command)
            if command in MASTER_ONLY and not self.primary:
                raise ApiError(1017, "This node is not the primary master")
            if kind == "healthcheck" and command != "health":
                raise ApiError(errors.PARAMETER_INVALID, "The healthcheck port only answers health")
            if command != "health":
                self._check_serving()
            return {"payload": handler(args)}
        except ApiError as exc:
            return {"errors": exc.to_errors(), "status": exc.status}

    def _restart_required(self):
        restored = self.store.get_json(self.db, "app_state", "restart_required_at", 0)
        return restored > self.started_at

    def _check_serving(self):
        if self._restart_required():
            raise ApiError(errors.SERVICE_NOT_READY,
                           "Settings were restored onto a running client: restart the containers")
        problem = self.cluster.topology_error()
        if problem:
            raise ApiError(errors.SERVICE_NOT_READY, problem)

    def registration(self):
        row = self.store.query_one(self.db, "SELECT cc, phone_number, wa_id, vname_cert, registered_at, identity_key, "
                                            "signed_prekey, registration_id FROM registration WHERE id = 1")
        if not row:
            return None
        keys = ("cc", "phone_number", "wa_id", "vname_cert", "registered_at", "identity_key", "signed_prekey",
                "registration_id")
        return dict(zip(keys, row))

    def _require_registered(self):
        reg = self.registration()
        if reg is None:
            raise ApiError(errors.SERVICE_NOT_READY, "The client is not registered")
        return reg

    # health ------------------------------------------------------------------------------------
    def cmd_health(self, _args):
        self._check_serving()
        status = {"node_id": self.config.node_id}
        if self.registration() is None:
            status["gateway_status"] = "unregistered"
        elif not self.config.multiconnect:
            status["gateway_status"] = "connected"
        elif self.role == "master":
            connected = self.primary and self.cluster.shards() > 1
            status["gateway_status"] = "connected" if connected else "disconnected"
        else:
            owned = self.store.query(self.db, "SELECT shard FROM shard_map WHERE node_id = %s", (self.config.node_id,))
            status["gateway_status"] = "connected" if owned else "disconnected"
        if self.config.multiconnect:
            status["role"] = "coreapp" if self.role == "coreapp" else (
                "primary_master" if self.primary else "secondary_master")
        return status

    # registration --------------------------------------------------------------------------------
    def cmd_code_request(self, args):
        cc, phone = str(args["cc"]), str(args["phone_number"])
        reg = self.registration()
        if reg and (reg["cc"], reg["phone_number"]) == (cc, phone):
            return {"registered": True}
        self.store.upsert(self.db, "pending_registration", ["id"], {
            "id": 1, "cc": cc, "phone_number": phone, "vname_cert": args.get("cert", ""), "requested_at": now_ms()})
        return {"registered": False, "account": [{"vname": args.get("cert", "")[:24]}]}

    def cmd_register(self, args):
        pending = self.store.query_one(self.db, "SELECT cc, phone_number, vname_cert FROM pending_registration "
                                                "WHERE id = 1")
        if not pending:
            raise ApiError(errors.PARAMETER_INVALID, "No registration code was requested")
        if str(args.get("code")) != self.config.verify_code:
            raise ApiError(errors.PARAMETER_INVALID, "Parameter 'code' has invalid value '%s'" % args.get("code"))
        cc, phone, cert = pending
        self._write_registration({"cc": cc, "phone_number": phone, "wa_id": cc + phone, "vname_cert": cert,
                                  "registered_at": now_ms(), "identity_key": os.urandom(32),
                                  "signed_prekey": os.urandom(64),
                                  "registration_id": int.from_bytes(os.urandom(2), "big")})
        self.store.execute(self.db, "DELETE FROM pending_registration")
        if self.cluster.recorded_topology() is None:
            self._set_topology(1)
        return {}

    def _write_registration(self, reg):
        self.store.upsert(self.db, "registration", ["id"], dict(reg, id=1))

    def _set_topology(self, shards, topology=None):
        self.cluster.record_topology(shards, topology)
        for shard in range(shards if self.config.multiconnect else 1):
            self.store.ensure_database(self.config.message_db(shard), MESSAGE_TABLES)
        if self.config.multiconnect:
            self.cluster.rebalance()

    # shards --------------------------------------------------------------------------------------
    def cmd_get_shards(self, _args):
        self._require_registered()
        return {"account": {"shards": self.cluster.shards()}}

    def cmd_set_shards(self, args):
        reg = self._require_registered()
        if (str(args["cc"]), str(args["phone_number"])) != (reg["cc"], reg["phone_number"]):
            raise ApiError(errors.PARAMETER_INVALID, "cc and phone_number do not match the registered number")
        shards = args["shards"]
        if not self.config.multiconnect and shards != 1:
            raise ApiError(errors.PARAMETER_INVALID, "Shards need multiconnect (WA_APP_MULTICONNECT=1)")
        if shards not in VALID_SHARDS:
            raise invalid("shards", shards)
        self._check_pin(args.get("pin"))
        running = self.cluster.running_topology()
        if self.config.multiconnect and running["coreapps"] < shards + 1:
            raise ApiError(errors.SERVICE_NOT_READY, "%d shard(s) need %d coreapps (one spare); %d are running"
                           % (shards, shards + 1, running["coreapps"]))
        self._set_topology(shards, running)
        return {}

    def _check_pin(self, pin):
        row = self.store.query_one(self.db, "SELECT pin_hash FROM twostep WHERE id = 1")
        if row is None:
            return
        if not pin:
            raise ApiError(errors.PARAMETER_ABSENT, "Two-step verification is enabled: 'pin' is required")
        if not _pin_matches(str(pin), row[0]):
            raise ApiError(errors.ACCESS_DENIED, "The two-step verification PIN is not correct")

    # two-step ------------------------------------------------------------------------------------
    def cmd_set_twostep(self, args):
        self._require_registered()
        pin = str(args["pin"])
        if not re.fullmatch(r"\d{6}", pin):
            raise ApiError(self.config.twostep_pin_error_code, "PIN must be 6 digits")
        self.store.upsert(self.db, "twostep", ["id"], {"id": 1, "pin_hash": _pin_hash(pin), "set_at": now_ms()})
        return {}

    def cmd_unset_twostep(self, _args):
        self._require_registered()
        self.store.execute(self.db, "DELETE FROM twostep")
        return {}

    # settings --------------------------------------------------------------------------------------
    def app_settings(self):
        stored = dict(self.store.query(self.db, "SELECT name, value FROM app_settings"))
        settings = merge(DEFAULT_SETTINGS, {k: json.loads(v) for k, v in stored.items()})
        reg = self.registration()
        if reg:
            settings["wa_id"] = reg["wa_id"]
        return settings

    def cmd_get_settings(self, _args):
        return {"settings": {"application": self.app_settings()}}

    def cmd_set_settings(self, args):
        current = self.app_settings()
        for name, value in validate_settings(args).items():
            new = merge(current.get(name, {}), value) if isinstance(value, dict) else value
            self.store.put_json(self.db, "app_settings", name, new)
        return {}

    def cmd_delete_settings(self, _args):
        self.store.execute(self.db, "DELETE FROM app_settings")
        return {}

    # backup and restore ---------------------------------------------------------------------------
    def cmd_export(self, args):
        reg = self._require_registered()
        twostep = self.store.query_one(self.db, "SELECT pin_hash FROM twostep WHERE id = 1")
        stored = dict(self.store.query(self.db, "SELECT name, value FROM app_settings"))
        document = {
            "registration": {k: (base64.b64encode(v).decode() if isinstance(v, bytes) else v) for k, v in reg.items()},
            "settings": stored,
            "twostep": twostep[0] if twostep else None,
            "topology": self.cluster.recorded_topology(),
        }
        return {"settings": {"data": encrypt_backup(args["password"], document)}}

    def cmd_import(self, args):
        try:
            document = decrypt_backup(args["password"], args["data"])
        except BackupError as exc:
            raise ApiError(self.config.restore_error_code, str(exc)) from None
        topology = document["topology"]
        running = self.cluster.running_topology()
        if topology and not Cluster.same_shape(topology, running):
            raise ApiError(errors.PARAMETER_INVALID,
                           "The backup was taken on %s; this setup runs %s. Restore onto the same kind of setup "
                           "with the same shard count." % (Cluster.describe(topology), Cluster.describe(running)))
        was_registered = self.registration() is not None
        reg = dict(document["registration"])
        for key in ("identity_key", "signed_prekey"):
            reg[key] = base64.b64decode(reg[key])
        self._write_registration(reg)
        self.store.execute(self.db, "DELETE FROM app_settings")
        for name, value in document["settings"].items():
            self.store.upsert(self.db, "app_settings", ["name"], {"name": name, "value": value})
        self.store.execute(self.db, "DELETE FROM twostep")
        if document["twostep"]:
            self.store.upsert(self.db, "twostep", ["id"], {"id": 1, "pin_hash": document["twostep"],
                                                           "set_at": now_ms()})
        self._set_topology(topology["shards"] if topology else 1, running)
        if was_registered:
            # Restoring onto a running client stops it until `docker restart` (reference section 3).
            self.store.put_json(self.db, "app_state", "restart_required_at", now_ms())
        return {}

    # messages and contacts --------------------------------------------------------------------------
    def cmd_message(self, args):
        reg = self._require_registered()
        shard = args.get("shard", 0)
        if self.config.multiconnect and self.cluster.shard_owner(shard) != self.config.node_id:
            raise ApiError(1018, "This coreapp does not serve shard %s" % shard)
        message_id = "gBEG" + base64.urlsafe_b64encode(os.urandom(18)).decode().rstrip("=")
        now = int(time.time())
        self.store.execute(self.config.message_db(shard),
                           "INSERT INTO messages (id, wa_id, from_me, type, body, status, timestamp) "
                           "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                           (message_id, args["to"], True, args["type"], json.dumps(args["body"], ensure_ascii=False), "sent",
                            now))
        for status in ("sent", "delivered"):
            payload = {"statuses": [{"id": message_id, "recipient_id": args["to"], "status": status,
                                     "timestamp": str(now)}]}
            self.store.execute(self.db, "INSERT INTO callbacks (message_id, wa_id, kind, payload, created_at, "
                                        "delivered_at, attempts) VALUES (%s, %s, 'status', %s, %s, NULL, 0)",
                               (message_id, args["to"], json.dumps(payload), now_ms()))
        return {"messages": [{"id": message_id}], "from": reg["wa_id"]}

    def cmd_contacts(self, args):
        self._require_registered()
        results = []
        for contact in args["contacts"]:
            digits = re.sub(r"\D", "", str(contact))
            status = "valid" if 7 <= len(digits) <= 15 else "invalid"
            entry = {"input": contact, "status": status}
            if status == "valid":
                entry["wa_id"] = digits
                self.store.upsert(self.db, "contacts", ["wa_id"], {"wa_id": digits, "input": str(contact)[:64],
                                                                   "status": status, "checked_at": now_ms()})
            results.append(entry)
        return {"contacts": results}

    # stats -----------------------------------------------------------------------------------------
    def cmd_db_stats(self, _args):
        messages = 0
        for shard in range(self.cluster.shards() if self.config.multiconnect else 1):
            dbname = self.config.message_db(shard)
            if self.store.database_exists(dbname):
                messages += self.store.query_one(dbname, "SELECT COUNT(*) FROM messages")[0]
        pending = self.store.query_one(self.db, "SELECT COUNT(*) FROM callbacks WHERE delivered_at IS NULL")[0]
        return {"stats": {"db": {
            "messages_total": {"help": "Messages stored", "type": "gauge", "data": [{"labels": {}, "value": messages}]},
            "callbacks_pending": {"help": "Callbacks not yet delivered", "type": "gauge",
                                  "data": [{"labels": {}, "value": pending}]},
            "contacts_total": {"help": "Contacts known", "type": "gauge", "data": [
                {"labels": {}, "value": self.store.query_one(self.db, "SELECT COUNT(*) FROM contacts")[0]}]},
        }}}

    # webhooks --------------------------------------------------------------------------------------
    def _deliver_callbacks(self):
        """POST pending callbacks to the webhook; only loopback URLs are ever contacted by the emulator."""
        if not self.config.deliver_webhooks or self.registration() is None:
            return
        url = self.app_settings().get("webhooks", {}).get("url")
        if not url or not is_loopback_url(url):
            return
        rows = self.store.query(self.db, "SELECT id, payload FROM callbacks WHERE delivered_at IS NULL "
                                         "ORDER BY id LIMIT 100")
        for callback_id, payload in rows:
            request = urllib.request.Request(url, data=payload.encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    response.read()
                self.store.execute(self.db, "UPDATE callbacks SET delivered_at = %s, attempts = attempts + 1 "
                                            "WHERE id = %s", (now_ms(), callback_id))
            except OSError:
                self.store.execute(self.db, "UPDATE callbacks SET attempts = attempts + 1 WHERE id = %s",
                                   (callback_id,))
                return
