# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The web app (waweb): HTTPS API, users and tokens in ``<prefix>waweb``, everything else forwarded."""

import base64
import json
import os
import re
import ssl
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import errors, wire
from .cluster import Cluster
from .core import MASTER_ONLY
from .crypto import check_password, format_expiry, hash_password, make_jwt, read_jwt, self_signed
from .errors import ApiError
from .store import WEB_TABLES, Store

DEFAULT_ADMIN_PASSWORD = "secret"
SPECIALS = "!\"#$%&'()*+,-./:;<=>?@[]^_`{|}~"
MESSAGE_TYPES = ("audio", "document", "hsm", "image", "location", "text", "video", "contacts", "template")
COMPLEXITY = ("Password doesn't meet complexity requirements: length between 8 and 64 characters, at least 1 each "
              "of the following: lower case letter, upper case letter, digit and special character "
              + SPECIALS)
SANDBOX = "Certain operations are not allowed in sandbox mode"


def missing(name):
    return ApiError(errors.PARAMETER_ABSENT, "Missing mandatory parameter '%s'" % name)


def require(body, *names):
    for name in names:
        if name not in body or body[name] is None:
            raise missing(name)


def complex_enough(password):
    return (isinstance(password, str) and 8 <= len(password) <= 64 and re.search(r"\d", password)
            and re.search(r"[a-z]", password) and re.search(r"[A-Z]", password)
            and any(c in SPECIALS for c in password))


def unauthorized(details):
    return ApiError(errors.ACCESS_DENIED, details, status=401)


