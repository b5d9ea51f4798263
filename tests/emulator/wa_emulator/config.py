# Copyright: wabiz.migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Settings read from the environment, with the variable names of the vendor's images.

Variables prefixed ``WA_EMU_`` exist only in the emulator: they make configurable what the reference marks
as unknown or uncertain (database names, token lifetime, error codes of the coreapp), see README.md.
"""

import os
import re
import socket


class ConfigError(Exception):
    pass


def _flag(name, default="0"):
    value = os.environ.get(name, default)
    if value not in ("0", "1"):
        # The web app throws on anything else (reference: SRC Util for WA_APP_MULTICONNECT).
        raise ConfigError("%s must be \"0\" or \"1\", got %r" % (name, value))
    return value == "1"


def _int(name, default):
    raw = os.environ.get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ConfigError("%s must be an integer, got %r" % (name, raw)) from None


def container_id():
    """The container id as Docker shows it; with host networking the hostname is the host's, not the id."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
            # ".../containers/<id>/hostname": the path is relative to the data root's mount, which is
            # /var/lib/docker itself when the engine runs inside another container.
            match = re.search(r"/containers/([0-9a-f]{64})/", mounts.read())
            if match:
                return match.group(1)[:12]
    except OSError:
        pass
    return os.environ.get("WA_EMU_CONTAINER_ID", "%x" % os.getpid())


class Config:
    def __init__(self):
        env = os.environ
        self.role = env.get("WA_EMU_ROLE", "coreapp")
        if self.role not in ("web", "coreapp"):
            raise ConfigError("WA_EMU_ROLE must be web or coreapp, got %r" % self.role)
        self.master = _flag("WA_MASTER_NODE")
        self.multiconnect = _flag("WA_APP_MULTICONNECT")
        self.sandbox = _flag("WA_MODE_SANDBOX")

        self.db_engine = env.get("WA_DB_ENGINE", "MYSQL").upper()
        if self.db_engine not in ("MYSQL", "PGSQL"):
            raise ConfigError("WA_DB_ENGINE must be MYSQL or PGSQL (SQLITE is not emulated), got %r"
                              % self.db_engine)
        self.db_host = env.get("WA_DB_HOSTNAME", "127.0.0.1").strip("[]")
        self.db_port = _int("WA_DB_PORT", 3306)
        self.db_user = env.get("WA_DB_USERNAME", "root")
        self.db_password = env.get("WA_DB_PASSWORD", "")
        self.db_prefix = env.get("WA_DB_NAME_PREFIX", "")
        # TLS to MySQL, as the web app's PDO options take it (the reference: MySQL only; PostgreSQL clients take
        # libpq's own PGSSLMODE, PGSSLROOTCERT, ... from the environment). Without them, no TLS at all.
        self.db_ssl = {"ca": env.get("WA_DB_SSL_CA") or None, "cert": env.get("WA_DB_SSL_CERT") or None,
                       "key": env.get("WA_DB_SSL_KEY") or None,
                       "verify": env.get("WA_DB_SSL_VERIFY", "0").lower() in ("1", "true", "yes")}

        listen = env.get("WA_TCP_LISTEN_ADDRESS", "127.0.0.1")
        self.listen_address = "0.0.0.0" if listen == "any" else listen
        self.web_port = _int("WEBAPP_EXTERNAL_PORTS", 443)
        self.web_servername = env.get("WA_WEB_SERVERNAME", "localhost")
        self.jwt_key = env.get("WA_WEB_JWT_CRYPTO_KEY", "")
        self.export_dir = env.get("WA_EMU_EXPORT_DIR", "/export")

        self.core_hostname = env.get("COREAPP_HOSTNAME", "127.0.0.1")
        ports = env.get("COREAPP_EXTERNAL_PORTS", "6250,6251,6252,6253").replace("-", ",").split(",")
        self.core_base_port = int(ports[0])
        self.node_id = "%s:%s" % (socket.gethostname(), container_id())
        # How the cluster table names this node; the lab passes the compose service name.
        self.service_name = env.get("WA_EMU_SERVICE", "%s:%d" % (self.core_hostname, self.core_base_port))

        self.web_db_name = self.db_prefix + env.get("WA_EMU_WEB_DB_NAME", "waweb")
        self.core_db_name = self.db_prefix + env.get("WA_EMU_CORE_DB_NAME", "wacore")
        self.message_db_pattern = self.db_prefix + env.get("WA_EMU_MESSAGE_DB_PATTERN", "wamessages_{shard}")

        self.token_lifetime = _int("WA_EMU_TOKEN_LIFETIME_SECONDS", 7 * 24 * 3600)
        self.login_failure_limit = _int("WA_EMU_LOGIN_FAILURE_LIMIT", 10)
        self.login_failure_window = _int("WA_EMU_LOGIN_FAILURE_WINDOW", 300)
        self.verify_code = env.get("WA_EMU_VERIFY_CODE", "000000")
        self.restore_error_code = _int("WA_EMU_RESTORE_ERROR_CODE", 1009)
        self.twostep_pin_error_code = _int("WA_EMU_TWOSTEP_PIN_ERROR_CODE", 1009)
        self.heartbeat_seconds = float(env.get("WA_EMU_HEARTBEAT_SECONDS", "2"))
        self.node_expiry_seconds = float(env.get("WA_EMU_NODE_EXPIRY_SECONDS", "20"))
        self.deliver_webhooks = _flag("WA_EMU_DELIVER_WEBHOOKS", "1")
        # Fault injection for the tests: while this file exists, the web app answers every request with
        # 1016 "System overloaded" (HTTP 503), as the real one does when its coreapps cannot keep up.
        self.overload_file = env.get("WA_EMU_OVERLOAD_FILE", "")

    def message_db(self, shard):
        return self.message_db_pattern.format(shard=shard)