class WebApp:
    def __init__(self, config):
        self.config = config
        self.store = Store.from_config(config)
        self.cluster = Cluster(config, self.store)
        self.db = config.web_db_name
        self.jwt_key = config.jwt_key.encode()
        self.login_failures = {}
        self.lock = threading.Lock()
        self.server = None
        self.routes = [
            ("POST", r"/v1/users/login", self.login, None),
            ("POST", r"/v1/users/logout", self.logout, "user"),
            ("POST", r"/v1/users", self.create_user, "admin"),
            ("GET", r"/v1/users/(?P<name>[^/]+)", self.get_user, "user"),
            ("PUT", r"/v1/users/(?P<name>[^/]+)", self.update_user, "user"),
            ("DELETE", r"/v1/users/(?P<name>[^/]+)", self.delete_user, "admin"),
            ("POST", r"/v1/settings/backup", self.backup, "admin"),
            ("POST", r"/v1/settings/restore", self.restore, "admin"),
            ("POST", r"/v1/settings/account/two-step", self.set_two_step, "admin"),
            ("DELETE", r"/v1/settings/account/two-step", self.unset_two_step, "admin"),
            ("GET", r"/v1/settings/application", self.get_settings, "admin"),
            ("PATCH", r"/v1/settings/application", self.patch_settings, "admin"),
            ("DELETE", r"/v1/settings/application", self.delete_settings, "admin"),
            ("GET", r"/v1/health", self.health, "user"),
            ("POST", r"/v1/account", self.account, "admin"),
            ("POST", r"/v1/account/verify", self.verify, "admin"),
            ("GET", r"/v1/account/shards", self.get_shards, "admin"),
            ("POST", r"/v1/account/shards", self.set_shards, "admin"),
            ("POST", r"/v1/messages", self.send_message, "user"),
            ("POST", r"/v1/contacts", self.contacts, "user"),
            ("GET", r"/v1/stats/db", self.db_stats, "user"),
        ]

    # start-up ----------------------------------------------------------------------------------
    def start(self):
        deadline = time.time() + 180
        while True:
            try:
                self.store.ensure_database(self.db, WEB_TABLES)
                break
            except Exception as exc:  # pylint: disable=broad-except
                if time.time() > deadline:
                    raise
                print("waiting for the database: %s" % exc, flush=True)
                self.store.drop_cached(None)
                time.sleep(1)
        if not self.store.query(self.db, "SELECT id FROM users WHERE username = 'admin'"):
            try:
                self.store.execute(self.db, "INSERT INTO users (username, password, roles) VALUES (%s, %s, %s)",
                                   ("admin", hash_password(DEFAULT_ADMIN_PASSWORD), "ROLE_ADMIN"))
            except Exception:  # pylint: disable=broad-except
                pass  # created by a concurrent start
        if not self.jwt_key:
            self.jwt_key = self._stored_secret("jwt", "jwt_key", lambda: (os.urandom(32).hex(), "")).encode()
        cert = self._stored_secret(self.config.web_servername, "self_signed", self._new_certificate,
                                   with_ca=True)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "server.pem")
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w", encoding="utf-8") as handle:
                handle.write(cert[0])
            context.load_cert_chain(path)
        self._export_ca(cert[1])
        self.server = ThreadingHTTPServer((self.config.listen_address, self.config.web_port), self._handler_class())
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        print("web app listening on https://%s:%d" % (self.config.listen_address, self.config.web_port), flush=True)

    def _new_certificate(self):
        ca_pem, cert_pem, key_pem = self_signed(self.config.web_servername)
        return cert_pem + key_pem, ca_pem

    def _stored_secret(self, hostname, cert_type, make, with_ca=False):
        """A row of the certs table, created once; kept in the database so a restore carries it."""
        sql = "SELECT cert, ca_cert FROM certs WHERE hostname = %s AND cert_type = %s"
        row = self.store.query_one(self.db, sql, (hostname, cert_type))
        if row is None:
            cert, ca_cert = make()
            try:
                self.store.execute(self.db, "INSERT INTO certs (hostname, cert, ca_cert, cert_type) "
                                            "VALUES (%s, %s, %s, %s)", (hostname, cert, ca_cert, cert_type))
            except Exception:  # pylint: disable=broad-except
                pass
            row = self.store.query_one(self.db, sql, (hostname, cert_type))
        return row if with_ca else row[0]

    def _export_ca(self, ca_pem):
        if os.path.isdir(self.config.export_dir):
            path = os.path.join(self.config.export_dir, "ca.pem")
            with open(path + ".tmp", "w", encoding="utf-8") as handle:
                handle.write(ca_pem)
            os.replace(path + ".tmp", path)

    def serve_forever(self):
        self.server.serve_forever(poll_interval=wire.SHUTDOWN_POLL)

    def stop(self):
        if self.server:
            self.server.shutdown()

    # HTTP plumbing -----------------------------------------------------------------------------
    def _handler_class(self):
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # pylint: disable=redefined-builtin
                print("%s %s" % (self.address_string(), format % args), flush=True)

            def _handle(self):
                status, body = app.handle(self.command, self.path, self.headers, self._read_body(),
                                          self.client_address[0])
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _read_body(self):
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        return Handler

    def handle(self, method, raw_path, headers, raw_body, client_ip):
        path = urllib.parse.urlsplit(raw_path).path.rstrip("/")
        try:
            if self.config.overload_file and os.path.exists(self.config.overload_file):
                raise ApiError(errors.OVERLOADED, "System overloaded")
            for route_method, pattern, handler, access in self.routes:
                match = re.fullmatch(pattern, path)
                if match and route_method == method:
                    break
            else:
                raise ApiError(errors.NOT_FOUND, "Unknown path %s %s" % (method, path))
            try:
                body = json.loads(raw_body) if raw_body.strip() else {}
            except ValueError:
                raise ApiError(1025, "Request body is not valid JSON") from None
            if not isinstance(body, dict):
                raise ApiError(1025, "Request body must be a JSON object")
            request = {"body": body, "headers": headers, "ip": client_ip, "args": match.groupdict()}
            if access:
                request["user"] = self.authenticate(headers, access)
            status, payload = handler(request)
            return status, errors.envelope(payload)
        except ApiError as exc:
            return exc.status, errors.envelope(errors=exc.to_errors())
        except Exception as exc:  # pylint: disable=broad-except
            print("internal error: %r" % exc, flush=True)
            self.store.drop_cached(self.db)
            return 500, errors.envelope(errors=[errors.error_object(errors.INTERNAL_ERROR, str(exc))])

    # auth --------------------------------------------------------------------------------------
    def authenticate(self, headers, access):
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise unauthorized("Missing bearer token")
        token = auth[7:].strip()
        claims = read_jwt(self.jwt_key, token)
        if claims is None:
            raise unauthorized("Invalid or expired token")
        if not self.store.query(self.db, "SELECT username FROM tokens WHERE token = %s", (token,)):
            raise unauthorized("Token was revoked or is unknown to this client")
        user = self.store.query_one(self.db, "SELECT username, roles FROM users WHERE username = %s",
                                    (claims["user"],))
        if user is None:
            raise unauthorized("User no longer exists")
        if access == "admin" and "ROLE_ADMIN" not in user[1]:
            raise ApiError(errors.ACCESS_DENIED, "Admin role required")
        return {"username": user[0], "admin": "ROLE_ADMIN" in user[1], "token": token}

    def _note_failure(self, ip):
        with self.lock:
            self.login_failures.setdefault(ip, []).append(time.time())

    def _rate_limited(self, ip):
        window = time.time() - self.config.login_failure_window
        with self.lock:
            recent = [t for t in self.login_failures.get(ip, []) if t > window]
            self.login_failures[ip] = recent
            return len(recent) >= self.config.login_failure_limit

    def login(self, request):
        ip, auth = request["ip"], request["headers"].get("Authorization", "")
        if self._rate_limited(ip):
            raise ApiError(errors.TOO_MANY_REQUESTS, "Rate limiting exceeded on bad login attempts")
        try:
            username, password = base64.b64decode(auth[6:]).decode().split(":", 1)
            if not auth.startswith("Basic "):
                raise ValueError(auth)
        except (ValueError, UnicodeDecodeError):
            raise unauthorized("Missing or malformed basic credentials") from None
        row = self.store.query_one(self.db, "SELECT password FROM users WHERE username = %s", (username,))
        if row is None or not check_password(password, row[0]):
            self._note_failure(ip)
            raise unauthorized("Invalid username or password")
        new_password = request["body"].get("new_password")
        if new_password is not None:
            if not complex_enough(new_password):
                raise ApiError(errors.PARAMETER_INVALID, COMPLEXITY)
            self.store.execute(self.db, "UPDATE users SET password = %s WHERE username = %s",
                               (hash_password(new_password), username))
        elif username == "admin" and password == DEFAULT_ADMIN_PASSWORD:
            raise ApiError(errors.PASSWORD_CHANGE_REQUIRED, "Password must be changed", status=401)
        token, expires = make_jwt(self.jwt_key, username, self.config.token_lifetime)
        self.store.execute(self.db, "INSERT INTO tokens (token, username) VALUES (%s, %s)", (token, username))
        return 200, {"users": [{"token": token, "expires_after": format_expiry(expires)}]}

    def logout(self, request):
        self.store.execute(self.db, "DELETE FROM tokens WHERE token = %s", (request["user"]["token"],))
        return 200, {}

    # users -------------------------------------------------------------------------------------
    def create_user(self, request):
        body = request["body"]
        require(body, "username", "password")
        username, password = body["username"], body["password"]
        if (not isinstance(username, str) or not 4 <= len(username) <= 32
                or urllib.parse.quote_plus(username) != username):
            raise ApiError(errors.PARAMETER_INVALID, "Parameter 'username' has invalid value '%s'" % username)
        if not complex_enough(password):
            raise ApiError(errors.PARAMETER_INVALID, COMPLEXITY)
        try:
            self.store.execute(self.db, "INSERT INTO users (username, password, roles) VALUES (%s, %s, %s)",
                               (username, hash_password(password), "ROLE_USER"))
        except Exception:  # pylint: disable=broad-except
            raise ApiError(errors.INTERNAL_ERROR, "Unable to create user. Already exist?") from None
        return 201, {"users": [{"username": username}]}

    def _user_exists(self, name):
        if not self.store.query(self.db, "SELECT id FROM users WHERE username = %s", (name,)):
            raise ApiError(errors.NOT_FOUND, "User does not exist")

    def get_user(self, request):
        name, user = request["args"]["name"], request["user"]
        if not user["admin"] and user["username"] != name:
            raise ApiError(errors.ACCESS_DENIED, "Regular user cannot read other user information")
        self._user_exists(name)
        return 200, {"users": [{"username": name}]}

    def update_user(self, request):
        name, user = request["args"]["name"], request["user"]
        if not user["admin"] and user["username"] != name:
            raise ApiError(errors.ACCESS_DENIED, "Regular user cannot modify other user")
        require(request["body"], "password")
        if not complex_enough(request["body"]["password"]):
            raise ApiError(errors.PARAMETER_INVALID, COMPLEXITY)
        self._user_exists(name)
        self.store.execute(self.db, "UPDATE users SET password = %s WHERE username = %s",
                           (hash_password(request["body"]["password"]), name))
        return 200, {"users": [{"username": name}]}

    def delete_user(self, request):
        name = request["args"]["name"]
        if name == "admin":
            raise ApiError(errors.PARAMETER_INVALID, "Admin user cannot be deleted")
        self._user_exists(name)
        self.store.execute(self.db, "DELETE FROM tokens WHERE username = %s", (name,))
        self.store.execute(self.db, "DELETE FROM users WHERE username = %s", (name,))
        return 200, {"users": [{"username": name}]}

    # forwarding to the coreapps ----------------------------------------------------------------
    def _target(self, command, shard=None):
        if not self.store.database_exists(self.config.core_db_name):
            raise ApiError(errors.SERVICE_NOT_READY, "No coreapp has initialised the database yet")
        nodes = [n for n in self.cluster.nodes() if self.cluster.is_up(n)]
        if not self.config.multiconnect:
            node = next((n for n in nodes if n["role"] == "coreapp"), None)
        elif shard is not None:
            owner = self.cluster.shard_owner(shard)
            node = next((n for n in nodes if n["node_id"] == owner), None)
        elif command in MASTER_ONLY:
            primary = self.cluster.primary_id()
            node = next((n for n in nodes if n["node_id"] == primary), None)
        else:
            node = next((n for n in nodes if n["role"] == "coreapp"), None)
        if node is None:
            raise ApiError(errors.SERVICE_NOT_READY, "No coreapp node is available for %s" % command)
        return node

    def forward(self, command, args=None, kind="control", shard=None):
        node = self._target(command, shard)
        try:
            reply = wire.call(node["host"], node["base_port"] + wire.PORT_OFFSETS[kind], command, args)
        except wire.NodeUnreachable as exc:
            raise ApiError(errors.SERVICE_NOT_READY, "Coreapp %s is not reachable: %s" % (node["node_id"], exc)) \
                from None
        if reply.get("errors"):
            raise ApiError.from_errors(reply["errors"])
        return reply["payload"]

    def _sandbox_check(self):
        if self.config.sandbox:
            raise ApiError(errors.ACCESS_DENIED, SANDBOX)

    # settings, backup, two-step ----------------------------------------------------------------
    def backup(self, request):
        self._sandbox_check()
        require(request["body"], "password")
        password = request["body"]["password"]
        if not isinstance(password, str) or not password:
            raise ApiError(errors.PARAMETER_INVALID, "Parameter 'password' has invalid value ''")
        return 200, self.forward("export", {"password": password})

    def restore(self, request):
        self._sandbox_check()
        body = request["body"]
        require(body, "password", "data")
        if not isinstance(body["password"], str) or not isinstance(body["data"], str):
            raise ApiError(errors.PARAMETER_INVALID, "Parameters 'password' and 'data' must be strings")
        self.forward("import", {"password": body["password"], "data": body["data"]})
        return 200, {}

    def set_two_step(self, request):
        self._sandbox_check()
        require(request["body"], "pin")
        pin = request["body"]["pin"]
        if pin == "":
            raise ApiError(errors.PARAMETER_INVALID, "Pin must not be empty")
        self.forward("set_twostep", {"pin": pin})
        return 200, {}

    def unset_two_step(self, _request):
        self._sandbox_check()
        self.forward("unset_twostep")
        return 200, {}

    def get_settings(self, _request):
        return 200, self.forward("get_settings")

    def patch_settings(self, request):
        self.forward("set_settings", request["body"])
        return 200, {}

    def delete_settings(self, _request):
        self.forward("delete_settings")
        return 200, {}

    # registration and shards -------------------------------------------------------------------
    def account(self, request):
        body = request["body"]
        require(body, "cc", "phone_number", "method", "cert")
        if body["method"] not in ("sms", "voice"):
            raise ApiError(errors.PARAMETER_INVALID, "Parameter 'method' has invalid value '%s'" % body["method"])
        for name in ("cc", "phone_number"):
            if not re.fullmatch(r"\d{1,15}", str(body[name])):
                raise ApiError(errors.PARAMETER_INVALID, "Parameter '%s' has invalid value '%s'" % (name, body[name]))
        reply = self.forward("code_request", body)
        if reply.pop("registered"):
            return 201, {}
        return 202, reply

    def verify(self, request):
        require(request["body"], "code")
        self.forward("register", {"code": request["body"]["code"]})
        return 201, {}

    def get_shards(self, _request):
        return 200, self.forward("get_shards")

    def set_shards(self, request):
        body = request["body"]
        require(body, "cc", "phone_number", "shards")
        self.forward("set_shards", body)
        return 201, {}

    # messages, contacts, stats, health ---------------------------------------------------------
    def send_message(self, request):
        body = request["body"]
        require(body, "to")
        kind = body.get("type", "text")
        if kind not in MESSAGE_TYPES:
            raise ApiError(errors.PARAMETER_INVALID, "Parameter 'type' has invalid value '%s'" % kind)
        if body.get("recipient_type", "individual") not in ("individual", "group"):
            raise ApiError(errors.PARAMETER_INVALID,
                           "Parameter 'recipient_type' has invalid value '%s'" % body["recipient_type"])
        if "preview_url" in body and not isinstance(body["preview_url"], bool):
            raise ApiError(errors.PARAMETER_INVALID, "Parameter 'preview_url' has invalid value '%s'"
                           % body["preview_url"])
        if "ttl" in body and body["ttl"] in ("", None):
            raise ApiError(errors.PARAMETER_INVALID, "Empty TTL value not allowed")
        content = body.get(kind)
        if not isinstance(content, dict):
            raise ApiError(errors.PARAMETER_ABSENT, "Parameter '%s' is mandatory for type '%s'" % (kind, kind))
        if kind == "text":
            if not isinstance(content.get("body"), str) or content["body"] == "":
                raise ApiError(errors.PARAMETER_ABSENT, "Missing mandatory parameter 'text.body'")
            if len(content["body"]) > 4096:
                raise ApiError(1001, "Text body exceeds 4096 characters")
        to = re.sub(r"\D", "", str(body["to"]))
        if not to:
            raise ApiError(errors.PARAMETER_INVALID, "Parameter 'to' has invalid value '%s'" % body["to"])
        shard = Cluster.shard_of(to, self.cluster.shards()) if self.config.multiconnect else 0
        reply = self.forward("message", {"to": to, "type": kind, "body": content, "shard": shard}, kind="message",
                             shard=shard if self.config.multiconnect else None)
        return 201, {"messages": reply["messages"]}

    def contacts(self, request):
        body = request["body"]
        require(body, "contacts")
        if not isinstance(body["contacts"], list) or not body["contacts"]:
            raise ApiError(errors.PARAMETER_INVALID, "Parameter 'contacts' has invalid value '%s'" % body["contacts"])
        if body.get("blocking", "wait") not in ("wait", "no_wait"):
            raise ApiError(errors.PARAMETER_INVALID, "Parameter 'blocking' has invalid value '%s'" % body["blocking"])
        reply = self.forward("contacts", {"contacts": body["contacts"]}, kind="contacts")
        now = int(time.time())
        for contact in reply["contacts"]:
            if contact["status"] == "valid":
                self.store.upsert(self.db, "contacts", ["wa_id"], {"wa_id": contact["wa_id"], "name": "",
                                                                   "joined": True, "timestamp": now})
        return 200, reply

    def db_stats(self, _request):
        stats = self.forward("db_stats")["stats"]["db"]
        if self.config.multiconnect:
            stats = {self.cluster.primary_id(): stats}
        return 200, {"stats": {"db": stats}}

    def health(self, _request):
        if not self.config.multiconnect:
            status = self._node_health(self._target("health"))
            if "errors" in status:
                raise ApiError.from_errors(status["errors"])
            return 200, {"health": status}
        if not self.store.database_exists(self.config.core_db_name):
            raise ApiError(errors.SERVICE_NOT_READY, "No coreapp has initialised the database yet")
        return 200, {"health": {node["node_id"]: self._node_health(node) for node in self.cluster.nodes()}}

    def _node_health(self, node):
        if not self.cluster.is_up(node):
            return {"errors": [errors.error_object(errors.SERVICE_NOT_READY,
                                                   "Node %s (%s) is not running" % (node["node_id"], node["service"]))]}
        try:
            reply = wire.call(node["host"], node["base_port"] + wire.PORT_OFFSETS["healthcheck"], "health", timeout=5)
        except wire.NodeUnreachable as exc:
            return {"errors": [errors.error_object(errors.SERVICE_NOT_READY, "Node is not reachable: %s" % exc)]}
        if reply.get("errors"):
            return {"errors": reply["errors"]}
        status = reply["payload"]
        status.pop("node_id", None)
        return status
